"""Reuse of another region's page: a derived page that keeps its origin, and upstream changes.

A county starts a page from a neighbour's page (CC BY 4.0): the origin's latest public
translations are copied as drafts, each language's origin version is recorded (`PageDerivation`),
and a later change of the origin is detected by content hash and shown as a sentence diff.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from matchers.placeholders import extract_placeholders
from memory.authorization import Action, Actor, authorize
from memory.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from memory.models import (
    Language,
    Origin,
    Page,
    PageTranslation,
    Region,
    RegionLanguage,
    ReviewStatus,
    TranslationStatus,
    utcnow,
)
from memory.review_models import PageDerivation
from memory.segmentation import Segment, count_words, html_to_text, render_segment, segment_html
from memory.services.gazetteer import DetailToReplace, details_to_replace
from memory.services.pages import (
    get_page_or_404,
    latest_public_by_language,
    latest_version,
    store_translation,
    translation_source_language,
)
from memory.services.regions import get_language, get_region, region_language_parent

EXTERNAL_ID_MAX = 100  # Page.external_id is a String(100)

# Placeholder kinds of matchers.placeholders, as the API names them.
_SPECIFIC_KINDS = {
    "URL": "url",
    "EMAIL": "email",
    "PHONE": "phone",
    "DATE": "date",
    "TIME": "time",
    "AMOUNT": "amount",
    "NUM": "number",
}


@dataclass(frozen=True)
class LocalSpecific:
    """A value that is probably local to the origin region (phone, e-mail, URL, date, number)."""

    kind: str
    value: str


@dataclass(frozen=True)
class Attribution:
    """Who the reused content is from and under which licence: to be shown with the page.

    `url` is the origin page's own address; None when neither the page nor its region says
    where it is published (the API then links the page's public read in this service).
    """

    region: Region
    page: Page
    url: str | None


@dataclass(frozen=True)
class ReusedTranslation:
    """One copied translation (a draft) and the local specifics to check before publishing."""

    translation: PageTranslation
    origin: PageTranslation
    local_specifics: list[LocalSpecific]
    # The origin region's local details (its gazetteer), with the recipient's values proposed.
    local_details: list[DetailToReplace] = field(default_factory=list)

    @property
    def origin_url(self) -> str | None:
        return public_url(self.origin)


@dataclass(frozen=True)
class ReuseResult:
    region: Region
    page: Page
    attribution: Attribution
    translations: list[ReusedTranslation]
    # Languages added to the region's language tree for this page (`add_languages`).
    languages_added: list[RegionLanguage] = field(default_factory=list)


@dataclass(frozen=True)
class SentenceChange:
    """One sentence of the origin that changed: op "changed", "added" or "removed"."""

    op: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class TitleChange:
    before: str
    after: str


@dataclass(frozen=True)
class LanguageUpstream:
    """One derived language compared with the origin's latest public translation."""

    derivation: PageDerivation
    language: Language
    flagged: bool
    origin_missing: bool
    current_version: int | None
    title_change: TitleChange | None = None
    changes: list[SentenceChange] = field(default_factory=list)


@dataclass(frozen=True)
class UpstreamChange:
    """A derived page of the region and, per derived language, what changed at its origin."""

    region: Region
    page: Page
    attribution: Attribution | None  # None: the origin page is gone
    languages: list[LanguageUpstream]

    @property
    def flagged(self) -> bool:
        return any(language.flagged for language in self.languages)


def reuse_page(
    session: Session,
    actor: Actor | None,
    region: str,
    *,
    from_region: str,
    from_page: str,
    external_id: str | None = None,
    languages: Sequence[str] | None = None,
    add_languages: bool = False,
) -> ReuseResult:
    """Start a page of `region` from another region's page: public translations copied as drafts.

    Copies the origin's latest public translation in each language the region has (its source
    language and language tree) or in `languages`. Each copy is a draft (origin "reused",
    unreviewed) with a `PageDerivation` recording the origin version; all or nothing.
    `add_languages` (an admin of the region): languages the origin has and the region lacks
    are added to its language tree, translated from the language the origin translates them
    from (when the region has it, else from the region's source language), and copied too.
    """
    target = get_region(session, region)
    authorize(actor, Action.WRITE_CONTENT, target.slug)
    if add_languages:
        authorize(actor, Action.MANAGE_REGION, target.slug)
    origin_region, origin_page, origins = _origin(session, target, from_region, from_page)

    if external_id is None:
        earlier = session.scalar(
            select(Page.external_id).where(
                Page.region_id == target.id, Page.derived_from_id == origin_page.id
            )
        )
        if earlier is not None:
            # Started from this page before: a second copy only under a name of its own.
            raise Conflict(
                f"Region '{target.slug}' started page '{earlier}' from this page already; "
                "give an external_id to start another one.",
                errors={"external_id": [f"Page '{earlier}' was started from it already."]},
            )
        external_id = readable_external_id(session, target, origin_page, origins)
    if len(external_id) > EXTERNAL_ID_MAX:
        raise InvalidInput(
            "The default external id is too long; give one.",
            errors={"external_id": [f"At most {EXTERNAL_ID_MAX} characters."]},
        )
    if session.scalar(
        select(Page.id).where(Page.region_id == target.id, Page.external_id == external_id)
    ):
        raise Conflict(
            f"Region '{target.slug}' has a page '{external_id}' already.",
            errors={"external_id": ["Already taken; give another external_id."]},
        )

    region_languages = _region_languages(target)
    chosen, missing = _languages_to_copy(target, origin_page, origins, languages, add_languages)
    try:
        added = _add_languages(session, target, origin_region, missing)
        page = Page(
            region=target,
            external_id=external_id,
            source_language=region_languages.get(
                origin_page.source_language_id, target.source_language
            ),
            derived_from=origin_page,
        )
        session.add(page)
        session.flush()
        copied = _copy_translations(session, target, page, [origins[lang.id] for lang in chosen])
        session.commit()
    except IntegrityError as error:
        # Another request created the same page between our check and our insert.
        session.rollback()
        raise Conflict(
            f"Region '{target.slug}' has a page '{external_id}' already.",
            errors={"external_id": ["Already taken; give another external_id."]},
        ) from error
    except Exception:
        session.rollback()
        raise
    return ReuseResult(
        region=target,
        page=page,
        attribution=Attribution(origin_region, origin_page, _origin_url(origin_page, copied)),
        translations=copied,
        languages_added=added,
    )


# --------------------------------------------------------------------------- guardrails

# What a readable page id keeps of a title: German letters spelled out, then ASCII words.
_TRANSLITERATION = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"}
)
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
SLUG_MAX = 80


