"""Persisted snapshots of the semantic segment index: the memory's distinct source sentences,
their hashes and vectors, as mapped files.

Layout of the folder (`semantic/` under the fuzzy index's INDEX_DIR, `tm_service.jobs`):

    CURRENT                              name of the snapshot to use (replaced atomically)
    .lock                                held while CURRENT is compared and replaced
    snapshot-000000001234-0-000000000815-1a2b3c/   TM revision 1234, epoch 0, embedding
                                         cache up to id 815
        manifest.json                    what it holds (model, revision, texts per language)
        lang-3/                          the sentences of source language id 3 with a vector,
                                         sorted by text hash:
            text_hashes.npy              SHA-256 (hex) of each plain text: its vector's cache key
            form_hashes.npy              `TranslationUnit.source_hash` of each
            form_order.npy, forms_sorted.npy   rows in the order of their form hashes, and
                                         those form hashes (a form's rows by bisection)
            vectors/…                    `matchers.mapped_vectors` (faiss, mapped)
        waiting/                         sentences that had no vector yet: language_ids,
                                         text_hashes, form_hashes

A process maps it (`open_snapshot`: milliseconds, shared pages) and keeps in memory only what
changed since: `memory.services.semantic.SemanticMemory`. Written, published and pruned by
`memory.snapshot_folder`: a reader sees a whole snapshot or the previous one.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from matchers import mapped_vectors
from matchers.mapped_vectors import MappedVectorIndex
from memory import snapshot_folder
from memory.snapshot_folder import current_name

log = logging.getLogger(__name__)

FORMAT = 1


@dataclass(frozen=True)
class SemanticSnapshotManifest:
    """What a snapshot holds: the distinct source sentences of every unit of TM revision ≤
    `revision` in `epoch` of memory `memory_id`, with the `model`'s vectors cached up to
    `max_cache_id`; `languages` maps a source language id to its sentences with a vector."""

    model: str
    revision: int
    epoch: int
    max_cache_id: int
    texts: int
    waiting: int
    dim: int
    languages: dict[str, int] = field(default_factory=dict)
    memory_id: str | None = None
    built_at: float = 0.0
    build_seconds: float = 0.0
    bytes: int = 0
    format: int = FORMAT


@dataclass(frozen=True)
class SnapshotTexts:
    """The sentences of one source language in a snapshot, all mapped: row i has text hash
    `text_hashes[i]` (sorted), form hash `form_hashes[i]` and vector row i of `vectors`."""

    text_hashes: np.ndarray  # S64, sorted
    form_hashes: np.ndarray  # S64
    form_order: np.ndarray  # int64: rows sorted by form hash
    forms_sorted: np.ndarray  # S64: form_hashes[form_order]
    vectors: MappedVectorIndex

    def __len__(self) -> int:
        return len(self.text_hashes)

    def row_of_text(self, text_hash: str) -> int | None:
        wanted = text_hash.encode("ascii")
        row = int(np.searchsorted(self.text_hashes, wanted))
        return row if row < len(self.text_hashes) and self.text_hashes[row] == wanted else None

    def rows_of_form(self, form_hash: str) -> list[int]:
        wanted = form_hash.encode("ascii")
        start = int(np.searchsorted(self.forms_sorted, wanted, side="left"))
        end = int(np.searchsorted(self.forms_sorted, wanted, side="right"))
        return self.form_order[start:end].tolist()


@dataclass
class SemanticSnapshot:
    """An opened snapshot: its manifest, the sentences per source language id, and the
    sentences without a vector when it was built (language id, text hash, form hash)."""

    name: str
    manifest: SemanticSnapshotManifest
    languages: dict[int, SnapshotTexts]
    waiting: list[tuple[int, str, str]]


def write_snapshot(
    root: Path,
    languages: Mapping[int, tuple[np.ndarray, np.ndarray, np.ndarray]],
    waiting: Iterable[tuple[int, str, str]],
    *,
    model: str,
    revision: int,
    epoch: int,
    max_cache_id: int,
    memory_id: str | None = None,
    build_seconds: float = 0.0,
) -> SemanticSnapshotManifest:
    """Store the sentences (`languages`: source language id → (text hashes, form hashes,
    vectors), any order) and those `waiting` for a vector as a new snapshot; publish it."""
    name = f"snapshot-{revision:012d}-{epoch}-{max_cache_id:012d}-{uuid.uuid4().hex[:8]}"
    waiting = sorted(waiting)
    dim = 0
    with snapshot_folder.staged(root, name) as staging:
        total = 0
        counts = {}
        for language_id, (text_hashes, form_hashes, vectors) in sorted(languages.items()):
            if not len(text_hashes):
                continue
            order = np.argsort(text_hashes, kind="stable")
            folder = staging.path / f"lang-{language_id}"
            folder.mkdir()
            forms = np.asarray(form_hashes, dtype="S64")[order]
            total += _save(folder, "text_hashes", np.asarray(text_hashes, dtype="S64")[order])
            total += _save(folder, "form_hashes", forms)
            form_order = np.argsort(forms, kind="stable")
            total += _save(folder, "form_order", form_order)
            total += _save(folder, "forms_sorted", forms[form_order])
            # In the order of their text hashes, as `SemanticMemory` adds a first load: the
            # calibration samples by row, so it gives the same z as an index built in process.
            total += mapped_vectors.write(vectors[order], folder / "vectors")
            _fsync_all(folder / "vectors")
            snapshot_folder.fsync_directory(folder)
            counts[str(language_id)] = len(order)
            dim = int(vectors.shape[1])
        folder = staging.path / "waiting"
        folder.mkdir()
        total += _save(folder, "language_ids", np.array([w[0] for w in waiting], dtype=np.int64))
        total += _save(folder, "text_hashes", np.array([w[1] for w in waiting], dtype="S64"))
        total += _save(folder, "form_hashes", np.array([w[2] for w in waiting], dtype="S64"))
        snapshot_folder.fsync_directory(folder)
        manifest = SemanticSnapshotManifest(
            model=model,
            revision=revision,
            epoch=epoch,
            max_cache_id=max_cache_id,
            texts=sum(counts.values()),
            waiting=len(waiting),
            dim=dim,
            languages=counts,
            memory_id=memory_id,
            built_at=time.time(),
            build_seconds=round(build_seconds, 3),
            bytes=total,
        )
        staging.manifest = asdict(manifest)

    def newer(published: str) -> bool:
        other = read_manifest(root, published)
        return (
            other is not None
            and other.model == model
            and other.memory_id == memory_id
            and (other.epoch, other.revision, other.max_cache_id)
            > (manifest.epoch, manifest.revision, manifest.max_cache_id)
        )

    snapshot_folder.publish(root, name, newer)
    return manifest


def read_manifest(root: Path, name: str) -> SemanticSnapshotManifest | None:
    """The manifest of snapshot `name`, or None when it is gone, unreadable or of another
    format."""
    return snapshot_folder.read_manifest(root, name, SemanticSnapshotManifest, (FORMAT,))


def open_snapshot(root: Path, name: str) -> SemanticSnapshot | None:
    """Map snapshot `name` (its arrays stay on disk, shared by every process); None when it is
    gone or not usable."""
    manifest = read_manifest(root, name)
    if manifest is None:
        return None
    path = root / name
    try:
        languages = {
            int(language_id): SnapshotTexts(
                text_hashes=_load(path / f"lang-{language_id}" / "text_hashes.npy"),
                form_hashes=_load(path / f"lang-{language_id}" / "form_hashes.npy"),
                form_order=_load(path / f"lang-{language_id}" / "form_order.npy"),
                forms_sorted=_load(path / f"lang-{language_id}" / "forms_sorted.npy"),
                vectors=MappedVectorIndex.open(path / f"lang-{language_id}" / "vectors"),
            )
            for language_id in manifest.languages
        }
        waiting = list(
            zip(
                _load(path / "waiting" / "language_ids.npy", mapped=False).tolist(),
                (h.decode("ascii") for h in _load(path / "waiting" / "text_hashes.npy").tolist()),
                (h.decode("ascii") for h in _load(path / "waiting" / "form_hashes.npy").tolist()),
                strict=True,
            )
        )
    except FileNotFoundError:
        return None  # pruned between reading CURRENT and opening it: the next check retries
    except (ValueError, RuntimeError) as error:
        log.warning("semantic snapshot %s not usable: %s", name, error)
        return None
    return SemanticSnapshot(name, manifest, languages, waiting)


def _save(folder: Path, name: str, array: np.ndarray) -> int:
    with (folder / f"{name}.npy").open("wb") as out:
        np.save(out, np.ascontiguousarray(array), allow_pickle=False)
        out.flush()
        os.fsync(out.fileno())
    return int(array.nbytes)


def _fsync_all(folder: Path) -> None:
    for path in folder.iterdir():
        with path.open("rb+") as handle:
            os.fsync(handle.fileno())
    snapshot_folder.fsync_directory(folder)


def _load(path: Path, *, mapped: bool = True) -> np.ndarray:
    # np.load cannot map an empty file region: small arrays are read.
    mode: Literal["r"] | None = "r" if mapped and path.stat().st_size > 4096 else None
    return np.asarray(np.load(path, mmap_mode=mode, allow_pickle=False))


__all__ = [
    "SemanticSnapshot",
    "SemanticSnapshotManifest",
    "SnapshotTexts",
    "current_name",
    "open_snapshot",
    "read_manifest",
    "write_snapshot",
]
