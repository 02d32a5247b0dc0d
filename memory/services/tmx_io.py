"""TMX import and export of translation units: atomic, idempotent, streaming.

Import reads with memory.tmx.read_tmx (streaming, XXE-safe, bounded `<tu>`s, BCP 47 language
tags), writes in chunks of `CHUNK_UNITS` units (PostgreSQL: one COPY into a staging table
while the file is read, then one INSERT … SELECT of the keys not stored yet; elsewhere batched
INSERTs; the key of a source sentence computed once per import, not once per target language),
and commits once at the end: any `TmxError` rolls the whole file back and raises
`ImportRejected` naming the line. Units are keyed like page units by their real text (source
text, target text, languages, region, no page), so the same file twice adds nothing and
"Raum 202" / "Raum 303" stay two units. Every unit names its licence and attribution: the
unit's `x-license` / `x-attribution` properties, else the import's `license` / `attribution`,
else the region's; a unit left without either rejects the file.

A long import never holds the TM change counter: it reserves a revision in a short transaction
of its own before it writes, and publishes it just before its one commit, so reviews, page
refreshes and other writers go on meanwhile (`translation_memory.reserve_revision`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
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
    keys = _SegmentKeys()
    reader = read_tmx(source, max_bytes=max_bytes)
    # Before anything is written (it commits): the import then holds no lock other writers need.
    revision = reserve_revision(session)
    sink: _UnitSink = (
        _CopySink(session) if session.get_bind().dialect.name == "postgresql" else _InsertSink()
    )
    try:
        units = iter(reader)
        while chunk := list(islice(units, CHUNK_UNITS)):
            _store_chunk(
                session,
                chunk,
                home,
                batch_name,
                languages,
                keys,
                report,
                revision,
                provenance,
                sink,
            )
        sink.finish(session, report)
    except TmxError as error:
        sink.abort()
        session.rollback()
        line = f" at line {error.line}" if error.line else ""
        raise ImportRejected(
            f"The TMX file was rejected{line}: {error.message}. Nothing was imported.",
            errors={"file": [str(error)]},
        ) from None
    except BaseException:
        sink.abort()
        session.rollback()
        raise
    stats = reader.stats
    report.translation_units = stats.translation_units
    report.skipped += stats.skipped_translation_units + stats.skipped_segments
    report.languages = sorted(languages)
    if report.created:
        publish_revision(session, revision)
    session.commit()
    report.seconds = time.perf_counter() - started
    return report


class _SegmentKeys:
    """`segment_key` of each text once per import: a source sentence comes once per target
    language (8–15 times on the platform), and its key is most of an import's CPU."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str], SegmentKey] = {}

    def __call__(self, text: str, language: str) -> SegmentKey:
        found = self._keys.get((text, language))
        if found is None:
            if len(self._keys) >= self.LIMIT:
                self._keys.clear()
            found = self._keys[(text, language)] = segment_key(text, language)
        return found


def _store_chunk(
    session: Session,
    units: list[TmxUnit],
    home: Region | None,
    batch_name: str,
    languages: dict[str, Language],
    keys: _SegmentKeys,
    report: ImportReport,
    revision: int,
    provenance: Provenance,
    sink: _UnitSink,
) -> None:
    region_id = home.id if home else None
    unseen = {u.source_language for u in units} | {u.target_language for u in units}
    unseen -= languages.keys()
    if unseen:
        sink.pause()  # a language may have to be created: no query while a COPY is open
        for code in sorted(unseen):
            _language(session, languages, code)
    rows: dict[str, dict[str, Any]] = {}
    for unit in units:
        report.units += 1
        source = _language(session, languages, unit.source_language)
        target = _language(session, languages, unit.target_language)
        source_key = keys(unit.source_text, source.code)
        target_key = segment_key(unit.target_text, target.code)
        if not source_key.form or not target_key.form:
            report.skipped += 1
            continue
        key = unit_key(
            unit.source_text, unit.target_text, source.id, target.id, region_id, page_id=None
        )
        if key in rows:
            report.unchanged += 1
            continue
        props = unit.properties
        license = (props.get("x-license") or "").strip() or provenance.license
        attribution = (props.get("x-attribution") or "").strip() or provenance.attribution
        if not license or not attribution:
            raise _unlicensed(
                unit, report.units, missing="license" if not license else "attribution"
            )
        when = unit.change_date or unit.creation_date
        rows[key] = {
            "unit_key": key,
            "source_language_id": source.id,
            "target_language_id": target.id,
            "source_text": unit.source_text,
            "target_text": unit.target_text,
            "source_form": source_key.form,
            "target_form": target_key.form,
            "source_hash": source_key.hash,
            "target_hash": target_key.hash,
            "context_hash": None,
            "position": 0,
            "region_id": region_id,
            "page_id": None,
            "origin": _origin(props.get("x-origin")),
            "reviewed": props.get("x-reviewed", "").strip().lower() in ("true", "1", "yes"),
            "outdated": props.get("x-outdated", "").strip().lower() in ("true", "1", "yes"),
            "license": license[:100],
            "attribution": attribution,
            "url": ((props.get("x-url") or "").strip() or provenance.url)[:1000],
            "import_batch": batch_name,
            "translated_at": when,
        }
    if not rows:
        return
    now = utcnow()
    for row in rows.values():
        row.update(revision=revision, created_at=now, updated_at=now)
    sink.store(session, rows, report)