def slug_of(title: str) -> str:
    """'Sprachkurse & Beratung für Zugewanderte' → 'sprachkurse-beratung-fuer-zugewanderte'."""
    ascii_text = (
        unicodedata.normalize("NFKD", title.translate(_TRANSLITERATION))
        .encode("ascii", "ignore")
        .decode("ascii")
    )
    slug = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
    if len(slug) > SLUG_MAX:
        slug = slug[:SLUG_MAX].rsplit("-", 1)[0] or slug[:SLUG_MAX]
    return slug


def readable_external_id(
    session: Session, region: Region, origin_page: Page, origins: dict[int, PageTranslation]
) -> str:
    """The new page's id from the origin's title (in the region's source language where the
    origin has it, else its own source language): 'anmeldung', or 'anmeldung-2' when taken.
    A title without letters or digits falls back to 'page-{origin region}-{origin id}'."""
    preferred = origins.get(region.source_language_id) or origins.get(
        origin_page.source_language_id
    )
    title = (preferred or next(iter(origins.values()))).title if origins else ""
    base = slug_of(title) or slug_of(f"page-{origin_page.region.slug}-{origin_page.external_id}")
    taken = set(
        session.scalars(
            select(Page.external_id).where(
                Page.region_id == region.id, Page.external_id.like(f"{base}%")
            )
        )
    )
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base}-{number}"
    return candidate


@dataclass(frozen=True)
class LanguagePreview:
    """One language a reuse would copy: its title, words, and what to replace in it."""

    language: Language
    title: str
    words: int
    to_add: bool  # the region lacks it (only copied with add_languages)
    local_specifics: list[LocalSpecific]
    local_details: list[DetailToReplace]


