"""TMX import and export of translation units: atomic, idempotent, streaming.

Import reads with memory.tmx.read_tmx (streaming, XXE-safe, bounded `<tu>`s, BCP 47 language
tags), writes in chunks of `CHUNK_UNITS` units (PostgreSQL: a COPY into a staging table while
the file is read, and every `STAGED_UNITS` rows and at the end an INSERT … SELECT … ON CONFLICT
DO NOTHING of the keys not stored yet; elsewhere batched INSERTs). The keys (matching forms,
hashes, unit key; most of an import's CPU) are computed once per source sentence per chunk, not
once per target language, and, once a file proves large (`KEY_WORKERS_AFTER` units), in
worker processes while this one reads and writes. It commits once at the end: any `TmxError`
rolls the whole file back and raises `ImportRejected` naming the line. Units are keyed like
page units by their real text (source text, target text, languages, region, no page), so the
same file twice adds nothing and "Raum 202" / "Raum 303" stay two units. Every unit names its
licence and attribution: the unit's `x-license` / `x-attribution` properties, else the import's
`license` / `attribution`, else the region's; a unit left without either rejects the file.

A long import never holds the TM change counter: it reserves a revision in a short transaction
of its own before it writes, and publishes it just before its one commit, so reviews, page
refreshes and other writers go on meanwhile (`translation_memory.reserve_revision`).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, BinaryIO

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from memory.authorization import Action, Actor, authorize
from memory.errors import ImportRejected, InvalidInput
from memory.models import Language, Origin, Page, Region, utcnow
from memory.services.regions import ensure_language, get_language, get_region
from memory.services.translation_memory import (
    SegmentKey,
    publish_revision,
    reserve_revision,
    segment_key,
    strip_markup,
    trust_status,
    unit_key,
)
from memory.tm_models import TranslationUnit
from memory.tmx import TmxError, TmxUnit, read_tmx, write_tmx

CHUNK_UNITS = 1000
# PostgreSQL: the staged rows go into the unit table every this many (`_CopySink`).
STAGED_UNITS = 50_000
# Key worker processes start once an import has read this many units (a big file: the CLI's;
# an upload through the API stays under it), and get at most this many chunks ahead.
KEY_WORKERS_AFTER = 50_000
KEY_LOOKAHEAD = 32
EXPORT_BATCH = 1000


@dataclass
class ImportReport:
    """What a TMX import did."""

    batch: str
    region: str | None
    translation_units: int = 0  # <tu> elements read
    units: int = 0  # segment pairs read
    created: int = 0
    unchanged: int = 0
    skipped: int = 0  # <tu> without a usable pair, empty segments, empty matching forms
    languages: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "region": self.region,
            "translation_units": self.translation_units,
            "units": self.units,
            "created": self.created,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "languages": self.languages,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Provenance:
    """What an import says about its units when a `<tu>` does not: licence, attribution, URL."""

    license: str = ""
    attribution: str = ""
    url: str = ""

    @classmethod
    def of(
        cls, home: Region | None, license: str | None, attribution: str | None, url: str | None
    ) -> Provenance:
        """The import's own values, else the region's (its licence, its attribution)."""
        license = (license or "").strip() or (home.license if home else "")
        attribution = (attribution or "").strip()
        if not attribution and home is not None:
            attribution = home.attribution or f"{home.name} — shared under {license}"
        return cls(license=license, attribution=attribution, url=(url or "").strip())


def import_tmx(
    session: Session,
    actor: Actor | None,
    source: BinaryIO | str,
    *,
    region: str | None = None,
    batch_name: str,
    max_bytes: int | None = None,
    license: str | None = None,
    attribution: str | None = None,
    url: str | None = None,
) -> ImportReport:
    """Import a TMX file (path or binary stream) in one transaction; `actor=None`: the CLI.

    Needs a global admin, or an admin of `region`. Unknown languages are created (valid BCP 47
    tags only). `license` / `attribution` / `url` apply to units whose `<tu>` has no `x-license`
    / `x-attribution` / `x-url` property; without them the region's licence and attribution
    apply, and a unit left without either rejects the whole file (`ImportRejected`).
    """
    if actor is not None:
        authorize(actor, Action.ADMINISTER, region)
    home = get_region(session, region) if region else None
    provenance = Provenance.of(home, license, attribution, url)
    report = ImportReport(batch=batch_name, region=region)
    started = time.perf_counter()
    languages: dict[str, Language] = {}
    reader = read_tmx(source, max_bytes=max_bytes)
    # Before anything is written (it commits): the import then holds no lock other writers need.
    revision = reserve_revision(session)
    sink: _UnitSink = (
        _CopySink(session) if session.get_bind().dialect.name == "postgresql" else _InsertSink()
    )
    context = _ImportContext(batch_name, revision, home.id if home else None, provenance, languages)
    keys = _ChunkKeys(context.region_id)
    try:
        units = iter(reader)
        while chunk := list(islice(units, CHUNK_UNITS)):
            _add_languages(session, chunk, languages, sink)
            keys.submit(chunk, languages)
            for done, chunk_keys in keys.ready():
                _store_chunk(session, done, chunk_keys, context, report, sink)
        for done, chunk_keys in keys.drain():
            _store_chunk(session, done, chunk_keys, context, report, sink)
        sink.finish(session, report)
    except TmxError as error:
        keys.close()
        sink.abort()
        session.rollback()
        line = f" at line {error.line}" if error.line else ""
        raise ImportRejected(
            f"The TMX file was rejected{line}: {error.message}. Nothing was imported.",
            errors={"file": [str(error)]},
        ) from None
    except BaseException:
        keys.close()
        sink.abort()
        session.rollback()
        raise
    keys.close()
    stats = reader.stats
    report.translation_units = stats.translation_units
    report.skipped += stats.skipped_translation_units + stats.skipped_segments
    report.languages = sorted(languages)
    if report.created:
        publish_revision(session, revision)
    session.commit()
    report.seconds = time.perf_counter() - started
    return report


@dataclass(frozen=True)
class _ImportContext:
    """What every row of one import shares."""

    batch_name: str
    revision: int
    region_id: int | None
    provenance: Provenance
    languages: dict[str, Language]  # service code → language, filled while the file is read


# (source form, source hash, target form, target hash, unit key) of one pair; None: a pair
# with an empty matching form (skipped).
UnitKeys = tuple[str, str, str, str, str] | None
# (source text, target text, source language code, target code, source id, target id)
KeyedPair = tuple[str, str, str, str, int, int]


def unit_keys_of(pairs: list[KeyedPair], region_id: int | None) -> list[UnitKeys]:
    """The matching keys and unit key of each pair (`segment_key`, `unit_key`).

    A source sentence comes once per target language (8–15 times on the platform) and its
    units are neighbours in the file: its key is computed once per call. Pure, so it runs in
    key worker processes as well (`_ChunkKeys`)."""
    sources: dict[tuple[str, str], SegmentKey] = {}
    keys: list[UnitKeys] = []
    for source_text, target_text, source_code, target_code, source_id, target_id in pairs:
        source_key = sources.get((source_text, source_code))
        if source_key is None:
            source_key = sources[(source_text, source_code)] = _segment_key(
                source_text, source_code
            )
        target_key = _segment_key(target_text, target_code)
        if not source_key.form or not target_key.form:
            keys.append(None)
            continue
        key = unit_key(source_text, target_text, source_id, target_id, region_id, page_id=None)
        keys.append((source_key.form, source_key.hash, target_key.form, target_key.hash, key))
    return keys


# segment_key without its LRU cache: an import's texts are mostly seen once (a source's
# repeats are caught above), and a million of them would only evict the lookups' entries.
_segment_key = getattr(segment_key, "__wrapped__", segment_key)


class _ChunkKeys:
    """The keys of each chunk, in order: computed here for a small import; once an import has
    read `KEY_WORKERS_AFTER` units, by `key_workers()` processes while this one reads the file
    and writes (the keys are most of an import's CPU: placeholder scan, normalisation,
    SHA-256). At most `KEY_LOOKAHEAD` chunks are on their way, so memory stays bounded."""

    def __init__(self, region_id: int | None) -> None:
        self.region_id = region_id
        self.read = 0
        self.pool: Any = None
        self.pending: deque[tuple[list[TmxUnit], Any]] = deque()

    def submit(self, chunk: list[TmxUnit], languages: dict[str, Language]) -> None:
        pairs = [
            (
                unit.source_text,
                unit.target_text,
                unit.source_language,
                unit.target_language,
                languages[unit.source_language].id,
                languages[unit.target_language].id,
            )
            for unit in chunk
        ]
        self.read += len(chunk)
        if self.pool is None and self.read > KEY_WORKERS_AFTER and (workers := key_workers()):
            self.pool = multiprocessing.get_context("spawn").Pool(workers)
        if self.pool is None:
            self.pending.append((chunk, unit_keys_of(pairs, self.region_id)))
        else:
            job = self.pool.apply_async(unit_keys_of, (pairs, self.region_id))
            self.pending.append((chunk, job))

    def ready(self) -> Iterator[tuple[list[TmxUnit], list[UnitKeys]]]:
        """The chunks done, oldest first; waits when too many are on their way."""
        while self.pending:
            chunk, keys = self.pending[0]
            if isinstance(keys, list):
                pass
            elif len(self.pending) > KEY_LOOKAHEAD or keys.ready():
                keys = keys.get()
            else:
                return
            self.pending.popleft()
            yield chunk, keys

    def drain(self) -> Iterator[tuple[list[TmxUnit], list[UnitKeys]]]:
        while self.pending:
            chunk, keys = self.pending.popleft()
            yield chunk, keys if isinstance(keys, list) else keys.get()

    def close(self) -> None:
        self.pending.clear()
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None


def key_workers() -> int:
    """Key worker processes for a large import: one per core (0 on a single core)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 0 if (cores or 1) < 2 else min(cores or 1, 4)


