"""The termbase: concepts with terms per language, shared by all regions or one region's own.

Reads are public. Writes need a region admin for that region's own concepts and a global admin
for the shared ones (`authorize` with MANAGE_REGION / ADMINISTER); the command line (actor None)
is the operator. TBX and CSV imports read the whole file first (`memory.termbase_files`), then
store it in one transaction: a bad file raises `ImportRejected` and stores nothing, and the same
file twice changes nothing (concepts are keyed by scope and key; an unchanged concept is left
as it is, its `updated_at` too).

Matching reads `termbase_for(session, region)`: the shared concepts plus the region's own,
cached per process until the termbase changes, with one `TermRecognizer` per language.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import IO, Any, BinaryIO

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from matchers.qa_checks import QaFinding, term_findings
from matchers.scoring import PenaltyPolicy
from matchers.terms import TermEntry, TermHit, TermRecognizer
from memory.authorization import Action, Actor, authorize
from memory.errors import Conflict, ImportRejected, InvalidInput, NotFound
from memory.models import Page, PageTranslation, Region, TranslationStatus, utcnow
from memory.segmentation import html_to_text, split_sentences
from memory.services.regions import get_region
from memory.termbase_files import (
    ConceptData,
    TermbaseFileError,
    TermData,
    read_csv,
    read_tbx,
    write_tbx,
)
from memory.terminology_models import SHARED_SCOPE, Concept, Term, TermStatus

__all__ = [
    "AVOIDED",
    "Termbase",
    "check_suggestions",
    "delete_concept",
    "deprecated_terms_report",
    "export_tbx",
    "get_concept",
    "import_termbase",
    "list_concepts",
    "push_warnings",
    "put_concept",
    "qa_terminology",
    "termbase_for",
]

AVOIDED = frozenset({TermStatus.DEPRECATED.value, TermStatus.FORBIDDEN.value})
SHARED = "shared"  # how the API and CLI name the shared scope
MAX_FILE_BYTES = 20 * 1024 * 1024


# --------------------------------------------------------------------------- scopes


def _scope_of(session: Session, scope: str | None) -> tuple[str, Region | None]:
    """("", None) for the shared termbase, (slug, region) for a region's own."""
    if scope in (None, "", SHARED):
        return SHARED_SCOPE, None
    region = get_region(session, scope)
    return region.slug, region


def _authorize_scope(actor: Actor | None, scope: str) -> None:
    if actor is None:  # the operator at the command line
        return
    if scope == SHARED_SCOPE:
        authorize(actor, Action.ADMINISTER)
    else:
        authorize(actor, Action.MANAGE_REGION, scope)


def scope_name(scope: str) -> str:
    return scope or SHARED


# --------------------------------------------------------------------------- reading


def list_concepts(
    session: Session,
    *,
    scope: str | None = None,
    language: str | None = None,
    q: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Concept], int]:
    """Concepts of one scope ("shared" or a region slug; None: every scope), optionally only
    those with a term in `language` or a term containing `q`; ordered by key."""
    query = select(Concept)
    if scope is not None:
        key, _ = _scope_of(session, scope)
        query = query.where(Concept.scope == key)
    if language or q:
        terms = select(Term.concept_id)
        if language:
            terms = terms.where(Term.language == language)
        if q:
            terms = terms.where(func.lower(Term.text).contains(q.lower(), autoescape=True))
        query = query.where(Concept.id.in_(terms))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(selectinload(Concept.terms), selectinload(Concept.region))
        .order_by(Concept.scope, Concept.key)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


def get_concept(session: Session, concept_id: int) -> Concept:
    concept = session.get(Concept, concept_id)
    if concept is None:
        raise NotFound(f"No concept {concept_id}.", errors={"concept_id": ["Unknown concept."]})
    return concept


# --------------------------------------------------------------------------- writing


def _concept_data(data: Mapping[str, Any]) -> ConceptData:
    terms = [
        TermData(
            t["language"],
            " ".join(t["text"].split()),
            t.get("status", "preferred"),
            t.get("part_of_speech"),
            t.get("note"),
        )
        for t in data.get("terms", [])
    ]
    seen: set[tuple[str, str]] = set()
    for index, term in enumerate(terms):
        if (term.language, term.text) in seen:
            raise InvalidInput(
                f"The term {term.text!r} ({term.language}) is listed twice.",
                errors={f"terms.{index}": ["Listed twice."]},
            )
        seen.add((term.language, term.text))
    return ConceptData(
        key=data["key"],
        subject=data.get("subject"),
        definition=data.get("definition"),
        note=data.get("note"),
        source=data.get("source"),
        source_url=data.get("source_url"),
        license=data.get("license"),
        attribution=data.get("attribution"),
        terms=terms,
    )