@dataclass(frozen=True)
class ReusePreview:
    """What `reuse_page` would copy, shown before anything is stored."""

    region: Region
    origin_region: Region
    origin_page: Page
    external_id: str  # the readable id the new page would get
    languages: list[LanguagePreview]
    # Languages of the origin the region lacks (an admin may add them with add_languages).
    languages_to_add: list[Language]
    words: int
    # Pages of the region that already hold this content: started from this page before, or
    # the page the editor came from when it has every language copied (nothing to gain).
    duplicates: list[dict[str, object]]

    @property
    def nothing_to_gain(self) -> bool:
        return any(item.get("nothing_to_gain") for item in self.duplicates)


def preview_reuse(
    session: Session,
    actor: Actor | None,
    region: str,
    *,
    from_region: str,
    from_page: str,
    add_languages: bool = False,
    for_page: str | None = None,
) -> ReusePreview:
    """What starting a page of `region` from `from_region`'s `from_page` would copy (read only).

    `for_page`: the region's page the editor compares with (the similar-pages list): when it
    already has a current public translation in every language to copy, the preview says
    there is nothing to gain. Same checks and errors as `reuse_page`.
    """
    target = get_region(session, region)
    authorize(actor, Action.WRITE_CONTENT, target.slug)
    origin_region, origin_page, origins = _origin(session, target, from_region, from_page)
    region_languages = _region_languages(target)
    chosen, missing = _languages_to_copy(target, origin_page, origins, None, add_languages)
    to_add = [o.language for o in origins.values() if o.language_id not in region_languages]
    previews = []
    for language in sorted(chosen, key=lambda item: item.code):
        origin = origins[language.id]
        text = html_to_text(origin.content or "")
        previews.append(
            LanguagePreview(
                language=language,
                title=origin.title,
                words=count_words(origin.title) + count_words(text),
                to_add=language in missing,
                local_specifics=local_specifics(origin.title, origin.content),
                local_details=details_to_replace(
                    session, origin_region, target, origin.title + "\n" + text, language.code
                ),
            )
        )
    duplicates: list[dict[str, object]] = [
        {"external_id": page.external_id, "reason": "started_from_this_page"}
        for page in session.scalars(
            select(Page).where(Page.region_id == target.id, Page.derived_from_id == origin_page.id)
        )
    ]
    if for_page is not None:
        mine = get_page_or_404(session, target, for_page, field="for_page")
        have = latest_public_by_language(mine)
        gain = [item.language.code for item in previews if item.language.id not in have]
        duplicates.append(
            {
                "external_id": mine.external_id,
                "reason": "has_these_languages" if not gain else "similar_page",
                "languages_gained": gain,
                "nothing_to_gain": not gain,
            }
        )
    return ReusePreview(
        region=target,
        origin_region=origin_region,
        origin_page=origin_page,
        external_id=readable_external_id(session, target, origin_page, origins),
        languages=previews,
        languages_to_add=[] if add_languages else to_add,
        words=sum(item.words for item in previews),
        duplicates=duplicates,
    )


def page_local_details(session: Session, page: Page) -> dict[str, list[DetailToReplace]]:
    """Language code → the origin region's local details still in each reused draft of a
    page started from another region's page (its latest version in each language)."""
    origin = page.derived_from
    if origin is None:
        return {}
    found: dict[str, list[DetailToReplace]] = {}
    latest: dict[int, PageTranslation] = {}
    for translation in page.translations:
        current = latest.get(translation.language_id)
        if current is None or translation.version > current.version:
            latest[translation.language_id] = translation
    for translation in latest.values():
        if translation.origin is not Origin.REUSED:
            continue
        details = details_to_replace(
            session,
            origin.region,
            page.region,
            translation.title + "\n" + html_to_text(translation.content or ""),
            translation.language.code,
        )
        if details:
            found[translation.language.code] = details
    return found


def upstream_changes(
    session: Session, actor: Actor | None, region: str, external_id: str | None = None
) -> list[UpstreamChange]:
    """Derived pages of the region compared with their origins (content hashes, not dates).

    Without `external_id`: only flagged pages, each with its flagged languages. With it: that
    page with every derived language, flagged or not. Any token of the region may read this
    (derived pages may be drafts, so the public may not).
    """
    target = get_region(session, region)
    _authorize_read(actor, target.slug)
    if external_id is not None:
        page = get_page_or_404(session, target, external_id)
        derivations = _derivations(session, page)
        if not derivations:
            raise _not_derived(target, external_id)
        return [_compare(session, target, page, derivations)]

    rows = session.scalars(
        select(PageDerivation)
        .join(Page, PageDerivation.page_id == Page.id)
        .where(Page.region_id == target.id)
        .order_by(Page.position, Page.id, PageDerivation.id)
    ).all()
    by_page: dict[int, list[PageDerivation]] = {}
    for row in rows:
        by_page.setdefault(row.page_id, []).append(row)
    changes = []
    for derivations in by_page.values():
        change = _compare(session, target, derivations[0].page, derivations)
        flagged = [language for language in change.languages if language.flagged]
        if flagged:
            changes.append(UpstreamChange(change.region, change.page, change.attribution, flagged))
    return changes


