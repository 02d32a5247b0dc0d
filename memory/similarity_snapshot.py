"""Persisted snapshots of the near-duplicate page index: a directory of numpy arrays.

Layout of the folder (`similarity/` under the fuzzy index's INDEX_DIR, `tm_service.jobs`):

    CURRENT                              name of the snapshot to use (replaced atomically)
    .lock                                held while CURRENT is compared and replaced
    snapshot-000000004711-000000000815-1a2b3c/   one snapshot: page translations up to id
                                         4711, embedding cache up to id 815
        manifest.json                    what it holds (model, marker, pages, bytes)
        pages/keys.npy, text_hashes.npy, has_vector.npy   per indexed page translation
        index/…                          the `matchers.near_duplicate_snapshot` arrays

Written and published the way `memory.tm_snapshot` writes the fuzzy index: into a `.tmp-…`
directory, every file fsynced, renamed into place, then named in CURRENT (a temporary file,
fsynced, `os.replace`d): a reader sees a whole snapshot or the previous one. A build that read
an older database state never replaces a newer snapshot of the same model. The two newest
snapshots are kept (a process may still map the previous one), older ones deleted.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from matchers import near_duplicate_snapshot
from matchers.near_duplicates import NearDuplicateIndex
from memory.tm_snapshot import _fsync_directory, _write_file

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
KEEP_SNAPSHOTS = 2
STALE_TEMPORARY_S = 3600
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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SimilaritySnapshotManifest:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)

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
    root.mkdir(parents=True, exist_ok=True)
    name = f"snapshot-{max_translation_id:012d}-{max_cache_id:012d}-{uuid.uuid4().hex[:8]}"
    temporary = root / f".tmp-{name}"
    temporary.mkdir()
    try:
        meta, arrays = index.to_arrays()
        total = near_duplicate_snapshot.save_arrays(meta, arrays, temporary / "index")
        _fsync_directory(temporary / "index")
        keys = np.concatenate(
            [arrays[lang]["keys"] for lang in meta["languages"]] or [np.zeros(0, np.int64)]
        )
        has_vector = np.concatenate(
            [arrays[lang]["has_vector"] for lang in meta["languages"]] or [np.zeros(0, bool)]
        )
        hashes = np.array([text_hashes.get(int(key), "") for key in keys.tolist()], dtype="S64")
        pages = temporary / "pages"
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
        _fsync_directory(pages)
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
        _write_file(temporary / MANIFEST, json.dumps(asdict(manifest), indent=1).encode())
        _fsync_directory(temporary)
        os.rename(temporary, root / name)
        _fsync_directory(root)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    _publish(root, name, manifest)
    return manifest


def current_name(root: Path) -> str | None:
    """The snapshot CURRENT names, or None (no snapshot yet)."""
    try:
        name = (root / CURRENT).read_text(encoding="ascii").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return name or None


def read_manifest(root: Path, name: str) -> SimilaritySnapshotManifest | None:
    """The manifest of snapshot `name`, or None when it is gone, unreadable or of another
    format."""
    try:
        data = json.loads((root / name / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    manifest = SimilaritySnapshotManifest.from_dict(data)
    return manifest if manifest.format == FORMAT else None


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


def _publish(root: Path, name: str, manifest: SimilaritySnapshotManifest) -> None:
    with (root / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        published = current_name(root)
        if published is not None and published != name:
            other = read_manifest(root, published)
            if (
                other is not None
                and other.model == manifest.model
                and other.revision > manifest.revision
            ):
                log.info("snapshot %s is older than the published %s; not used", name, published)
                _prune(root, keep={published, name})
                return
        _write_file(root / f".{CURRENT}.tmp", f"{name}\n".encode("ascii"))
        os.replace(root / f".{CURRENT}.tmp", root / CURRENT)
        _fsync_directory(root)
        _prune(root, keep={name} | ({published} if published else set()))


def _prune(root: Path, keep: set[str]) -> None:
    snapshots = sorted(p.name for p in root.glob("snapshot-*") if p.is_dir())
    kept = set(snapshots[-KEEP_SNAPSHOTS:]) | keep
    for stale in snapshots:
        if stale not in kept:
            shutil.rmtree(root / stale, ignore_errors=True)
    now = time.time()
    for temporary in root.glob(".tmp-*"):
        if now - temporary.stat().st_mtime > STALE_TEMPORARY_S:
            shutil.rmtree(temporary, ignore_errors=True)


__all__ = [
    "SimilaritySnapshot",
    "SimilaritySnapshotManifest",
    "current_name",
    "open_snapshot",
    "read_manifest",
    "write_snapshot",
]