def put_concept(
    session: Session, actor: Actor | None, scope: str | None, data: Mapping[str, Any]
) -> tuple[Concept, bool]:
    """Create the concept of `data["key"]` in a scope, or replace it; returns (concept,
    created)."""
    key, region = _scope_of(session, scope)
    _authorize_scope(actor, key)
    incoming = _concept_data(data)
    defaults = _defaults(region, None, None, None)
    existing = session.scalar(
        select(Concept).where(Concept.scope == key, Concept.key == incoming.key)
    )
    with _committed(session):
        concept = _store(session, key, region, incoming, existing, defaults)
    return concept, existing is None


@contextmanager
def _committed(session: Session) -> Iterator[None]:
    """Commit the writes of the block, or roll all of them back. A unique key that another
    write of the same concepts took first is a 409 Conflict: nothing of this write is kept."""
    try:
        yield
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise Conflict(
            "Another write to the same concepts happened at the same time; retry."
        ) from error
    except Exception:
        session.rollback()
        raise


def delete_concept(session: Session, actor: Actor | None, concept_id: int) -> None:
    concept = get_concept(session, concept_id)
    _authorize_scope(actor, concept.scope)
    session.delete(concept)
    session.commit()


@dataclass(frozen=True)
class _Defaults:
    license: str
    attribution: str
    source: str | None
    source_url: str | None


def _defaults(
    region: Region | None, license: str | None, attribution: str | None, source: str | None
) -> _Defaults:
    license = (license or "").strip() or (region.license if region else "")
    attribution = (attribution or "").strip()
    if not attribution and region is not None:
        attribution = region.attribution or f"{region.name} — shared under {license}"
    return _Defaults(license, attribution, (source or "").strip() or None, None)


def _fingerprint(concept: Concept) -> tuple[Any, ...]:
    return (
        concept.subject,
        concept.definition,
        concept.note,
        concept.source,
        concept.source_url,
        concept.license,
        concept.attribution,
        tuple(
            (t.language, t.text, t.status.value, t.part_of_speech, t.note)
            for t in sorted(concept.terms, key=lambda t: (t.language, t.position))
        ),
    )


def _store(
    session: Session,
    scope: str,
    region: Region | None,
    data: ConceptData,
    existing: Concept | None,
    defaults: _Defaults,
) -> Concept:
    license = data.license or defaults.license
    attribution = data.attribution or defaults.attribution
    missing = [
        name for name, value in (("license", license), ("attribution", attribution)) if not value
    ]
    if missing:
        raise ImportRejected(
            f"Concept {data.key!r} has no {' or '.join(missing)}: give it in the file or as "
            "the import's default (every term is shared under a licence, with attribution).",
            errors={name: ["Missing."] for name in missing},
        )
    positions: dict[str, int] = defaultdict(int)
    terms = []
    for term in data.terms:
        terms.append(
            (
                term.language,
                term.text,
                TermStatus(term.status),
                term.part_of_speech,
                term.note,
                positions[term.language],
            )
        )
        positions[term.language] += 1
    fields_ = {
        "subject": data.subject,
        "definition": data.definition,
        "note": data.note,
        "source": data.source or defaults.source,
        "source_url": data.source_url or defaults.source_url,
        "license": license,
        "attribution": attribution,
    }
    wanted = (
        *fields_.values(),
        tuple(
            (t[0], t[1], t[2].value, t[3], t[4]) for t in sorted(terms, key=lambda t: (t[0], t[5]))
        ),
    )
    if existing is not None and _fingerprint(existing) == wanted:
        return existing
    concept = existing or Concept(scope=scope, region=region, key=data.key)
    for name, value in fields_.items():
        setattr(concept, name, value)
    if existing is not None:
        # Replace the terms: delete first, so a term that only changed status does not collide
        # with its own unique key.
        session.execute(delete(Term).where(Term.concept_id == existing.id))
        session.expire(existing, ["terms"])
    concept.terms = [
        Term(language=lang, text=text, status=status, part_of_speech=pos, note=note, position=i)
        for lang, text, status, pos, note, i in terms
    ]
    if existing is None:
        session.add(concept)
    else:
        # Term rows alone changed: still a change of the concept (glossaries, caches).
        concept.updated_at = utcnow()
    session.flush()
    return concept


