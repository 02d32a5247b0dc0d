"""The in-process fuzzy index (`TranslationMemoryIndex`): frozen indexes of distinct source forms
(built in memory or mapped from a snapshot) plus a delta that follows the revision counter;
building and publishing snapshots.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matchers.form_index import FrozenFormIndex
from matchers.fuzzy_index import FuzzyIndex
from memory.services.translation_memory.revisions import (
    current_revision,
    memory_id,
    units_written_since,
)
from memory.snapshot_folder import SnapshotRequests
from memory.tm_models import TranslationUnit, TranslationUnitDeletion
from memory.tm_snapshot import (
    IndexSnapshot,
    SnapshotManifest,
    current_name,
    open_snapshot,
    read_manifest,
    write_snapshot,
)

log = logging.getLogger(__name__)


@contextmanager
def _in_a_transaction(session: Session) -> Iterator[Session]:
    """The session, or a short-lived one of its own when the session's connection runs in
    AUTOCOMMIT (a read-only request, `tm_service.extensions.read_only`): catching up streams
    units through a server-side cursor, which PostgreSQL opens only inside a transaction."""
    options = session.connection().get_execution_options()
    if options.get("isolation_level") != "AUTOCOMMIT":
        yield session
        return
    with Session(bind=session.get_bind()) as own:
        yield own


DEFAULT_REFRESH_SECONDS = 2.0
# Units written since the snapshot (or forms in the delta) beyond which a process asks for a
# new snapshot instead of catching up itself.
DEFAULT_DELTA_LIMIT = 50_000
# A delta of more than this many forms and this share of the snapshot's asks for a new one:
# the bulk of the index stays shared between processes.
DELTA_REBUILD_MINIMUM = 1_000
DELTA_REBUILD_SHARE = 0.1
# A process without a usable snapshot asks for one at most this often.
SNAPSHOT_REQUEST_INTERVAL_S = 30.0
FUZZY_READY = "ready"
FUZZY_WARMING_UP = "warming_up"


class TranslationMemoryIndex:
    """Fuzzy candidates over distinct source forms, per source language, for every target.

    One entry per distinct normalised source form (a German sentence with units in 15 target
    languages is indexed once), with the target languages it has units in; a search asks for
    one target language and returns (source hash, similarity) pairs, and the units come from
    the database by source hash (`ix_translation_unit_lookup`).

    The bulk of the index is frozen (`matchers.form_index.FrozenFormIndex`): mapped from a
    persisted snapshot in `snapshot_dir` (built by a job, `build_index_snapshot`), or — without
    a `snapshot_dir` (tests, benchmarks, a CLI process) — built in memory from the database at
    the first `ensure_fresh`. On top of it a small delta: `ensure_fresh` reads the `tm_revision`
    counter at most every `refresh_seconds`, and for the units written or deleted since the
    revision it holds counts each touched (source language, source hash, target language)
    again in the database — a form that lost its last unit in a language is hidden there (a
    tombstone), a form new to a language goes into a per-pair `FuzzyIndex`. So a write elsewhere
    shows up in fuzzy results after at most `refresh_seconds` (exact matches come from the
    database and are never stale).

    With a `snapshot_dir`, a process never builds the whole index itself: until a snapshot
    exists it answers without fuzzy candidates (`fuzzy_status` "warming_up") and calls
    `request_snapshot` (at most every `SNAPSHOT_REQUEST_INTERVAL_S`); it loads each newer
    snapshot CURRENT names, and asks for a new one when the delta outgrows `delta_limit` or a
    tenth of the snapshot (at least `DELTA_REBUILD_MINIMUM` forms). Thread-safe.
    """

    def __init__(
        self,
        *,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
        snapshot_dir: str | Path | None = None,
        request_snapshot: Callable[[], object] | None = None,
        delta_limit: int = DEFAULT_DELTA_LIMIT,
    ) -> None:
        self.refresh_seconds = refresh_seconds
        self.snapshot_dir = Path(snapshot_dir) if snapshot_dir else None
        self._snapshot_requests = SnapshotRequests(
            request_snapshot, what="fuzzy index", interval_s=SNAPSHOT_REQUEST_INTERVAL_S
        )
        self.delta_limit = delta_limit
        self._lock = threading.RLock()
        self._snapshot: IndexSnapshot | None = None
        self._frozen: dict[int, FrozenFormIndex] | None = None
        self._counts: dict[tuple[int, int, str], int] = {}
        self._dead: dict[tuple[int, int], set[int]] = {}
        self._dead_arrays: dict[tuple[int, int], np.ndarray] = {}
        self._delta: dict[tuple[int, int], FuzzyIndex] = {}
        self._delta_ids: dict[str, int] = {}
        self._delta_keys: list[str] = []
        self._pair_units: dict[tuple[int, int], int] = {}
        self._revision: int | None = None
        self._epoch: int | None = None
        self._checked_at = -math.inf

    @property
    def revision(self) -> int | None:
        """The last revision loaded (None: not built yet)."""
        return self._revision

    @property
    def ready(self) -> bool:
        """Whether fuzzy candidates are available (a snapshot is mapped or the index built)."""
        return self._frozen is not None

    @property
    def fuzzy_status(self) -> str:
        """ "ready", or "warming_up" while no snapshot is there yet (exact matches only)."""
        return FUZZY_READY if self.ready else FUZZY_WARMING_UP

    def mark_stale(self) -> None:
        """Make the next `ensure_fresh` look at the database and the snapshot directory."""
        self._checked_at = -math.inf

    def ensure_fresh(self, session: Session, *, force: bool = False) -> None:
        """Catch up with the database if `refresh_seconds` passed since the last check."""
        now = time.monotonic()
        if not force and now - self._checked_at < self.refresh_seconds:
            return
        with self._lock, _in_a_transaction(session) as reading:
            if not force and now - self._checked_at < self.refresh_seconds:
                return
            revision, epoch = current_revision(reading)
            if self.snapshot_dir is None:
                if self._revision is None or epoch != self._epoch or revision < self._revision:
                    self._build_in_memory(reading)
                elif revision > self._revision:
                    self._catch_up(reading, self._revision, revision)
            else:
                self._follow_snapshots(reading, revision, epoch)
            self._checked_at = time.monotonic()

    def rebuild(self, session: Session) -> dict[str, Any]:
        """Build the index from the database now (or map the newest snapshot); returns stats."""
        with self._lock:
            if self.snapshot_dir is None:
                self._build_in_memory(session)
            else:
                self._snapshot = None
                revision, epoch = current_revision(session)
                self._follow_snapshots(session, revision, epoch)
            self._checked_at = time.monotonic()
            return self.stats()

    def search(
        self,
        source_language_id: int,
        target_language_id: int,
        form: str,
        limit: int,
        min_score: float,
    ) -> list[tuple[str, float]]:
        """(source hash, similarity 0–100) of forms with units in the target language, best
        first (ties by hash); empty while warming up."""
        pair = (source_language_id, target_language_id)
        with self._lock:
            results: list[tuple[str, float]] = []
            frozen = (self._frozen or {}).get(source_language_id)
            if frozen is not None:
                results += frozen.search(
                    form, target_language_id, limit, min_score, exclude=self._dead_array(pair)
                )
            delta = self._delta.get(pair)
            if delta is not None and len(delta):
                keys = self._delta_keys
                results += [
                    (keys[key], score) for key, score in delta.search(form, limit, min_score)
                ]
        results.sort(key=lambda found: (-found[1], found[0]))
        return results[:limit]

    def language_pairs(self) -> set[tuple[int, int]]:
        """(source, target) language ids that have units (as of the last refresh)."""
        with self._lock:
            return {pair for pair, units in self._pair_units.items() if units > 0}

    def stats(self) -> dict[str, Any]:
        """Units and forms per language pair, the revision loaded, the snapshot mapped."""
        with self._lock:
            frozen_forms = sum(len(index) for index in (self._frozen or {}).values())
            delta_entries = sum(len(index) for index in self._delta.values())
            return {
                "revision": self._revision,
                "fuzzy": self.fuzzy_status,
                "units": sum(self._pair_units.values()),
                "forms": frozen_forms,
                "delta_entries": delta_entries,
                "snapshot": asdict(self._snapshot.manifest) if self._snapshot else None,
                "snapshot_name": self._snapshot.name if self._snapshot else None,
                "pairs": {f"{s}->{t}": n for (s, t), n in sorted(self._pair_units.items())},
            }

    # ---------------------------------------------------------------- building and following

    def _build_in_memory(self, session: Session) -> None:
        indexes, revision, epoch = build_frozen_indexes(session)
        self._install(indexes, revision, epoch)

    def _follow_snapshots(self, session: Session, revision: int, epoch: int) -> None:
        assert self.snapshot_dir is not None
        if self._revision is not None and revision < self._revision:
            self._reset()  # the database went back (restored): nothing loaded still holds
        self._load_newer_snapshot(session, revision)
        if self._snapshot is None:
            self._ask_for_snapshot("no snapshot yet")
            # A synchronous build (a CLI command, tests) is there now.
            self._load_newer_snapshot(session, revision)
            if self._snapshot is None:
                return
            revision, epoch = current_revision(session)
        if self._snapshot.manifest.epoch != epoch:
            self._ask_for_snapshot("the memory was rebuilt (epoch changed)")
        seen = self._revision or 0
        if revision > seen:
            pending = _written_count(session, seen)
            if pending > self.delta_limit:
                # Catching up would build most of an index on a request path: a job does it.
                self._ask_for_snapshot(f"{pending} units written since the snapshot")
                return
            self._catch_up(session, seen, revision)
        delta = self._delta_units()
        frozen = sum(len(index) for index in (self._frozen or {}).values())
        if delta > self.delta_limit or (
            delta > DELTA_REBUILD_MINIMUM and delta > DELTA_REBUILD_SHARE * frozen
        ):
            self._ask_for_snapshot(f"the delta holds {delta} entries, the snapshot {frozen} forms")

    def _load_newer_snapshot(self, session: Session, revision: int) -> None:
        assert self.snapshot_dir is not None
        name = current_name(self.snapshot_dir)
        if name is None or (self._snapshot is not None and self._snapshot.name == name):
            return
        manifest = read_manifest(self.snapshot_dir, name)
        if manifest is None or manifest.revision > revision:
            return  # gone meanwhile, or not of this database's history
        if manifest.memory_id != memory_id(session):
            log.warning("snapshot %s is of another memory (database); not used", name)
            return
        opened = open_snapshot(self.snapshot_dir, name)
        if opened is None:
            return
        started = time.perf_counter()
        self._install(opened.indexes, manifest.revision, manifest.epoch)
        self._snapshot = opened
        log.info(
            "fuzzy index snapshot %s mapped in %.2f s: %d forms, %d units, revision %d",
            name,
            time.perf_counter() - started,
            manifest.forms,
            manifest.units,
            manifest.revision,
        )

    def _ask_for_snapshot(self, why: str) -> None:
        self._snapshot_requests.ask(why)

    def _reset(self) -> None:
        self._snapshot = None
        self._frozen = None
        self._counts, self._dead, self._dead_arrays, self._delta = {}, {}, {}, {}
        self._delta_ids, self._delta_keys, self._pair_units = {}, [], {}
        self._revision = self._epoch = None

    def _install(self, indexes: dict[int, FrozenFormIndex], revision: int, epoch: int) -> None:
        self._reset()
        self._frozen = indexes
        for source_id, index in indexes.items():
            for target_id, units in index.target_units().items():
                self._pair_units[(source_id, target_id)] = units
        self._revision, self._epoch = revision, epoch

    def _catch_up(self, session: Session, seen: int, revision: int) -> None:
        """Count again the forms of units written or deleted after `seen`."""
        touched: dict[tuple[int, int], dict[str, str | None]] = defaultdict(dict)
        for gone in session.execute(
            select(
                TranslationUnitDeletion.source_language_id,
                TranslationUnitDeletion.target_language_id,
                TranslationUnitDeletion.source_hash,
            ).where(
                TranslationUnitDeletion.revision > seen,
                TranslationUnitDeletion.source_hash.is_not(None),
            )
        ):
            if gone.source_language_id is None or gone.target_language_id is None:
                continue
            touched[(gone.source_language_id, gone.target_language_id)].setdefault(
                str(gone.source_hash), None
            )
        for row in session.execute(
            select(
                TranslationUnit.source_language_id,
                TranslationUnit.target_language_id,
                TranslationUnit.source_hash,
                TranslationUnit.source_form,
            )
            .where(units_written_since(seen))
            .execution_options(yield_per=10_000)
        ):
            touched[(row.source_language_id, row.target_language_id)][row.source_hash] = (
                row.source_form
            )
        for (source_id, target_id), forms in touched.items():
            hashes = sorted(forms)
            for start in range(0, len(hashes), 500):
                chunk = hashes[start : start + 500]
                counted = {
                    row.source_hash: (int(row.units), row.form)
                    for row in session.execute(
                        select(
                            TranslationUnit.source_hash,
                            func.count().label("units"),
                            func.min(TranslationUnit.source_form).label("form"),
                        )
                        .where(
                            TranslationUnit.source_language_id == source_id,
                            TranslationUnit.target_language_id == target_id,
                            TranslationUnit.source_hash.in_(chunk),
                        )
                        .group_by(TranslationUnit.source_hash)
                    )
                }
                for key in chunk:
                    units, form = counted.get(key, (0, forms[key]))
                    self._set_units(source_id, target_id, key, form, units)
        self._revision = revision

    def _set_units(
        self, source_id: int, target_id: int, key: str, form: str | None, units: int
    ) -> None:
        """Record that form `key` has `units` units in (source_id, target_id) now."""
        frozen = (self._frozen or {}).get(source_id)
        slot = frozen.slot_of(key) if frozen is not None else None
        base = frozen.units(slot, target_id) if frozen is not None and slot is not None else 0
        pair = (source_id, target_id)
        previous = self._counts.get((source_id, target_id, key), base)
        self._counts[(source_id, target_id, key)] = units
        self._pair_units[pair] = self._pair_units.get(pair, 0) + units - previous
        if base > 0:
            assert slot is not None
            dead = self._dead.setdefault(pair, set())
            if units == 0:
                dead.add(slot)
            else:
                dead.discard(slot)
            self._dead_arrays.pop(pair, None)
            return
        delta_id = self._delta_ids.get(key)
        if delta_id is None:
            if units == 0 or form is None:
                return
            delta_id = self._delta_ids[key] = len(self._delta_keys)
            self._delta_keys.append(key)
        delta = self._delta.get(pair)
        if delta is None:
            delta = self._delta[pair] = FuzzyIndex()
        if units > 0 and form is not None:
            if delta.form_of(delta_id) != form:
                delta.add(delta_id, form)
        else:
            delta.discard(delta_id)

    def _dead_array(self, pair: tuple[int, int]) -> np.ndarray | None:
        dead = self._dead.get(pair)
        if not dead:
            return None
        array_ = self._dead_arrays.get(pair)
        if array_ is None:
            array_ = self._dead_arrays[pair] = np.array(sorted(dead), dtype=np.int64)
        return array_

    def _delta_units(self) -> int:
        return sum(len(index) for index in self._delta.values()) + sum(
            len(dead) for dead in self._dead.values()
        )


def _written_count(session: Session, seen: int) -> int:
    """Units written after revision `seen` (what a catch-up would load)."""
    return int(
        session.scalar(
            select(func.count()).select_from(TranslationUnit).where(units_written_since(seen))
        )
        or 0
    )


def build_frozen_indexes(
    session: Session,
) -> tuple[dict[int, FrozenFormIndex], int, int]:
    """Frozen fuzzy indexes of every unit's distinct source forms, per source language id;
    with the (revision, epoch) read before the units, so a catch-up from it misses nothing."""
    revision, epoch = current_revision(session)
    per_language: dict[int, dict[str, tuple[str, dict[int, int]]]] = defaultdict(dict)
    rows = session.execute(
        select(
            TranslationUnit.source_language_id,
            TranslationUnit.target_language_id,
            TranslationUnit.source_hash,
            TranslationUnit.source_form,
        ).execution_options(yield_per=20_000)
    )
    for source_id, target_id, key, form in rows:
        forms = per_language[source_id]
        entry = forms.get(key)
        if entry is None:
            entry = forms[key] = (form, {})
        targets = entry[1]
        targets[target_id] = targets.get(target_id, 0) + 1
    indexes = {
        source_id: FrozenFormIndex.build(
            (key, form, targets) for key, (form, targets) in forms.items()
        )
        for source_id, forms in per_language.items()
    }
    return indexes, revision, epoch


def build_index_snapshot(
    session: Session, directory: str | Path, *, force: bool = False
) -> SnapshotManifest:
    """Build the fuzzy index from the database and publish it as a snapshot in `directory`.

    Without `force`, a published snapshot of the current revision and epoch is kept as it is.
    Returns the manifest of the snapshot in use afterwards.
    """
    root = Path(directory)
    if not force:
        name = current_name(root)
        manifest = read_manifest(root, name) if name else None
        if (
            manifest is not None
            and (manifest.revision, manifest.epoch) == current_revision(session)
            and manifest.memory_id == memory_id(session)
        ):
            return manifest
    started = time.perf_counter()
    identity = memory_id(session)
    indexes, revision, epoch = build_frozen_indexes(session)
    return write_snapshot(
        root,
        indexes,
        revision=revision,
        epoch=epoch,
        memory_id=identity,
        build_seconds=time.perf_counter() - started,
    )


def index_from(
    cache: dict[str, Any],
    *,
    refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
    snapshot_dir: str | Path | None = None,
    request_snapshot: Callable[[], object] | None = None,
) -> TranslationMemoryIndex:
    """The `TranslationMemoryIndex` kept in `cache` (e.g. `app.extensions`), created once."""
    index = cache.get("tm_index")
    if index is None:
        index = cache.setdefault(
            "tm_index",
            TranslationMemoryIndex(
                refresh_seconds=refresh_seconds,
                snapshot_dir=snapshot_dir,
                request_snapshot=request_snapshot,
            ),
        )
    return index