def _add_languages(
    session: Session, chunk: list[TmxUnit], languages: dict[str, Language], sink: _UnitSink
) -> None:
    unseen = {u.source_language for u in chunk} | {u.target_language for u in chunk}
    unseen -= languages.keys()
    if unseen:
        sink.pause()  # a language may have to be created: no query while a COPY is open
        for code in sorted(unseen):
            _language(session, languages, code)


def _store_chunk(
    session: Session,
    units: list[TmxUnit],
    keys: list[UnitKeys],
    context: _ImportContext,
    report: ImportReport,
    sink: _UnitSink,
) -> None:
    """Rows of the chunk's new pairs (repeats within the chunk counted as unchanged) to `sink`."""
    provenance, languages = context.provenance, context.languages
    first = report.units
    report.units += len(units)
    rows: dict[str, tuple[Any, ...]] = {}
    now = utcnow()
    for number, (unit, unit_keys) in enumerate(zip(units, keys, strict=True)):
        if unit_keys is None:
            report.skipped += 1
            continue
        source_form, source_hash, target_form, target_hash, key = unit_keys
        if key in rows:
            report.unchanged += 1
            continue
        props = unit.properties
        license = provenance.license
        attribution = provenance.attribution
        url = provenance.url
        origin = Origin.HUMAN
        reviewed = outdated = False
        if props:
            license = (props.get("x-license") or "").strip() or license
            attribution = (props.get("x-attribution") or "").strip() or attribution
            url = (props.get("x-url") or "").strip() or url
            origin = _origin(props.get("x-origin"))
            reviewed = props.get("x-reviewed", "").strip().lower() in ("true", "1", "yes")
            outdated = props.get("x-outdated", "").strip().lower() in ("true", "1", "yes")
        if not license or not attribution:
            raise _unlicensed(
                unit,
                first + number + 1,
                missing="license" if not license else "attribution",
            )
        # In the order of _COLUMNS.
        rows[key] = (
            key,
            languages[unit.source_language].id,
            languages[unit.target_language].id,
            unit.source_text,
            unit.target_text,
            source_form,
            target_form,
            source_hash,
            target_hash,
            None,  # context_hash
            0,  # position
            context.region_id,
            None,  # page_id
            origin,
            reviewed,
            outdated,
            license[:100],
            attribution,
            url[:1000],
            context.batch_name,
            context.revision,
            unit.change_date or unit.creation_date,
            now,
            now,
        )
    if rows:
        sink.store(session, rows, report)