@dataclass
class TermbaseImportReport:
    scope: str
    format: str
    concepts: int = 0
    terms: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    languages: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def import_termbase(
    session: Session,
    actor: Actor | None,
    stream: BinaryIO | bytes,
    *,
    format: str,
    scope: str | None = None,
    license: str | None = None,
    attribution: str | None = None,
    source: str | None = None,
    max_bytes: int | None = MAX_FILE_BYTES,
) -> TermbaseImportReport:
    """Import a TBX or CSV termbase into a scope: all of it or nothing, idempotent.

    `license`, `attribution` and `source` apply to concepts that name none; for a region's own
    concepts the region's licence and attribution are the defaults. Raises ImportRejected."""
    key, region = _scope_of(session, scope)
    _authorize_scope(actor, key)
    data = (
        stream
        if isinstance(stream, bytes)
        else stream.read((max_bytes + 1) if max_bytes is not None else -1)
    )
    if max_bytes is not None and len(data) > max_bytes:
        raise ImportRejected(f"The file is larger than the limit of {max_bytes} bytes.")
    try:
        concepts = read_tbx(data) if format == "tbx" else read_csv(data)
    except TermbaseFileError as error:
        raise ImportRejected(
            f"Not a valid {format.upper()} termbase: {error}. Nothing was imported.",
            errors={"file": [str(error)]},
        ) from error
    report = TermbaseImportReport(scope=scope_name(key), format=format)
    defaults = _defaults(region, license, attribution, source)
    existing = {
        concept.key: concept
        for concept in session.scalars(
            select(Concept).where(Concept.scope == key).options(selectinload(Concept.terms))
        )
    }
    languages: set[str] = set()
    with _committed(session):
        for incoming in concepts:
            before = existing.get(incoming.key)
            fingerprint = _fingerprint(before) if before is not None else None
            stored = _store(session, key, region, incoming, before, defaults)
            report.concepts += 1
            report.terms += len(incoming.terms)
            languages.update(t.language for t in incoming.terms)
            if before is None:
                report.created += 1
            elif fingerprint == _fingerprint(stored):
                report.unchanged += 1
            else:
                report.updated += 1
    report.languages = sorted(languages)
    return report


def concept_data(concept: Concept) -> ConceptData:
    return ConceptData(
        key=concept.key,
        subject=concept.subject,
        definition=concept.definition,
        note=concept.note,
        source=concept.source,
        source_url=concept.source_url,
        license=concept.license,
        attribution=concept.attribution,
        terms=[
            TermData(t.language, t.text, t.status.value, t.part_of_speech, t.note)
            for t in concept.terms
        ],
    )


def export_tbx(session: Session, out: IO[bytes], *, scope: str | None = None) -> int:
    """Write a scope's concepts ("shared" by default) as TBX-Basic; returns how many."""
    key, _ = _scope_of(session, scope)
    rows = session.scalars(
        select(Concept)
        .where(Concept.scope == key)
        .options(selectinload(Concept.terms))
        .order_by(Concept.key)
    )
    return write_tbx(
        (concept_data(row) for row in rows), out, title=f"tm-service termbase: {scope_name(key)}"
    )


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class ConceptRecord:
    id: int
    key: str
    scope: str
    definition: str | None
    source: str | None
    source_url: str | None
    terms: dict[str, list[tuple[str, str]]]  # language → [(text, status)] in order

    def preferred(self, language: str) -> list[str]:
        """Target terms to use: preferred ones, else admitted ones."""
        terms = self.terms.get(language, [])
        preferred = [text for text, status in terms if status == TermStatus.PREFERRED.value]
        return preferred or [text for text, status in terms if status == TermStatus.ADMITTED.value]

    def admitted(self, language: str) -> list[str]:
        return [text for text, status in self.terms.get(language, []) if status not in AVOIDED]

    def avoided(self, language: str) -> list[tuple[str, str]]:
        return [
            (text, status) for text, status in self.terms.get(language, []) if status in AVOIDED
        ]