# The columns an import writes (the keys of `_store_chunk`'s rows), in the model's order.
_IMPORTED = {
    "unit_key", "source_language_id", "target_language_id", "source_text", "target_text",
    "source_form", "target_form", "source_hash", "target_hash", "context_hash", "position",
    "region_id", "page_id", "origin", "reviewed", "outdated", "license", "attribution", "url",
    "import_batch", "translated_at", "revision", "created_at", "updated_at",
}  # fmt: skip
_COLUMNS = [c for c in TranslationUnit.__table__.columns.keys() if c in _IMPORTED]


class _UnitSink:
    """Where the units of one import go; `report.created` / `unchanged` are counted there."""

    def store(self, session: Session, rows: dict[str, dict[str, Any]], report: ImportReport):
        raise NotImplementedError

    def pause(self) -> None:
        """Before the importer itself queries the database."""

    def finish(self, session: Session, report: ImportReport) -> None:
        """After the last chunk, before the commit."""

    def abort(self) -> None:
        """On an error, before the rollback."""


class _InsertSink(_UnitSink):
    """Per chunk: leave out the keys already stored, insert the others in one batch."""

    def store(self, session: Session, rows: dict[str, dict[str, Any]], report: ImportReport):
        known = set(
            session.scalars(
                select(TranslationUnit.unit_key).where(TranslationUnit.unit_key.in_(rows))
            )
        )
        report.unchanged += len(known)
        new_rows = [row for key, row in rows.items() if key not in known]
        if new_rows:
            session.execute(insert(TranslationUnit), new_rows)
            report.created += len(new_rows)
        session.flush()


class _CopySink(_UnitSink):
    """PostgreSQL: every chunk streams into one COPY to a temporary table while the file is
    still being read (the server takes the rows on its own core), then one INSERT … SELECT
    adds the keys not stored yet. Several times the rate of batched INSERTs with a key query
    per chunk (docs/benchmarks.md, bench/tmx_import.py)."""

    def __init__(self, session: Session) -> None:
        from psycopg import sql

        driver = session.connection().connection.driver_connection
        assert driver is not None
        self._cursor = driver.cursor()
        table = sql.Identifier(TranslationUnit.__tablename__)
        staging = sql.Identifier("tmx_import_unit")
        columns = sql.SQL(", ").join(map(sql.Identifier, _COLUMNS))
        # Only the imported columns, no constraints; gone at the end of the transaction.
        self._cursor.execute(
            sql.SQL(
                "CREATE TEMPORARY TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA"
            ).format(staging, columns, table)
        )
        self._copy_statement = sql.SQL("COPY {} ({}) FROM STDIN").format(staging, columns)
        self._insert_statement = sql.SQL(
            "INSERT INTO {} ({}) SELECT DISTINCT ON (unit_key) {} FROM {} ORDER BY unit_key "
            "ON CONFLICT (unit_key) DO NOTHING"
        ).format(table, columns, columns, staging)
        self._values_of = itemgetter(*_COLUMNS)
        self._copy: Any = None
        self._copy_context: Any = None
        self._rows = 0

    def store(self, session: Session, rows: dict[str, dict[str, Any]], report: ImportReport):
        if self._copy is None:
            self._copy_context = self._cursor.copy(self._copy_statement)
            self._copy = self._copy_context.__enter__()
        write_row = self._copy.write_row
        values_of = self._values_of
        for row in rows.values():
            write_row(values_of(row))  # Origin is a StrEnum: written as its value
        self._rows += len(rows)

    def pause(self) -> None:
        if self._copy_context is not None:
            self._copy_context.__exit__(None, None, None)
        self._copy = self._copy_context = None

    def finish(self, session: Session, report: ImportReport) -> None:
        self.pause()
        self._cursor.execute(self._insert_statement)
        created = max(self._cursor.rowcount, 0)
        report.created += created
        report.unchanged += self._rows - created

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