# The columns an import writes, in the order of `_store_chunk`'s row tuples.
_COLUMNS = (
    "unit_key", "source_language_id", "target_language_id", "source_text", "target_text",
    "source_form", "target_form", "source_hash", "target_hash", "context_hash", "position",
    "region_id", "page_id", "origin", "reviewed", "outdated", "license", "attribution", "url",
    "import_batch", "revision", "translated_at", "created_at", "updated_at",
)  # fmt: skip


class _UnitSink:
    """Where the units of one import go; `report.created` / `unchanged` are counted there."""

    def store(
        self, session: Session, rows: dict[str, tuple[Any, ...]], report: ImportReport
    ) -> None:
        raise NotImplementedError

    def pause(self) -> None:
        """Before the importer itself queries the database."""

    def finish(self, session: Session, report: ImportReport) -> None:
        """After the last chunk, before the commit."""

    def abort(self) -> None:
        """On an error, before the rollback."""


class _InsertSink(_UnitSink):
    """Per chunk: leave out the keys already stored, insert the others in one batch."""

    def store(
        self, session: Session, rows: dict[str, tuple[Any, ...]], report: ImportReport
    ) -> None:
        known = set(
            session.scalars(
                select(TranslationUnit.unit_key).where(TranslationUnit.unit_key.in_(rows))
            )
        )
        report.unchanged += len(known)
        new_rows = [
            dict(zip(_COLUMNS, row, strict=True)) for key, row in rows.items() if key not in known
        ]
        if new_rows:
            session.execute(insert(TranslationUnit), new_rows)
            report.created += len(new_rows)
        session.flush()


