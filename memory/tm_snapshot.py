"""Persisted snapshots of the fuzzy translation-memory index: a directory of numpy arrays.

Layout of an index directory (`TM_INDEX_DIR`):

    CURRENT                          name of the snapshot to use (replaced atomically)
    .lock                            held while CURRENT is compared and replaced
    snapshot-000000001234-0-1a2b3c/  one snapshot: revision 1234, epoch 0
        manifest.json                what it holds (revision, epoch, units, forms per language)
        lang-3/…                     a `matchers.form_index.FrozenFormIndex` per source language

A snapshot is written into a `.tmp-…` directory, every file fsynced, renamed into place, and
only then named in CURRENT (written to a temporary file, fsynced, `os.replace`d): a reader sees
a whole snapshot or the previous one, never half of one. A slower build of an older revision
never replaces a newer one. The two newest snapshots are kept (a process may still map the
previous one; unlinked files stay readable while mapped), older ones deleted.
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from matchers.form_index import FORMAT, FrozenFormIndex

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
KEEP_SNAPSHOTS = 2
# Temporary directories of builds that died are removed after this long.
STALE_TEMPORARY_S = 3600


@dataclass(frozen=True)
class SnapshotManifest:
    """What a snapshot holds: every unit of revision ≤ `revision` (and deferred revisions
    published by then) as of `epoch` of the memory `memory_id` (`tm_revision.memory_id`);
    `languages` maps a source language id to its forms and units."""

    revision: int
    epoch: int
    units: int
    forms: int
    languages: dict[str, dict[str, int]] = field(default_factory=dict)
    built_at: float = 0.0
    build_seconds: float = 0.0
    bytes: int = 0
    memory_id: str | None = None
    format: int = FORMAT

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SnapshotManifest:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


@dataclass
class IndexSnapshot:
    """An opened snapshot: its manifest and one frozen index per source language id."""

    name: str
    path: Path
    manifest: SnapshotManifest
    indexes: dict[int, FrozenFormIndex]


def write_snapshot(
    root: Path,
    indexes: Mapping[int, FrozenFormIndex],
    *,
    revision: int,
    epoch: int,
    memory_id: str | None = None,
    build_seconds: float = 0.0,
) -> SnapshotManifest:
    """Store `indexes` (source language id → index) as a new snapshot and publish it."""
    root.mkdir(parents=True, exist_ok=True)
    name = f"snapshot-{revision:012d}-{epoch}-{uuid.uuid4().hex[:8]}"
    temporary = root / f".tmp-{name}"
    temporary.mkdir()
    try:
        languages = {}
        for language_id, index in sorted(indexes.items()):
            index.save(temporary / f"lang-{language_id}")
            _fsync_directory(temporary / f"lang-{language_id}")
            units = sum(index.target_units().values())
            languages[str(language_id)] = {"forms": len(index), "units": units}
        manifest = SnapshotManifest(
            revision=revision,
            epoch=epoch,
            units=sum(entry["units"] for entry in languages.values()),
            forms=sum(entry["forms"] for entry in languages.values()),
            languages=languages,
            built_at=time.time(),
            build_seconds=round(build_seconds, 3),
            bytes=sum(index.nbytes() for index in indexes.values()),
            memory_id=memory_id,
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


def read_manifest(root: Path, name: str) -> SnapshotManifest | None:
    """The manifest of snapshot `name`, or None when it is gone or unreadable."""
    try:
        data = json.loads((root / name / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    manifest = SnapshotManifest.from_dict(data)
    return manifest if manifest.format == FORMAT else None


def open_snapshot(root: Path, name: str, *, mmap_files: bool = True) -> IndexSnapshot | None:
    """Map snapshot `name` (its arrays stay on disk, shared by every process); None if gone."""
    manifest = read_manifest(root, name)
    if manifest is None:
        return None
    path = root / name
    try:
        indexes = {
            int(language_id): FrozenFormIndex.load(
                path / f"lang-{language_id}", mmap_files=mmap_files
            )
            for language_id in manifest.languages
        }
    except FileNotFoundError:
        return None  # pruned between reading CURRENT and opening it: the next check retries
    return IndexSnapshot(name=name, path=path, manifest=manifest, indexes=indexes)


def _publish(root: Path, name: str, manifest: SnapshotManifest) -> None:
    with (root / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        published = current_name(root)
        if published is not None and published != name:
            other = read_manifest(root, published)
            if other is not None and (other.epoch, other.revision) > (
                manifest.epoch,
                manifest.revision,
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


def _write_file(path: Path, data: bytes) -> None:
    with path.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