@dataclass(frozen=True)
class SegmentTerm:
    """A termbase term found in a source segment, with what the target should say."""

    concept_id: int
    concept_key: str
    term: str
    status: str
    surface: str
    start: int
    end: int
    preferred: list[str]
    avoid: list[str]
    definition: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class TargetCheck:
    """What a candidate translation does with the segment's terms."""

    terms: list[SegmentTerm]
    missing: list[SegmentTerm]  # source terms whose preferred or admitted target term it lacks
    avoided: list[TermHit]  # deprecated or forbidden target terms it uses

    @property
    def flagged(self) -> bool:
        return bool(self.avoided)


class Termbase:
    """The concepts one region sees (shared + its own), with a recognizer per language."""

    def __init__(self, concepts: Sequence[ConceptRecord]):
        self.concepts = {c.id: c for c in concepts}
        self._recognizers: dict[tuple[str, bool], TermRecognizer] = {}
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self.concepts)

    def recognizer(self, language: str, *, avoided_only: bool = False) -> TermRecognizer:
        key = (language, avoided_only)
        with self._lock:
            found = self._recognizers.get(key)
            if found is None:
                entries = [
                    TermEntry(c.id, text, language, status)
                    for c in self.concepts.values()
                    for text, status in c.terms.get(language, [])
                    if not avoided_only or status in AVOIDED
                ]
                found = self._recognizers[key] = TermRecognizer(entries, language)
            return found

    def terms_in(self, text: str, source_language: str, target_language: str) -> list[SegmentTerm]:
        """The termbase terms of a source text, each with its preferred target terms."""
        found = []
        for hit in self.recognizer(source_language).find(text):
            concept = self.concepts[hit.concept_id]
            found.append(
                SegmentTerm(
                    concept_id=concept.id,
                    concept_key=concept.key,
                    term=hit.term,
                    status=hit.status,
                    surface=hit.surface,
                    start=hit.start,
                    end=hit.end,
                    preferred=concept.preferred(target_language),
                    avoid=[text for text, _ in concept.avoided(target_language)],
                    definition=concept.definition,
                )
            )
        return found

    def check_target(
        self,
        source: str,
        source_language: str,
        target: str,
        target_language: str,
        terms: list[SegmentTerm] | None = None,
    ) -> TargetCheck:
        """Which of the source's terms a translation renders as the termbase says, and which
        deprecated or forbidden target terms it uses."""
        if terms is None:
            terms = self.terms_in(source, source_language, target_language)
        if not terms and not self.concepts:
            return TargetCheck([], [], [])
        hits = self.recognizer(target_language).find(target) if target else []
        used: dict[int, set[str]] = defaultdict(set)
        for hit in hits:
            used[hit.concept_id].add(hit.status)
        missing = []
        for term in terms:
            concept = self.concepts[term.concept_id]
            if not concept.admitted(target_language):
                continue  # nothing to say in this language
            statuses = used.get(term.concept_id, set())
            if not statuses - AVOIDED:
                missing.append(term)
        avoided = [hit for hit in hits if hit.status in AVOIDED]
        return TargetCheck(terms, missing, avoided)


_CACHE_SIZE = 64
_cache: OrderedDict[tuple[Any, ...], Termbase] = OrderedDict()
_cache_lock = threading.Lock()


def termbase_for(session: Session, region: str | Region | None) -> Termbase:
    """The termbase of a region (the shared concepts and the region's own; None: shared
    only), cached per process until a concept of it changes."""
    if isinstance(region, str) and region:
        region = get_region(session, region)  # NotFound for an unknown slug
    slug = region.slug if isinstance(region, Region) else ""
    scopes = [SHARED_SCOPE] if not slug else [SHARED_SCOPE, slug]
    count, changed, terms = session.execute(
        select(
            func.count(func.distinct(Concept.id)), func.max(Concept.updated_at), func.count(Term.id)
        )
        .select_from(Concept)
        .join(Term, Term.concept_id == Concept.id, isouter=True)
        .where(Concept.scope.in_(scopes))
    ).one()
    key = (str(getattr(session.get_bind(), "url", "")), slug, count, changed, terms)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    records = []
    rows = session.scalars(
        select(Concept).where(Concept.scope.in_(scopes)).options(selectinload(Concept.terms))
    )
    for row in rows:
        by_language: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for term in row.terms:
            by_language[term.language].append((term.text, term.status.value))
        records.append(
            ConceptRecord(
                row.id,
                row.key,
                row.scope,
                row.definition,
                row.source,
                row.source_url,
                dict(by_language),
            )
        )
    termbase = Termbase(records)
    with _cache_lock:
        _cache[key] = termbase
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return termbase