class _CopySink(_UnitSink):
    """PostgreSQL: the rows stream into a COPY to a temporary staging table while the file is
    still being read (the server takes them on its own core); every `STAGED_UNITS` rows, and at
    the end, one INSERT … SELECT … ON CONFLICT DO NOTHING adds the keys not stored yet, in key
    order (B-tree locality), and empties the staging table. In steps, a step's rows sort in
    memory, and key workers go on while the server inserts; several times the rate of batched
    INSERTs with a key query per chunk (docs/benchmarks.md, bench/tmx_import.py)."""

    def __init__(self, session: Session) -> None:
        from psycopg import sql

        driver = session.connection().connection.driver_connection
        assert driver is not None
        self._cursor = driver.cursor()
        table = sql.Identifier(TranslationUnit.__tablename__)
        staging = sql.Identifier("tmx_import_unit")
        columns = sql.SQL(", ").join(map(sql.Identifier, _COLUMNS))
        # A step's rows (about 1 kB each) sort in memory; for this transaction only.
        self._cursor.execute("SET LOCAL work_mem = '64MB'")
        # Only the imported columns, no constraints; gone at the end of the transaction.
        self._cursor.execute(
            sql.SQL(
                "CREATE TEMPORARY TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA"
            ).format(staging, columns, table)
        )
        self._copy_statement = sql.SQL("COPY {} ({}) FROM STDIN").format(staging, columns)
        # DO NOTHING also skips a key repeated within the statement (a pair again in the file).
        self._insert_statement = sql.SQL(
            "INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY unit_key "
            "ON CONFLICT (unit_key) DO NOTHING"
        ).format(table, columns, columns, staging)
        self._empty_statement = sql.SQL("TRUNCATE {}").format(staging)
        self._copy: Any = None
        self._copy_context: Any = None
        self._staged = 0  # rows in the staging table
        self._rows = 0  # rows staged in all
        self._created = 0

    def store(
        self, session: Session, rows: dict[str, tuple[Any, ...]], report: ImportReport
    ) -> None:
        if self._copy is None:
            self._copy_context = self._cursor.copy(self._copy_statement)
            self._copy = self._copy_context.__enter__()
        write_row = self._copy.write_row
        for row in rows.values():
            write_row(row)  # Origin is a StrEnum: written as its value
        self._rows += len(rows)
        self._staged += len(rows)
        if self._staged >= STAGED_UNITS:
            self._insert_staged(report)

    def pause(self) -> None:
        if self._copy_context is not None:
            self._copy_context.__exit__(None, None, None)
        self._copy = self._copy_context = None

    def finish(self, session: Session, report: ImportReport) -> None:
        self._insert_staged(report)
        report.unchanged += self._rows - self._created
        report.created += self._created

    def _insert_staged(self, report: ImportReport) -> None:
        self.pause()
        if not self._staged:
            return
        self._cursor.execute(self._insert_statement)
        self._created += max(self._cursor.rowcount, 0)
        self._cursor.execute(self._empty_statement)
        self._staged = 0

    def abort(self) -> None:
        context, self._copy, self._copy_context = self._copy_context, None, None
        if context is not None:
            # Ends the COPY with an error so the rollback can run; the import's own error is
            # the one raised.
            with suppress(Exception):
                context.__exit__(RuntimeError, RuntimeError("import aborted"), None)