def acknowledge_upstream(
    session: Session,
    actor: Actor | None,
    region: str,
    external_id: str,
    language: str | None = None,
) -> UpstreamChange:
    """The editor took the origin's change in: re-base the flagged derivations to its current
    version. A language whose origin is gone stays flagged (there is nothing to re-base on)."""
    target = get_region(session, region)
    authorize(actor, Action.WRITE_CONTENT, target.slug)
    page = get_page_or_404(session, target, external_id)
    derivations = _derivations(session, page)
    if not derivations:
        raise _not_derived(target, external_id)
    if language is not None:
        wanted = get_language(session, language)
        derivations = [row for row in derivations if row.language_id == wanted.id]
        if not derivations:
            raise InvalidInput(
                f"Page '{external_id}' has no {language} translation taken from another region.",
                errors={"language": [f"Not a reused language of page '{external_id}'."]},
            )
    origin = page.derived_from
    now = utcnow()
    for row in derivations:
        current = _current_origin(session, origin, row.language)
        if current is None or current.content_hash == row.origin_content_hash:
            continue
        row.origin_translation_id = current.id
        row.origin_version = current.version
        row.origin_content_hash = current.content_hash
        row.origin_title = current.title
        row.origin_content = current.content
        row.acknowledged_at = now
    session.commit()
    return _compare(session, target, page, _derivations(session, page))


# --------------------------------------------------------------------------- helpers


def _authorize_read(actor: Actor | None, region_slug: str) -> None:
    # Like reading drafts: any role of the region, or a global admin.
    if actor is None:
        raise Unauthorized("Upstream changes need a token of the region (Authorization: Bearer …).")
    if not actor.can_read_drafts_of(region_slug):
        raise Forbidden(
            f"This token is scoped to region '{actor.region_slug}' "
            f"and may not read region '{region_slug}'."
        )


def _not_derived(region: Region, external_id: str) -> NotFound:
    return NotFound(
        f"Page '{external_id}' of region '{region.slug}' was not reused from another region.",
        errors={"external_id": ["Not a page started from another region's page."]},
    )


def _region_languages(region: Region) -> dict[int, Language]:
    """The languages a region has: its source language, then its language tree."""
    languages = {region.source_language_id: region.source_language}
    for node in region.languages:
        languages.setdefault(node.language_id, node.language)
    return languages


def _languages_to_copy(
    region: Region,
    origin_page: Page,
    origins: dict[int, PageTranslation],
    codes: Sequence[str] | None,
    add_languages: bool,
) -> tuple[list[Language], list[Language]]:
    """The languages to copy, and among them those the region lacks (only with add_languages)."""
    region_languages = _region_languages(region)
    if codes is None:
        chosen = [
            origin.language
            for origin in origins.values()
            if add_languages or origin.language_id in region_languages
        ]
        if not chosen:
            raise InvalidInput(
                f"Page '{origin_page.external_id}' has no public translation in a language of "
                f"region '{region.slug}'.",
                errors={"from_page": ["No public translation in one of the region's languages."]},
            )
        return chosen, [language for language in chosen if language.id not in region_languages]
    origin_languages = {origin.language.code: origin.language for origin in origins.values()}
    by_code = {language.code: language for language in region_languages.values()}
    problems = []
    chosen = []
    missing = []
    for code in dict.fromkeys(codes):
        language = by_code.get(code) or origin_languages.get(code)
        if language is None or language.id not in origins:
            problems.append(f"Page '{origin_page.external_id}' has no public {code} translation.")
        elif code not in by_code and not add_languages:
            problems.append(_lacks_language(region, code))
        else:
            chosen.append(language)
            if code not in by_code:
                missing.append(language)
    if problems:
        raise InvalidInput(" ".join(problems), errors={"languages": problems})
    return chosen, missing


