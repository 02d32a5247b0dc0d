"""The folder protocol every index snapshot follows (`memory.tm_snapshot` for the fuzzy index,
`memory.similarity_snapshot` for the near-duplicate index).

    CURRENT              name of the snapshot to use (replaced atomically)
    .lock                held while CURRENT is compared and replaced
    snapshot-…/          one snapshot, with its manifest.json

A snapshot is written into a `.tmp-…` folder (`staged`), every file fsynced, renamed into
place, and only then named in CURRENT (`publish`: a temporary file, fsynced, `os.replace`d): a
reader sees a whole snapshot or the previous one, never half of one. A build of an older state
never replaces a newer snapshot. The two newest snapshots are kept (a process may still map the
previous one; unlinked files stay readable while mapped), older ones deleted.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Container, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

Manifest = TypeVar("Manifest")

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
KEEP_SNAPSHOTS = 2
# Temporary folders of builds that died are removed after this long.
STALE_TEMPORARY_S = 3600


@dataclass
class Staging:
    """The temporary folder of a snapshot being written, and the manifest to give it."""

    path: Path
    manifest: dict[str, Any] = field(default_factory=dict)


@contextmanager
def staged(root: Path, name: str) -> Iterator[Staging]:
    """A temporary folder for snapshot `name` to write its files into; when the block ends,
    the manifest set on it is written and the folder, fsynced, is renamed into place. If the
    block raises, the folder is removed."""
    root.mkdir(parents=True, exist_ok=True)
    temporary = root / f".tmp-{name}"
    temporary.mkdir()
    try:
        staging = Staging(temporary)
        yield staging
        write_file(temporary / MANIFEST, json.dumps(staging.manifest, indent=1).encode())
        fsync_directory(temporary)
        os.rename(temporary, root / name)
        fsync_directory(root)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def publish(root: Path, name: str, newer: Callable[[str], bool]) -> bool:
    """Name snapshot `name` in CURRENT, unless `newer(published)` says the published one holds a
    newer state; prune old snapshots either way. Returns whether `name` was published."""
    with (root / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        published = current_name(root)
        if published is not None and published != name and newer(published):
            log.info("snapshot %s is older than the published %s; not used", name, published)
            prune(root, keep={published, name})
            return False
        write_file(root / f".{CURRENT}.tmp", f"{name}\n".encode("ascii"))
        os.replace(root / f".{CURRENT}.tmp", root / CURRENT)
        fsync_directory(root)
        prune(root, keep={name} | ({published} if published else set()))
        return True


def current_name(root: Path) -> str | None:
    """The snapshot CURRENT names, or None (no snapshot yet)."""
    try:
        name = (root / CURRENT).read_text(encoding="ascii").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return name or None


def manifest_data(root: Path, name: str) -> dict[str, Any] | None:
    """The manifest of snapshot `name` as read from its JSON, or None when gone or unreadable."""
    try:
        data = json.loads((root / name / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_manifest(
    root: Path, name: str, manifest_type: type[Manifest], formats: Container[int]
) -> Manifest | None:
    """The manifest of snapshot `name` as a `manifest_type` dataclass (keys it has no field for
    are ignored), or None when it is gone, unreadable or of a format not in `formats`."""
    data = manifest_data(root, name)
    if data is None:
        return None
    fields = getattr(manifest_type, "__dataclass_fields__")  # noqa: B009 — any manifest dataclass
    manifest = manifest_type(**{key: data[key] for key in fields if key in data})
    return manifest if getattr(manifest, "format", None) in formats else None


def prune(root: Path, keep: set[str]) -> None:
    """Delete all but the newest KEEP_SNAPSHOTS snapshots (and `keep`), and stale temporaries."""
    snapshots = sorted(p.name for p in root.glob("snapshot-*") if p.is_dir())
    kept = set(snapshots[-KEEP_SNAPSHOTS:]) | keep
    for stale in snapshots:
        if stale not in kept:
            shutil.rmtree(root / stale, ignore_errors=True)
    now = time.time()
    for temporary in root.glob(".tmp-*"):
        if now - temporary.stat().st_mtime > STALE_TEMPORARY_S:
            shutil.rmtree(temporary, ignore_errors=True)


class SnapshotRequests:
    """Asks for a snapshot job through `request` (None: nobody to ask) at most once every
    `interval_s`, so an index that would be better mapped says so without flooding the queue.
    A failure to ask is logged; the caller goes on with the index it has."""

    def __init__(
        self, request: Callable[[], object] | None, *, what: str, interval_s: float
    ) -> None:
        self.request = request
        self.what = what
        self.interval_s = interval_s
        self._asked_at = -float("inf")

    def ask(self, why: str) -> None:
        if self.request is None:
            return
        now = time.monotonic()
        if now - self._asked_at < self.interval_s:
            return
        self._asked_at = now
        log.info("asking for a %s snapshot: %s", self.what, why)
        try:
            self.request()
        except Exception as error:  # noqa: BLE001 — answers go on with the index in hand
            log.warning("could not ask for a %s snapshot: %s", self.what, error)


def write_file(path: Path, data: bytes) -> None:
    """Write `data` to `path` and fsync it."""
    with path.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def fsync_directory(path: Path) -> None:
    """Fsync a folder, so the names written in it survive a crash."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
