"""Persisted snapshots of the near-duplicate page index: a directory of numpy arrays.

Layout of the folder (`similarity/` under the fuzzy index's INDEX_DIR, `tm_service.jobs`):

    CURRENT                              name of the snapshot to use (replaced atomically)
    .lock                                held while CURRENT is compared and replaced
    snapshot-000000004711-000000000815-1a2b3c/   one snapshot: page translations up to id
                                         4711, embedding cache up to id 815
        manifest.json                    what it holds (model, marker, pages, bytes)
        pages/keys.npy, text_hashes.npy, has_vector.npy   per indexed page translation
        index/…                          the `matchers.near_duplicate_snapshot` arrays

Written, published and pruned by `memory.snapshot_folder`, like the fuzzy index's snapshots: a
reader sees a whole snapshot or the previous one, and a build that read an older database state
never replaces a newer snapshot of the same model.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from matchers import near_duplicate_snapshot
from matchers.near_duplicates import NearDuplicateIndex
from memory import snapshot_folder
from memory.snapshot_folder import current_name

log = logging.getLogger(__name__)

FORMAT = near_duplicate_snapshot.FORMAT


@dataclass(frozen=True)
class SimilaritySnapshotManifest:
    """What a snapshot holds: the latest public page translations with id ≤ `max_translation_id`
    and the page vectors of `model` cached up to `max_cache_id` when it was built."""

    model: str
    max_translation_id: int
    max_cache_id: int
    pages: int
    with_vector: int
    languages: dict[str, int]
    built_at: float = 0.0
    build_seconds: float = 0.0
    bytes: int = 0
    format: int = FORMAT

    @property
    def revision(self) -> tuple[int, int]:
        return (self.max_translation_id, self.max_cache_id)


@dataclass
class SimilaritySnapshot:
    """An opened snapshot: its manifest, the mapped index and each page's text hash."""

    name: str
    path: Path
    manifest: SimilaritySnapshotManifest
    index: NearDuplicateIndex
    text_hashes: dict[int, str]
    without_vector: set[int]


def write_snapshot(
    root: Path,
    index: NearDuplicateIndex,
    text_hashes: Mapping[int, str],
    *,
    model: str,
    max_translation_id: int,
    max_cache_id: int,
    build_seconds: float = 0.0,
) -> SimilaritySnapshotManifest:
    """Store `index` (its pages keyed by translation id, with their text hashes) as a new
    snapshot and publish it."""
    name = f"snapshot-{max_translation_id:012d}-{max_cache_id:012d}-{uuid.uuid4().hex[:8]}"
    with snapshot_folder.staged(root, name) as staging:
        meta, arrays = index.to_arrays()
        total = near_duplicate_snapshot.save_arrays(meta, arrays, staging.path / "index")
        snapshot_folder.fsync_directory(staging.path / "index")
        keys = np.concatenate(
            [arrays[lang]["keys"] for lang in meta["languages"]] or [np.zeros(0, np.int64)]
        )
        has_vector = np.concatenate(
            [arrays[lang]["has_vector"] for lang in meta["languages"]] or [np.zeros(0, bool)]
        )
        hashes = np.array([text_hashes.get(int(key), "") for key in keys.tolist()], dtype="S64")
        pages = staging.path / "pages"
        pages.mkdir()
        for file_name, array in (
            ("keys", keys),
            ("text_hashes", hashes),
            ("has_vector", has_vector),
        ):
            with (pages / f"{file_name}.npy").open("wb") as out:
                np.save(out, array, allow_pickle=False)
                out.flush()
                os.fsync(out.fileno())
            total += int(array.nbytes)
        snapshot_folder.fsync_directory(pages)
        manifest = SimilaritySnapshotManifest(
            model=model,
            max_translation_id=max_translation_id,
            max_cache_id=max_cache_id,
            pages=int(keys.size),
            with_vector=int(has_vector.sum()),
            languages={lang: int(arrays[lang]["keys"].size) for lang in meta["languages"]},
            built_at=time.time(),
            build_seconds=round(build_seconds, 3),
            bytes=total,
        )
        staging.manifest = asdict(manifest)

    def newer(published: str) -> bool:
        other = read_manifest(root, published)
        return other is not None and other.model == model and other.revision > manifest.revision

    snapshot_folder.publish(root, name, newer)
    return manifest


def read_manifest(root: Path, name: str) -> SimilaritySnapshotManifest | None:
    """The manifest of snapshot `name`, or None when it is gone, unreadable or of another
    format."""
    return snapshot_folder.read_manifest(root, name, SimilaritySnapshotManifest, (FORMAT,))


def open_snapshot(root: Path, name: str, *, mmap_files: bool = True) -> SimilaritySnapshot | None:
    """Map snapshot `name` (its arrays stay on disk, shared by every process); None if gone."""
    manifest = read_manifest(root, name)
    if manifest is None:
        return None
    path = root / name
    try:
        index = near_duplicate_snapshot.load(path / "index", mmap_files=mmap_files)
        keys = np.load(path / "pages" / "keys.npy", allow_pickle=False).tolist()
        hashes = np.load(path / "pages" / "text_hashes.npy", allow_pickle=False)
        has_vector = np.load(path / "pages" / "has_vector.npy", allow_pickle=False)
    except FileNotFoundError:
        return None  # pruned between reading CURRENT and opening it: the next check retries
    except ValueError as error:
        log.warning("similarity snapshot %s not usable: %s", name, error)
        return None
    text_hashes = dict(zip(keys, (h.decode("ascii") for h in hashes.tolist()), strict=True))
    without_vector = {key for key, has in zip(keys, has_vector.tolist(), strict=True) if not has}
    return SimilaritySnapshot(name, path, manifest, index, text_hashes, without_vector)


__all__ = [
    "SimilaritySnapshot",
    "SimilaritySnapshotManifest",
    "current_name",
    "open_snapshot",
    "read_manifest",
    "write_snapshot",
]
