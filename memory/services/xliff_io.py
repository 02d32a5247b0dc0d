"""XLIFF export of a region's pages for translation agencies, and import of the returned files.

Export (`export_xliff`): the region's pages for one target language, each translated from the
language the region's language tree names (de → en, en → ar), one `<file>` per page and one
unit per segment (connectors.xliff: ids name page, source version and segment). Each unit is
pre-filled: the page's own current translation of the segment when it is up to date (state
translated), else the best candidate of the suggestions service (memory, near-duplicate pages;
state needs-review), with its match, trust and origin as a note and the other candidates as
alternatives (1.2 `<alt-trans>`, 2.0 `<mtc:match>`). Text reused from another region names
its region, licence, attribution and address, per unit and per page.

Import (`import_xliff`): a returned file, checked whole before anything is stored — every unit
of every page present, sources as exported, targets non-empty, inline tags the source has —
then, in one transaction, one new version per page (draft unless `publish`) made from the
exported source version, and a reviewed translation unit for each unit the translator settled
on (states translated / signed-off / final, 2.0 reviewed) that the memory does not hold yet.
Any error rejects the whole file (`ImportRejected`, naming the units); the same file twice
stores nothing the second time. A page whose source changed since the export is refused
(`on_changed="refuse"`, the default) or stored as outdated (`"outdated"`: made from the old
source version, so the page shows as outdated until it is translated again).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.xliff import (
    VERSIONS,
    AltTrans,
    ReadUnit,
    WriteFile,
    WriteUnit,
    XliffError,
    parse_unit_id,
    placeholders_of,
    read_xliff,
    unit_id,
    write_xliff,
)
from memory.authorization import Action, Actor, authorize
from memory.errors import Conflict, DomainError, ImportRejected, InvalidInput, NotFound
from memory.language_tags import service_language_code
from memory.models import (
    Language,
    Origin,
    Page,
    PageTranslation,
    Region,
    ReviewStatus,
    TranslationStatus,
)
from memory.segmentation import PLACEHOLDER_RE, build_template
from memory.services.pages import (
    get_page_or_404,
    latest_public_by_language,
    store_translation,
    translation_source_language,
)
from memory.services.regions import get_language, get_region, region_language_parent
from memory.services.suggestions import (
    META_PART,
    Candidate,
    SegmentSuggestion,
    SuggestionResult,
)
from memory.services.translation_memory import add_reviewed_unit, segment_key, strip_markup
from memory.tm_models import TranslationUnit

__all__ = [
    "ON_CHANGED",
    "ExportReport",
    "ImportReport",
    "export_xliff",
    "import_xliff",
]

# (page external id, target language code) → the page's suggestions (no machine translation,
# not queued): the API and the CLI bind the app's index, penalties and near-duplicate finder.
SuggestPage = Callable[[str, str], SuggestionResult]
Progress = Callable[[int, int], None]

ON_CHANGED = ("refuse", "outdated")
# Errors listed in a rejection (the detail says how many there were).
MAX_LISTED_ERRORS = 20


@dataclass
class ExportReport:
    region: str
    source_languages: list[str]
    target_language: str
    version: str
    pages: int = 0
    units: int = 0
    # How units were pre-filled: own (the page's current translation), translation_memory,
    # near_duplicate, own_outdated, none.
    prefilled: Counter[str] = field(default_factory=Counter)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "source_languages": self.source_languages,
            "target_language": self.target_language,
            "version": self.version,
            "pages": self.pages,
            "units": self.units,
            "prefilled": dict(sorted(self.prefilled.items())),
            "skipped": self.skipped,
        }


@dataclass
class ImportReport:
    region: str
    source_language: str
    target_language: str
    version: str
    status: str
    pages: int = 0
    units: int = 0
    created: int = 0  # new page translation versions
    unchanged: int = 0  # pages whose translation was stored already
    outdated: list[str] = field(default_factory=list)  # pages stored as outdated
    reviewed_units: int = 0  # reviewed translation units written
    known_units: int = 0  # settled units the memory held already
    changed_translation_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "source_language": self.source_language,
            "target_language": self.target_language,
            "version": self.version,
            "status": self.status,
            "pages": self.pages,
            "units": self.units,
            "created": self.created,
            "unchanged": self.unchanged,
            "outdated": self.outdated,
            "reviewed_units": self.reviewed_units,
            "known_units": self.known_units,
        }


# --------------------------------------------------------------------------- export


def export_xliff(
    session: Session,
    actor: Actor | None,
    region_slug: str,
    target_language: str,
    *,
    suggest: SuggestPage,
    version: str = "1.2",
    pages: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> tuple[bytes, ExportReport]:
    """The region's pages (or the named ones) for `target_language` as one XLIFF document.

    Pages without a public translation in the language they are translated from are left out
    (listed in the report's `skipped`); a named page without one is a NotFound.
    """
    authorize(actor, Action.SUGGEST, region_slug)
    if version not in VERSIONS:
        raise InvalidInput(
            f"XLIFF version {version!r} is not supported.",
            errors={"version": [f"One of {', '.join(VERSIONS)}."]},
        )
    region = get_region(session, region_slug)
    target = get_language(session, target_language, field="target_language")
    _check_in_tree(region, target)
    chosen = _export_pages(session, region, pages)
    report = ExportReport(
        region=region.slug, source_languages=[], target_language=target.code, version=version
    )
    files: list[WriteFile] = []
    sources: dict[str, Language] = {}
    for done, page in enumerate(chosen, start=1):
        source = translation_source_language(region, page, target)
        current_source = latest_public_by_language(page).get(source.id) if source else None
        if source is None or current_source is None:
            reason = (
                f"written in {target.code}"
                if source is None
                else f"no public {source.code} translation"
            )
            if pages is not None:
                raise NotFound(
                    f"Page '{page.external_id}' cannot be exported: {reason}.",
                    errors={"pages": [f"{page.external_id}: {reason}."]},
                )
            report.skipped.append({"page": page.external_id, "reason": reason})
        else:
            sources[source.code] = source
            result = suggest(page.external_id, target.code)
            files.append(_page_file(page, current_source, result, report))
        if progress:
            progress(done, len(chosen))
    if len(sources) > 1:
        # A region's tree gives one parent per language; pages written in another language
        # than the region's would need a file of their own.
        raise InvalidInput(
            f"The pages are translated into {target.code} from several languages "
            f"({', '.join(sorted(sources))}); export them page by page.",
            errors={"pages": ["Pages of one source language only."]},
        )
    if not files:
        raise NotFound(
            f"Region '{region.slug}' has no page to translate into {target.code}.",
            errors={"target_language": ["No page has a public source translation."]},
        )
    source_language = next(iter(sources.values()))
    report.source_languages = sorted(sources)
    data = write_xliff(
        files,
        version=version,
        source_language=source_language.code,
        target_language=target.code,
        source_direction=source_language.direction.value,
        target_direction=target.direction.value,
    )
    return data, report


def _check_in_tree(region: Region, target: Language) -> None:
    if target.id == region.source_language.id:
        raise InvalidInput(
            f"'{target.code}' is the source language of region '{region.slug}'.",
            errors={"target_language": ["The region's pages are written in it."]},
        )
    if region_language_parent(region, target) is None:
        raise InvalidInput(
            f"Region '{region.slug}' does not translate into '{target.code}' (its language "
            "tree has no such node).",
            errors={"target_language": ["Not in the region's language tree."]},
        )


def _export_pages(session: Session, region: Region, names: Sequence[str] | None) -> list[Page]:
    if names is not None:
        return [get_page_or_404(session, region, name, field="pages") for name in names]
    return list(
        session.scalars(
            select(Page).where(Page.region_id == region.id).order_by(Page.position, Page.id)
        )
    )


def _page_file(
    page: Page, source: PageTranslation, result: SuggestionResult, report: ExportReport
) -> WriteFile:
    units = []
    credits: dict[str, dict[str, Any]] = {}
    for segment in result.segments:
        markup = frozenset(segment.markup)
        used, done, how = _prefill(segment)
        report.prefilled[how] += 1
        alternatives = tuple(
            AltTrans(
                text=_own_placeholders(c.segment or c.text, markup),
                source_text=c.match_source_text or "",
                match_quality=c.match,
                origin=_origin_label(c),
            )
            for c in segment.candidates
            if c is not used and not c.is_machine
        )
        if used is not None and how in ("translation_memory", "near_duplicate"):
            region = used.origin.get("region")
            if region and region != page.region.slug:
                credit = credits.setdefault(str(region), {"units": 0, "candidate": used})
                credit["units"] += 1
        units.append(
            WriteUnit(
                id=unit_id(page.external_id, source.version, segment.part, segment.index),
                source=segment.source_text,
                markup=markup,
                target=_own_placeholders(used.segment or used.text, markup) if used else None,
                done=done,
                notes=(_describe(used, how, page),),
                alternatives=alternatives,
            )
        )
        report.units += 1
    report.pages += 1
    notes = [
        f"Page {page.external_id} of {page.region.name} ({page.region.slug}), "
        f"{source.language.code} version {source.version}: {source.url or source.path}",
    ]
    for region, credit in sorted(credits.items()):
        origin = credit["candidate"].origin
        name = origin.get("region_name") or region
        licence = origin.get("license") or "its licence"
        notes.append(
            f"Reuses {credit['units']} segment(s) of {name} ({region}) under {licence}: "
            + f"{origin.get('attribution') or ''} {origin.get('url') or ''}".strip()
        )
    return WriteFile(original=page.external_id, units=tuple(units), notes=tuple(notes))


def _prefill(segment: SegmentSuggestion) -> tuple[Candidate | None, bool, str]:
    """What a unit is pre-filled with: (candidate, whether it is sure, how it was chosen)."""
    current = segment.current
    if current is not None and (current.match or 0) >= 100 and not _outdated(current):
        return current, True, "own"
    chosen = segment.chosen
    # A match of the whole sentence only: an assembly of fragments leaves words in the source
    # language, which a CAT tool would take for a translation (it is offered as an alternative).
    if chosen is not None and not chosen.is_machine and chosen.match is not None:
        return chosen, False, chosen.source
    if current is not None:
        return current, False, "own_outdated"
    return None, False, "none"


def _outdated(candidate: Candidate) -> bool:
    return bool((candidate.trust or {}).get("outdated") or candidate.origin.get("outdated"))


def _own_placeholders(text: str, markup: frozenset[str]) -> str:
    """Leave out placeholders a stored translation has but the segment lacks."""
    return PLACEHOLDER_RE.sub(lambda m: m.group(0) if m.group(0) in markup else "", text)


def _origin_label(candidate: Candidate) -> str:
    region = candidate.origin.get("region") or "memory"
    page = candidate.origin.get("page")
    return f"{candidate.source}:{region}" + (f":{page}" if page else "")


def _describe(candidate: Candidate | None, how: str, page: Page) -> str:
    """The unit's note: where its pre-filled target comes from and how far to trust it."""
    if candidate is None:
        return "No candidate: translate this segment."
    trust = candidate.trust or {}
    origin = candidate.origin
    parts = [
        {
            "own": "The page's current translation",
            "own_outdated": "The page's earlier translation (its source changed since)",
            "translation_memory": "Translation memory",
            "near_duplicate": "A similar page of another region",
        }.get(how, how),
        f"{candidate.kind} match {candidate.match:g} %"
        if candidate.match is not None
        else f"{candidate.kind} (no match score)",
        f"trust {trust.get('status')} {trust.get('score')}" if trust else "",
        f"score {candidate.score:g}" if candidate.score is not None else "",
    ]
    text = ", ".join(part for part in parts if part)
    if origin.get("region") not in (None, page.region.slug):
        text += (
            f". From {origin.get('region_name') or origin.get('region')}"
            f" page {origin.get('page') or '-'} under {origin.get('license') or 'its licence'}"
            f" — {origin.get('attribution') or ''} {origin.get('url') or ''}".rstrip()
        )
    penalties = [p.get("code") for p in candidate.penalties if p.get("code")]
    if penalties:
        text += f". Penalties: {', '.join(str(code) for code in penalties)}"
    return text + "."


# --------------------------------------------------------------------------- import


@dataclass
class _PageImport:
    page: Page
    source: PageTranslation  # the exported source version
    units: dict[str, ReadUnit]
    targets: dict[tuple[str, int], str] = field(default_factory=dict)
    changed: bool = False


def import_xliff(
    session: Session,
    actor: Actor | None,
    region_slug: str,
    data: bytes,
    *,
    publish: bool = False,
    on_changed: str = "refuse",
    max_bytes: int | None = None,
) -> ImportReport:
    """Store a returned XLIFF file: a version per page, reviewed units; atomic, idempotent.

    `actor=None` is the operator at the command line. `publish`: the new versions are public
    (default: drafts). `on_changed`: "refuse" a file with a page whose source changed since
    the export, or store such pages as "outdated".
    """
    if actor is not None:
        authorize(actor, Action.WRITE_CONTENT, region_slug)
    if on_changed not in ON_CHANGED:
        raise InvalidInput(
            f"on_changed is one of {', '.join(ON_CHANGED)}.",
            errors={"on_changed": [f"One of {', '.join(ON_CHANGED)}."]},
        )
    region = get_region(session, region_slug)
    try:
        document = read_xliff(data, max_bytes=max_bytes)
    except XliffError as error:
        raise ImportRejected(
            f"The XLIFF file was rejected: {error}. Nothing was imported.",
            errors={"file": [str(error)]},
        ) from None
    source, target = _document_languages(
        session, region, document.source_language, document.target_language
    )
    report = ImportReport(
        region=region.slug,
        source_language=source.code,
        target_language=target.code,
        version=document.version,
        status=(TranslationStatus.PUBLIC if publish else TranslationStatus.DRAFT).value,
        units=len(document.units),
    )
    plans = _check_units(session, region, source, document.units)
    changed = [plan for plan in plans if plan.changed]
    if changed and on_changed == "refuse":
        raise ImportRejected(
            f"{len(changed)} page(s) changed since the export: "
            + ", ".join(
                f"{plan.page.external_id} (exported {source.code} version {plan.source.version})"
                for plan in changed[:MAX_LISTED_ERRORS]
            )
            + ". Export them again, or import with on_changed=outdated to store the "
            "translations as outdated. Nothing was imported.",
            errors={"on_changed": ["The source of these pages changed since the export."]},
        )
    new_versions: list[PageTranslation] = []
    try:
        for plan in plans:
            _store_page(session, region, source, target, plan, publish, report, new_versions)
        session.flush()
        report.changed_translation_ids = [version.id for version in new_versions]
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise Conflict(
            "Another write to these pages happened at the same time; retry the import."
        ) from error
    except DomainError:
        session.rollback()
        raise
    except Exception as error:
        session.rollback()
        raise ImportRejected(f"The XLIFF import failed; nothing was stored: {error}") from error
    report.pages = len(plans)
    return report


def _document_languages(
    session: Session, region: Region, source_tag: str, target_tag: str
) -> tuple[Language, Language]:
    """The file's languages, which must be an edge of the region's language tree (a target
    the tree lacks is translated from the region's source language)."""
    languages = []
    for tag, name in ((source_tag, "source"), (target_tag, "target")):
        try:
            code = service_language_code(tag)
        except ValueError as error:
            raise ImportRejected(
                f"The XLIFF file was rejected: its {name} language: {error}.",
                errors={"file": [f"{name} language: {error}"]},
            ) from None
        language = session.scalar(select(Language).where(Language.code == code))
        if language is None:
            language = session.scalar(
                select(Language).where(Language.code == code.split("-", 1)[0])
            )
        if language is None:
            raise ImportRejected(
                f"The XLIFF file was rejected: unknown {name} language '{tag}'.",
                errors={"file": [f"Unknown {name} language '{tag}'."]},
            )
        languages.append(language)
    source, target = languages
    # As for a push: a language the tree lacks is translated from the region's own language.
    parent = region_language_parent(region, target) or region.source_language
    if parent.id != source.id or target.id == region.source_language.id:
        raise ImportRejected(
            f"The XLIFF file translates {source.code} → {target.code}, but region "
            f"'{region.slug}' translates {target.code} from '{parent.code}'. Nothing was "
            "imported.",
            errors={"file": ["The languages do not match the region's language tree."]},
        )
    return source, target


def _check_units(
    session: Session, region: Region, source: Language, units: Sequence[ReadUnit]
) -> list[_PageImport]:
    """Every unit mapped to its page, version and segment, and checked; all errors at once."""
    errors: list[str] = []
    plans: dict[str, _PageImport] = {}
    seen: set[str] = set()
    templates: dict[int, Any] = {}
    for unit in units:
        try:
            identity = parse_unit_id(unit.id)
        except XliffError as error:
            errors.append(str(error))
            continue
        if unit.id in seen:
            errors.append(f"unit {unit.id}: given twice")
            continue
        seen.add(unit.id)
        if unit.file and unit.file != identity.page:
            errors.append(f"unit {unit.id}: in the <file> of page '{unit.file}'")
            continue
        plan = plans.get(identity.page)
        if plan is None:
            page = session.scalar(
                select(Page).where(Page.region_id == region.id, Page.external_id == identity.page)
            )
            if page is None:
                errors.append(
                    f"unit {unit.id}: region '{region.slug}' has no page '{identity.page}'"
                )
                continue
            exported = session.scalar(
                select(PageTranslation).where(
                    PageTranslation.page_id == page.id,
                    PageTranslation.language_id == source.id,
                    PageTranslation.version == identity.version,
                )
            )
            if exported is None:
                errors.append(
                    f"unit {unit.id}: page '{identity.page}' has no {source.code} "
                    f"version {identity.version}"
                )
                continue
            current = latest_public_by_language(page).get(source.id)
            plan = plans[identity.page] = _PageImport(
                page=page,
                source=exported,
                units={},
                changed=current is not None and current.content_hash != exported.content_hash,
            )
            templates[page.id] = build_template(exported.content or "", source.code)
        if identity.version != plan.source.version:
            errors.append(
                f"unit {unit.id}: page '{identity.page}' is in the file at version "
                f"{plan.source.version} too"
            )
            continue
        plan.units[unit.id] = unit
    for plan in plans.values():
        errors.extend(_check_page(plan, templates[plan.page.id]))
    if errors:
        listed = errors[:MAX_LISTED_ERRORS]
        more = f" (and {len(errors) - len(listed)} more)" if len(errors) > len(listed) else ""
        raise ImportRejected(
            f"The XLIFF file was rejected: {'; '.join(listed)}{more}. Nothing was imported.",
            errors={"units": listed},
        )
    return list(plans.values())


Expected = list[tuple[str, int, str, frozenset[str]]]


def _expected_segments(plan: _PageImport, template: Any) -> Expected:
    """(part, index, source text, placeholders) of every segment the page's unit set has."""
    expected: Expected = []
    title = plan.source.title.strip()
    if title:
        expected.append(("title", 0, title, frozenset()))
    meta = " ".join((plan.source.meta_description or "").split())
    if meta:
        expected.append((META_PART, 0, meta, frozenset()))
    expected.extend(
        ("content", segment.index, segment.text, frozenset(segment.markup))
        for segment in template.segments
    )
    return expected


def _check_page(plan: _PageImport, template: Any) -> list[str]:
    errors: list[str] = []
    expected = _expected_segments(plan, template)
    ids = set()
    for part, index, source_text, markup in expected:
        identifier = unit_id(plan.page.external_id, plan.source.version, part, index)
        ids.add(identifier)
        unit = plan.units.get(identifier)
        if unit is None:
            errors.append(f"unit {identifier}: missing (every segment of the page is needed)")
            continue
        if " ".join(strip_markup(unit.source).split()) != " ".join(
            strip_markup(source_text).split()
        ):
            errors.append(f"unit {identifier}: its source is not the exported source text")
            continue
        if unit.target is None or not strip_markup(unit.target).strip():
            errors.append(f"unit {identifier}: no translation (empty target)")
            continue
        foreign = [token for token in placeholders_of(unit.target) if token not in markup]
        if foreign:
            errors.append(
                f"unit {identifier}: the target has inline tags the source lacks "
                f"({', '.join(sorted(set(foreign)))})"
            )
            continue
        plan.targets[(part, index)] = unit.target
    for identifier in sorted(set(plan.units) - ids):
        errors.append(f"unit {identifier}: no such segment in version {plan.source.version}")
    return errors


def _store_page(
    session: Session,
    region: Region,
    source: Language,
    target: Language,
    plan: _PageImport,
    publish: bool,
    report: ImportReport,
    new_versions: list[PageTranslation],
) -> None:
    template = build_template(plan.source.content or "", source.code)
    title = plan.targets.get(("title", 0), plan.source.title)
    meta = plan.targets.get((META_PART, 0), "")
    content = template.render(
        {index: text for (part, index), text in plan.targets.items() if part == "content"}
    )
    all_done = all(unit.done for unit in plan.units.values())
    result = store_translation(
        session,
        region,
        plan.page.external_id,
        target,
        {
            "title": " ".join(strip_markup(title).split()),
            "content": content,
            "meta_description": " ".join(strip_markup(meta).split()),
            "status": TranslationStatus.PUBLIC if publish else TranslationStatus.DRAFT,
            "origin": Origin.HUMAN,
            "review_status": ReviewStatus.REVIEWED if all_done else ReviewStatus.UNREVIEWED,
            "source_version": plan.source.version,
        },
    )
    if result.created:
        report.created += 1
        new_versions.append(result.view.translation)
    else:
        report.unchanged += 1
    if plan.changed:
        report.outdated.append(plan.page.external_id)
    for part, index, source_text, _ in _expected_segments(plan, template):
        identifier = unit_id(plan.page.external_id, plan.source.version, part, index)
        unit = plan.units[identifier]
        if unit.done:
            _settle_unit(session, region, plan.page, source, target, source_text, unit, report)


def _settle_unit(
    session: Session,
    region: Region,
    page: Page,
    source: Language,
    target: Language,
    source_text: str,
    unit: ReadUnit,
    report: ImportReport,
) -> None:
    """A reviewed unit for a segment the translator settled on, unless the memory has it.

    The region's own unit of the pair (its published translation, or an earlier review) is
    enough. The same pair from another region is reused text: its licence, attribution and
    address travel with the reviewed unit.
    """
    target_text = unit.target or ""
    key = segment_key(source_text, source.code)
    known = session.scalars(
        select(TranslationUnit).where(
            TranslationUnit.source_language_id == source.id,
            TranslationUnit.target_language_id == target.id,
            TranslationUnit.source_hash == key.hash,
            TranslationUnit.target_text == target_text,
        )
    ).all()
    if any(u.region_id == region.id and (u.reviewed or u.import_batch is None) for u in known):
        report.known_units += 1
        return
    donor = next((u for u in known if u.region_id not in (None, region.id)), None)
    own_attribution = region.attribution or f"{region.name} — shared under {region.license}"
    if donor is not None:
        origin, license = Origin.REUSED, donor.license or region.license
        attribution, url = donor.attribution or own_attribution, donor.url
    else:
        origin, license, attribution, url = Origin.HUMAN, region.license, own_attribution, ""
    add_reviewed_unit(
        session,
        region=region,
        page=page,
        source=source,
        target=target,
        source_text=source_text,
        target_text=target_text,
        origin=origin,
        license=license,
        attribution=attribution,
        url=url,
    )
    report.reviewed_units += 1