# --------------------------------------------------------------------------- deprecated terms


@dataclass
class Occurrence:
    region: str
    page: str
    language: str
    version: int
    title: str
    url: str
    term: str
    status: str
    surface: str
    sentence: str
    preferred: list[str]
    concept_key: str


def _occurrences(
    termbase: Termbase, region: str, translation: PageTranslation, language: str
) -> list[Occurrence]:
    recognizer = termbase.recognizer(language, avoided_only=True)
    if not recognizer:
        return []
    found = []
    for line in [translation.title, *html_to_text(translation.content).split("\n")]:
        for start, end in split_sentences(line, language):
            sentence = line[start:end].strip()
            for hit in recognizer.find(sentence):
                concept = termbase.concepts[hit.concept_id]
                found.append(
                    Occurrence(
                        region=region,
                        page=translation.page.external_id,
                        language=language,
                        version=translation.version,
                        title=translation.title,
                        url=translation.url,
                        term=hit.term,
                        status=hit.status,
                        surface=hit.surface,
                        sentence=sentence,
                        preferred=concept.preferred(language),
                        concept_key=concept.key,
                    )
                )
    return found


def _latest_public(session: Session, region_ids: Sequence[int] | None) -> Iterable[PageTranslation]:
    latest = (
        select(
            PageTranslation.page_id,
            PageTranslation.language_id,
            func.max(PageTranslation.version).label("v"),
        )
        .where(PageTranslation.status == TranslationStatus.PUBLIC)
        .group_by(PageTranslation.page_id, PageTranslation.language_id)
        .subquery()
    )
    query = (
        select(PageTranslation)
        .join(
            latest,
            (PageTranslation.page_id == latest.c.page_id)
            & (PageTranslation.language_id == latest.c.language_id)
            & (PageTranslation.version == latest.c.v),
        )
        .join(Page, Page.id == PageTranslation.page_id)
        .options(selectinload(PageTranslation.page))
        .order_by(Page.region_id, Page.external_id, PageTranslation.language_id)
    )
    if region_ids is not None:
        query = query.where(Page.region_id.in_(region_ids))
    return session.scalars(query)


def deprecated_terms_report(
    session: Session, *, region: str | None = None, language: str | None = None
) -> dict[str, Any]:
    """Every public page (latest public version per language) that still uses a deprecated or
    forbidden term of the termbase the page's region sees: per region, with counts, the
    sentences and the preferred term."""
    regions = (
        [get_region(session, region)]
        if region
        else list(session.scalars(select(Region).order_by(Region.slug)))
    )
    by_region = []
    for home in regions:
        termbase = termbase_for(session, home)
        occurrences: list[Occurrence] = []
        if termbase:
            for translation in _latest_public(session, [home.id]):
                code = translation.language.code
                if language and code != language:
                    continue
                occurrences.extend(_occurrences(termbase, home.slug, translation, code))
        terms: dict[str, int] = defaultdict(int)
        pages: dict[tuple[str, str], dict[str, Any]] = {}
        for occurrence in occurrences:
            terms[occurrence.term] += 1
            page = pages.setdefault(
                (occurrence.page, occurrence.language),
                {
                    "page": occurrence.page,
                    "language": occurrence.language,
                    "version": occurrence.version,
                    "title": occurrence.title,
                    "url": occurrence.url,
                    "occurrences": [],
                },
            )
            page["occurrences"].append(
                {
                    "term": occurrence.term,
                    "status": occurrence.status,
                    "surface": occurrence.surface,
                    "sentence": occurrence.sentence,
                    "preferred": occurrence.preferred,
                    "concept": occurrence.concept_key,
                }
            )
        if occurrences or region:
            by_region.append(
                {
                    "region": home.slug,
                    "pages": len(pages),
                    "occurrences": len(occurrences),
                    "terms": dict(sorted(terms.items(), key=lambda kv: (-kv[1], kv[0]))),
                    "items": list(pages.values()),
                }
            )
    return {
        "regions": by_region,
        "pages": sum(r["pages"] for r in by_region),
        "occurrences": sum(r["occurrences"] for r in by_region),
    }


