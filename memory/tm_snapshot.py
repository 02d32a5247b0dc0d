"""Persisted snapshots of the fuzzy translation-memory index: a directory of numpy arrays.

Layout of an index directory (`TM_INDEX_DIR`):

    CURRENT                          name of the snapshot to use (replaced atomically)
    .lock                            held while CURRENT is compared and replaced
    snapshot-000000001234-0-1a2b3c/  one snapshot: revision 1234, epoch 0
        manifest.json                what it holds (revision, epoch, units, forms per language)
        lang-3/…                     a `matchers.form_index.FrozenFormIndex` per source language

Written, published and pruned by `memory.snapshot_folder`: a reader sees a whole snapshot or
the previous one, never half of one, and a slower build of an older revision never replaces a
newer one.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from matchers.form_index import FORMAT, READABLE_FORMATS, FrozenFormIndex
from memory import snapshot_folder
from memory.snapshot_folder import current_name

log = logging.getLogger(__name__)


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
    name = f"snapshot-{revision:012d}-{epoch}-{uuid.uuid4().hex[:8]}"
    with snapshot_folder.staged(root, name) as staging:
        languages = {}
        for language_id, index in sorted(indexes.items()):
            index.save(staging.path / f"lang-{language_id}")
            snapshot_folder.fsync_directory(staging.path / f"lang-{language_id}")
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
        staging.manifest = asdict(manifest)

    def newer(published: str) -> bool:
        other = read_manifest(root, published)
        return other is not None and (other.epoch, other.revision) > (epoch, revision)

    snapshot_folder.publish(root, name, newer)
    return manifest


def read_manifest(root: Path, name: str) -> SnapshotManifest | None:
    """The manifest of snapshot `name`, or None when it is gone, unreadable or of a format this
    code cannot read (`form_index.READABLE_FORMATS`)."""
    return snapshot_folder.read_manifest(root, name, SnapshotManifest, READABLE_FORMATS)


def open_snapshot(root: Path, name: str, *, mmap_files: bool = True) -> IndexSnapshot | None:
    """Map snapshot `name` (its arrays stay on disk, shared by every process); None if gone."""
    manifest = read_manifest(root, name)
    if manifest is None:
        return None
    path = root / name
    try:
        indexes = {
            int(language_id): FrozenFormIndex.load(
                path / f"lang-{language_id}", mmap_files=mmap_files, format=manifest.format
            )
            for language_id in manifest.languages
        }
    except FileNotFoundError:
        return None  # pruned between reading CURRENT and opening it: the next check retries
    return IndexSnapshot(name=name, path=path, manifest=manifest, indexes=indexes)


__all__ = [
    "IndexSnapshot",
    "SnapshotManifest",
    "current_name",
    "open_snapshot",
    "read_manifest",
    "write_snapshot",
]