def _unlicensed(unit: TmxUnit, number: int, *, missing: str) -> ImportRejected:
    """The file is refused: a reusable text must name its licence and whom to credit."""
    which = f"tuid {unit.tuid}" if unit.tuid else f"segment pair {number}"
    what = "licence" if missing == "license" else "attribution"
    return ImportRejected(
        f"The TMX file was rejected: {which} ({unit.source_text[:60]!r}) has no {what}. "
        f"Send `{missing}` with the import, import into a region (its licence and attribution "
        f"apply), or give each <tu> an x-{missing} property. Nothing was imported.",
        errors={
            missing: [
                f"Required: every imported unit names its {what} (the text is shared with "
                "other regions)."
            ]
        },
    )


def _language(session: Session, cache: dict[str, Language], code: str) -> Language:
    language = cache.get(code)
    if language is None:
        language = cache[code] = ensure_language(session, code)
    return language


def _origin(value: str | None) -> Origin:
    try:
        return Origin((value or "human").strip().lower())
    except ValueError:
        return Origin.HUMAN


def export_tmx(
    session: Session,
    out: BinaryIO,
    *,
    source_language: str,
    target_language: str,
    region: str | None = None,
) -> int:
    """Write the units of one language pair (of one region) as TMX 1.4b; returns units written.

    Each `<tu>` carries its provenance as `x-` properties (region, page, origin, reviewed,
    outdated, licence, attribution, URL). Units only ever come from public translations or
    TMX imports, so the export never holds drafts.
    """
    source = get_language(session, source_language, field="source_language")
    target = get_language(session, target_language, field="target_language")
    if source.id == target.id:
        raise InvalidInput(
            "Source and target language are the same.",
            errors={"target_language": ["Must differ from source_language."]},
        )
    home = get_region(session, region) if region else None
    return write_tmx(
        _export_units(session, source, target, home),
        out,
        source_language=source.code,
        header_properties={"x-region": home.slug} if home else None,
    )


def _export_units(
    session: Session, source: Language, target: Language, home: Region | None
) -> Iterator[TmxUnit]:
    query = (
        select(TranslationUnit)
        .where(
            TranslationUnit.source_language_id == source.id,
            TranslationUnit.target_language_id == target.id,
        )
        .options(
            selectinload(TranslationUnit.region),
            selectinload(TranslationUnit.page).load_only(Page.external_id),
        )
        .order_by(TranslationUnit.id)
    )
    if home is not None:
        query = query.where(TranslationUnit.region_id == home.id)
    last_id = 0
    while True:
        # Keyset pages keep memory bounded without holding a server-side cursor open.
        batch = session.scalars(query.where(TranslationUnit.id > last_id).limit(EXPORT_BATCH)).all()
        if not batch:
            return
        for unit in batch:
            yield _tmx_unit(unit, source.code, target.code)
        last_id = batch[-1].id


def _tmx_unit(unit: TranslationUnit, source_code: str, target_code: str) -> TmxUnit:
    props = {
        "x-region": unit.region.slug if unit.region else "",
        "x-page": unit.page.external_id if unit.page else "",
        "x-origin": unit.origin.value,
        "x-reviewed": "true" if unit.reviewed else "false",
        # reviewed | approved (a region published it) | unreviewed | machine: for the reader;
        # an import keeps x-reviewed only (an imported copy is no region's publication).
        "x-trust": trust_status(unit),
        "x-outdated": "true" if unit.outdated else "false",
        "x-license": unit.license,
        "x-attribution": unit.attribution,
        "x-url": unit.url,
    }
    if unit.import_batch:
        props["x-import-batch"] = unit.import_batch
    return TmxUnit(
        source_language=source_code,
        target_language=target_code,
        source_text=strip_markup(unit.source_text),
        target_text=strip_markup(unit.target_text),
        properties={name: value for name, value in props.items() if value},
        creation_date=unit.created_at,
        change_date=unit.translated_at or unit.updated_at,
        tuid=str(unit.id),
    )