def _lacks_language(region: Region, code: str) -> str:
    return (
        f"Region '{region.slug}' has no language '{code}' yet. An admin of the region can add it "
        f"with this page: send add_languages: true (or add it to the region's languages with "
        f"PATCH /api/v1/regions/{region.slug})."
    )


def _add_languages(
    session: Session, region: Region, origin_region: Region, languages: list[Language]
) -> list[RegionLanguage]:
    """Add languages to the region's tree, each translated from the language the origin
    region translates it from when the region has (or gets) that one, else from its source."""
    if not languages:
        return []
    present = set(_region_languages(region)) | {language.id for language in languages}
    if all(node.language_id != region.source_language_id for node in region.languages):
        # The tree gets its root too, so it reads as a tree.
        region.languages.append(RegionLanguage(language=region.source_language))
    added = []
    for language in languages:
        parent = region_language_parent(origin_region, language)
        if parent is None or parent.id not in present or parent.id == language.id:
            parent = region.source_language
        node = RegionLanguage(language=language, parent_language=parent)
        region.languages.append(node)
        added.append(node)
    # The language tree decides each copy's source version: it must hold the new nodes' ids.
    session.flush()
    return added


def _copy_translations(
    session: Session, region: Region, page: Page, origins: list[PageTranslation]
) -> list[ReusedTranslation]:
    copied: dict[int, PageTranslation] = {}
    results = []
    for origin in _parents_first(region, page, origins):
        # A copy made from a parent copied with it records that version as its source, so it
        # becomes outdated once the editor changes the parent.
        source = translation_source_language(region, page, origin.language)
        source_copy = copied.get(source.id) if source is not None else None
        stored = store_translation(
            session,
            region,
            page.external_id,
            origin.language,
            {
                "title": origin.title,
                "content": origin.content,
                "status": TranslationStatus.DRAFT,
                "origin": Origin.REUSED,
                "review_status": ReviewStatus.UNREVIEWED,
                "source_version": source_copy.version if source_copy else None,
            },
        )
        translation = stored.view.translation
        copied[origin.language_id] = translation
        session.add(
            PageDerivation(
                page=page,
                language=origin.language,
                origin_translation_id=origin.id,
                origin_version=origin.version,
                origin_content_hash=origin.content_hash,
                origin_title=origin.title,
                origin_content=origin.content,
            )
        )
        results.append(
            ReusedTranslation(
                translation,
                origin,
                local_specifics(origin.title, origin.content),
                details_to_replace(
                    session,
                    origin.page.region,
                    region,
                    origin.title + "\n" + html_to_text(origin.content),
                    origin.language.code,
                ),
            )
        )
    session.flush()
    return sorted(results, key=lambda item: item.translation.language.code)


def _parents_first(
    region: Region, page: Page, origins: list[PageTranslation]
) -> list[PageTranslation]:
    """Order the copies so a language comes after the one the region translates it from."""
    pending = list(origins)
    ordered: list[PageTranslation] = []
    while pending:
        pending_ids = {origin.language_id for origin in pending}
        ready = [
            origin
            for origin in pending
            if (parent := translation_source_language(region, page, origin.language)) is None
            or parent.id not in pending_ids
        ]
        if not ready:  # a cycle in the language tree: no order is right
            ready = pending
        ordered.extend(ready)
        pending = [origin for origin in pending if origin not in ready]
    return ordered


def local_specifics(title: str, content: str) -> list[LocalSpecific]:
    """Phone numbers, e-mails, URLs, dates, times, amounts and numbers in a page, in text order."""
    text = title + "\n" + html_to_text(content)
    found = dict.fromkeys(
        LocalSpecific(_SPECIFIC_KINDS.get(value.kind, value.kind.lower()), value.value)
        for value in extract_placeholders(text).values
    )
    return list(found)


def public_url(translation: PageTranslation) -> str | None:
    """Where a page translation is published: its own address, else its region's base URL
    followed by its path (what the CMS gives); None when neither is known."""
    if translation.url:
        return translation.url
    base_url = translation.page.region.base_url
    if base_url and translation.path:
        return base_url.rstrip("/") + "/" + translation.path.lstrip("/")
    return None