def push_warnings(session: Session, translation: PageTranslation) -> list[dict[str, Any]]:
    """Deprecated or forbidden terms a new version introduces (not in the version before it)."""
    page = translation.page
    termbase = termbase_for(session, page.region)
    if not termbase:
        return []
    language = translation.language.code
    now = _occurrences(termbase, page.region.slug, translation, language)
    if not now:
        return []
    previous = session.scalar(
        select(PageTranslation)
        .where(
            PageTranslation.page_id == translation.page_id,
            PageTranslation.language_id == translation.language_id,
            PageTranslation.version < translation.version,
        )
        .order_by(PageTranslation.version.desc())
        .limit(1)
    )
    before: set[tuple[str, str]] = set()
    if previous is not None:
        before = {
            (o.term, o.sentence)
            for o in _occurrences(termbase, page.region.slug, previous, language)
        }
    return [
        {
            "term": o.term,
            "status": o.status,
            "surface": o.surface,
            "sentence": o.sentence,
            "preferred": o.preferred,
            "concept": o.concept_key,
        }
        for o in now
        if (o.term, o.sentence) not in before
    ]


# --------------------------------------------------------------------------- suggestions


def qa_terminology(
    session: Session, region: Region | str | None, source_language: str, target_language: str
) -> Callable[[str, str], list[QaFinding]] | None:
    """The terminology check of `matchers.qa_checks.check_translation` for a region's
    termbase and a language pair; None when the termbase is empty."""
    termbase = termbase_for(session, region)
    if not termbase:
        return None

    def check(source: str, target: str) -> list[QaFinding]:
        result = termbase.check_target(source, source_language, target, target_language)
        return term_findings(
            [(term.term, term.preferred) for term in result.missing],
            [
                (
                    hit.status,
                    hit.surface,
                    termbase.concepts[hit.concept_id].preferred(target_language),
                )
                for hit in result.avoided
            ],
        )

    return check


def check_suggestions(
    session: Session,
    region: Region,
    source_language: str,
    target_language: str,
    segments: Sequence[Any],
    policy: PenaltyPolicy,
) -> None:
    """Each segment's termbase terms (`segment.terms`) and each candidate's use of them
    (`candidate.terminology`): a `terminology` penalty per term not rendered with a preferred
    or admitted target term, `flagged` when it uses a deprecated or forbidden one; candidates
    re-ranked by the new scores."""
    termbase = termbase_for(session, region)
    if not termbase:
        return
    for segment in segments:
        source = segment.plain_source
        terms = termbase.terms_in(source, source_language, target_language)
        segment.terms = [term.as_dict() for term in terms]
        checked = [
            _with_terminology(c, termbase, source, terms, source_language, target_language, policy)
            for c in segment.candidates
        ]
        if checked != segment.candidates:
            segment.candidates = sorted(
                checked, key=lambda c: -(c.score if c.score is not None else -1.0)
            )


def _with_terminology(
    candidate: Any,
    termbase: Termbase,
    source: str,
    terms: list[SegmentTerm],
    source_language: str,
    target_language: str,
    policy: PenaltyPolicy,
) -> Any:
    result = termbase.check_target(source, source_language, candidate.text, target_language, terms)
    if not terms and not result.avoided:
        return candidate
    record = {
        "flagged": result.flagged,
        "terms": [
            {"term": t.term, "preferred": t.preferred, "used": t not in result.missing}
            for t in terms
        ],
        "avoided": [
            {
                "term": hit.term,
                "status": hit.status,
                "surface": hit.surface,
                "preferred": termbase.concepts[hit.concept_id].preferred(target_language),
            }
            for hit in result.avoided
        ],
    }
    missing = list(result.missing)
    amount = policy.terminology * len(missing)
    score, trust, penalties = candidate.score, candidate.trust, candidate.penalties
    if amount > 0:
        detail = "; ".join(
            f"'{t.term}' not rendered as " + " or ".join(f"'{p}'" for p in t.preferred)
            for t in missing
        )
        if result.avoided:
            detail += "; uses " + ", ".join(f"{h.status} '{h.surface}'" for h in result.avoided)
        penalty = {"code": "terminology", "amount": amount, "detail": detail}
        penalties = (*penalties, penalty)
        if score is not None:
            score = round(max(score - amount, 0.0), 2)
        if trust is not None:
            trust = {
                **trust,
                "score": round(max(float(trust["score"]) - amount, 0.0), 2),
                "penalties": [*trust["penalties"], penalty],
            }
    return replace(candidate, score=score, trust=trust, penalties=penalties, terminology=record)
