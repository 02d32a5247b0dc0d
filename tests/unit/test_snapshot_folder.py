"""The folder protocol of index snapshots: whole snapshots only, never an older state over a
newer one, the two newest kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from memory import snapshot_folder, tm_snapshot


def _write(root: Path, name: str, payload: str = "x") -> None:
    with snapshot_folder.staged(root, name) as staging:
        (staging.path / "data").write_text(payload)
        staging.manifest = {"payload": payload}


def test_a_published_snapshot_is_named_in_current_with_its_manifest(tmp_path: Path):
    _write(tmp_path, "snapshot-1", "one")
    assert snapshot_folder.current_name(tmp_path) is None  # written, not yet published

    assert snapshot_folder.publish(tmp_path, "snapshot-1", newer=lambda _published: False)

    assert snapshot_folder.current_name(tmp_path) == "snapshot-1"
    assert snapshot_folder.manifest_data(tmp_path, "snapshot-1") == {"payload": "one"}


def test_a_build_that_fails_leaves_no_folder_behind(tmp_path: Path):
    with pytest.raises(RuntimeError), snapshot_folder.staged(tmp_path, "snapshot-1") as staging:
        (staging.path / "data").write_text("half")
        raise RuntimeError("disk full")

    assert list(tmp_path.iterdir()) == []


def test_an_older_state_does_not_replace_a_newer_published_one(tmp_path: Path):
    _write(tmp_path, "snapshot-2")
    snapshot_folder.publish(tmp_path, "snapshot-2", newer=lambda _published: False)
    _write(tmp_path, "snapshot-1")

    assert not snapshot_folder.publish(tmp_path, "snapshot-1", newer=lambda p: p == "snapshot-2")

    assert snapshot_folder.current_name(tmp_path) == "snapshot-2"


def test_the_two_newest_snapshots_are_kept(tmp_path: Path):
    for number in range(1, 5):
        _write(tmp_path, f"snapshot-{number}")
        snapshot_folder.publish(tmp_path, f"snapshot-{number}", newer=lambda _published: False)

    kept = sorted(p.name for p in tmp_path.glob("snapshot-*"))
    assert kept == ["snapshot-3", "snapshot-4"]


@pytest.mark.parametrize(
    ("first", "second", "published"),
    [
        ((5, 0), (4, 0), (5, 0)),  # a slower build of an older revision
        ((5, 0), (6, 0), (6, 0)),  # a newer revision
        ((9, 0), (2, 1), (2, 1)),  # a new epoch (the memory was rebuilt) wins over any revision
    ],
)
def test_translation_memory_snapshots_compare_epoch_then_revision(
    tmp_path: Path, first: tuple[int, int], second: tuple[int, int], published: tuple[int, int]
):
    for revision, epoch in (first, second):
        tm_snapshot.write_snapshot(tmp_path, {}, revision=revision, epoch=epoch)

    name = tm_snapshot.current_name(tmp_path)
    assert name is not None
    manifest = tm_snapshot.read_manifest(tmp_path, name)
    assert manifest is not None and (manifest.revision, manifest.epoch) == published