def _origin_url(origin_page: Page, copied: list[ReusedTranslation]) -> str | None:
    # The origin's own page in its source language if copied, else any copied language's; never
    # the region's home page, which names no page.
    urls = sorted(
        (item.origin.language_id != origin_page.source_language_id, url)
        for item in copied
        if (url := item.origin_url)
    )
    return urls[0][1] if urls else None


def _current_origin(
    session: Session, origin: Page | None, language: Language
) -> PageTranslation | None:
    """The origin's latest public translation in `language`; None when the page or it is gone."""
    return latest_version(session, origin, language, public_only=True) if origin else None


def _derivations(session: Session, page: Page) -> list[PageDerivation]:
    return list(
        session.scalars(
            select(PageDerivation)
            .where(PageDerivation.page_id == page.id)
            .order_by(PageDerivation.id)
        ).all()
    )


def _compare(
    session: Session, region: Region, page: Page, derivations: Sequence[PageDerivation]
) -> UpstreamChange:
    origin = page.derived_from
    languages = []
    currents = []
    for row in derivations:
        current = _current_origin(session, origin, row.language)
        if current is not None:
            currents.append(current)
        languages.append(_compare_language(row, current))
    languages.sort(key=lambda item: item.language.code)
    attribution = None
    if origin is not None:
        currents.sort(key=lambda current: current.language_id != origin.source_language_id)
        url = next((url for current in currents if (url := public_url(current))), None)
        attribution = Attribution(origin.region, origin, url)
    return UpstreamChange(region, page, attribution, languages)


def _compare_language(row: PageDerivation, current: PageTranslation | None) -> LanguageUpstream:
    if current is None:
        return LanguageUpstream(
            row, row.language, flagged=True, origin_missing=True, current_version=None
        )
    if current.content_hash == row.origin_content_hash:
        return LanguageUpstream(
            row, row.language, flagged=False, origin_missing=False, current_version=current.version
        )
    title_change = (
        TitleChange(row.origin_title, current.title)
        if " ".join(row.origin_title.split()) != " ".join(current.title.split())
        else None
    )
    return LanguageUpstream(
        row,
        row.language,
        flagged=True,
        origin_missing=False,
        current_version=current.version,
        title_change=title_change,
        changes=sentence_diff(row.origin_content, current.content, row.language.code),
    )


def sentence_diff(before_html: str, after_html: str, language: str) -> list[SentenceChange]:
    """Sentences changed, added and removed between two versions of a page's HTML."""
    before = segment_html(before_html, language)
    after = segment_html(after_html, language)
    # Compared with their inline markup, so a changed link target counts as a change too.
    matcher = difflib.SequenceMatcher(
        a=[_segment_html(s) for s in before], b=[_segment_html(s) for s in after], autojunk=False
    )
    changes = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        old, new = before[i1:i2], after[j1:j2]
        for old_segment, new_segment in zip(old, new, strict=False):
            changes.append(SentenceChange("changed", *_shown(old_segment, new_segment)))
        changes.extend(SentenceChange("removed", s.plain, None) for s in old[len(new) :])
        changes.extend(SentenceChange("added", None, s.plain) for s in new[len(old) :])
    return changes


def _segment_html(segment: Segment) -> str:
    return " ".join(render_segment(segment.text, segment.markup).split())


def _shown(before: Segment, after: Segment) -> tuple[str, str]:
    # Plain text reads best; when only the markup changed, the HTML shows what did.
    if before.plain == after.plain:
        return _segment_html(before), _segment_html(after)
    return before.plain, after.plain


def _origin(
    session: Session, target: Region, from_region: str, from_page: str
) -> tuple[Region, Page, dict[int, PageTranslation]]:
    """The region and page to start from (another region's), and the page's latest public
    translation per language."""
    if from_region == target.slug:
        raise InvalidInput(
            "A page is reused from another region; within a region, push a new page instead.",
            errors={"from_region": ["Must be another region than the target."]},
        )
    origin_region = get_region(session, from_region)
    origin_page = get_page_or_404(session, origin_region, from_page, field="from_page")
    origins = latest_public_by_language(origin_page)
    if not origins:
        # Drafts of other regions are never readable: a draft-only page does not exist for us.
        raise NotFound(
            f"Region '{origin_region.slug}' has no page '{from_page}'.",
            errors={"from_page": [f"No page '{from_page}' in region '{origin_region.slug}'."]},
        )
    return origin_region, origin_page, origins
