"""How suggestions read on the review page: word diffs, score bands, penalty and origin labels.

Everything here turns stored records into display records; the only HTML built by hand is the
word diff, assembled from escaped pieces. Texts from other regions are never trusted as markup.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from memory.models import Language, Page, PageTranslation, Region, TextDirection, TranslationStatus
from memory.review_models import Suggestion
from memory.segmentation import html_to_text
from memory.services.pages import PageView, TranslationView
from memory.services.translation_memory import strip_markup

# Words, runs of whitespace and single other characters: a diff keeps punctuation apart.
_TOKENS = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)

_DELETED = Markup("<del>{}</del>")
_INSERTED = Markup("<ins>{}</ins>")

SOURCE_LABELS = {
    "translation_memory": "memory",
    "near_duplicate": "similar page",
    "machine_translation": "machine translation",
}


def word_diff(before: str, after: str) -> Markup:
    """HTML of `after` against `before`: removed words in <del>, added words in <ins>.

    Every piece of text goes through Markup's escaping (format, join): safe to render as is.
    """
    out: list[Markup] = []
    for removed, added, same in _diff_runs(before, after):
        if same:
            out.append(escape(same))
        if removed:
            out.append(_DELETED.format(removed))
        if added:
            out.append(_INSERTED.format(added))
    return Markup("").join(out)


def _diff_runs(before: str, after: str) -> list[tuple[str, str, str]]:
    """(removed, added, unchanged) runs; replacements separated by a space read as one."""
    old, new = _TOKENS.findall(before), _TOKENS.findall(after)
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    runs: list[tuple[str, str, str]] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            runs.append(("", "", "".join(old[i1:i2])))
            continue
        removed, added = "".join(old[i1:i2]), "".join(new[j1:j2])
        if (
            removed
            and added
            and len(runs) >= 2
            and runs[-1][2].isspace()
            and runs[-2][0]
            and runs[-2][1]
        ):
            space = runs.pop()[2]
            earlier_removed, earlier_added, _ = runs.pop()
            removed, added = earlier_removed + space + removed, earlier_added + space + added
        runs.append((removed, added, ""))
    return runs


def score_band(score: float | None) -> str:
    """CSS band of a match (0–100, 101 context): perfect ≥ 100, high ≥ 90, mid ≥ 75, else low.

    Coloured by the match, not by the ranking score: an identical source is green 100 however
    much is known of its translation (that is the trust badge next to it)."""
    if score is None:
        return "mt"
    if score >= 100:
        return "perfect"
    if score >= 90:
        return "high"
    if score >= 75:
        return "mid"
    return "low"


def score_label(score: float | None) -> str:
    if score is None:
        return "MT"
    return f"{score:.0f} %" if score == int(score) else f"{score:.1f} %"


TRUST_LABELS = {
    "reviewed": "reviewed",
    "approved": "approved",
    "unreviewed": "unreviewed",
    "machine": "machine",
}
TRUST_TITLES = {
    "reviewed": "a translator reviewed this translation",
    "approved": "a region published this human translation",
    "unreviewed": "a human translation nobody has reviewed or published here (e.g. imported)",
    "machine": "machine translation nobody has reviewed",
}


def trust_band(trust: Mapping[str, Any] | None) -> str:
    """CSS band of a trust record: machine; low (outdated, rejected, or below 90: values to
    fix …); sure (reviewed or published, ≥ 98: at most another region's); else check."""
    if not trust:
        return "none"
    if trust.get("status") == "machine":
        return "machine"
    score = float(trust.get("score") or 0)
    if trust.get("outdated") or int(trust.get("rejections") or 0) or score < 90:
        return "low"
    if score >= 98 and trust.get("status") in ("reviewed", "approved"):
        return "sure"
    return "check"  # nobody reviewed or published it here (e.g. a TMX import), or close


def trust_label(trust: Mapping[str, Any] | None) -> str:
    """'approved · other region' / 'machine · outdated' / 'reviewed'."""
    if not trust:
        return ""
    parts = [TRUST_LABELS.get(str(trust.get("status")), str(trust.get("status") or ""))]
    if trust.get("outdated"):
        parts.append("outdated")
    if trust.get("other_region"):
        parts.append("other region")
    if trust.get("pivot"):
        parts.append("pivot")
    rejections = int(trust.get("rejections") or 0)
    if rejections:
        parts.append(f"rejected {rejections}×")
    return " · ".join(parts)


def trust_title(trust: Mapping[str, Any] | None) -> str:
    if not trust:
        return ""
    what = TRUST_TITLES.get(str(trust.get("status")), "")
    taken = ", ".join(penalty_label(p) for p in trust.get("penalties") or ())
    score = float(trust.get("score") or 0)
    return f"trust {score:g}/100: {what}" + (f" ({taken})" if taken else "")


def penalty_label(penalty: Mapping[str, Any]) -> str:
    """'−2 unreviewed' from {code: "unreviewed", amount: 2}."""
    amount = float(penalty.get("amount") or 0)
    number = f"{amount:g}"
    return f"−{number} {str(penalty.get('code', '')).replace('_', ' ')}"


def safe_url(url: object) -> str | None:
    """An http(s) address to link to, or None: other regions' stored URLs are not trusted."""
    if not isinstance(url, str) or not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme in ("http", "https") and parts.netloc:
        return url.strip()
    return None


def short_date(value: object) -> str:
    return str(value)[:10] if value else ""


@dataclass(frozen=True)
class TextLanguage:
    """`lang` and `dir` attributes of a text."""

    tag: str
    dir: str
    code: str
    name: str

    @classmethod
    def of(cls, language: Language) -> TextLanguage:
        direction = language.direction or TextDirection.LTR
        return cls(
            tag=language.bcp47_tag or language.code,
            dir=TextDirection(direction).value,
            code=language.code,
            name=language.english_name or language.name or language.code,
        )


@dataclass(frozen=True)
class CandidateView:
    number: int  # 1-based: the keyboard key that picks it
    index: int  # 0-based: what the review service is given
    text: str
    kind: str
    source_label: str
    score_label: str  # the match (what the badge shows), e.g. "100 %"
    band: str  # the match's colour
    trust_label: str
    trust_band: str
    trust_title: str
    rank_score: str  # the ranking score (match minus every penalty)
    penalties: list[tuple[str, str]]
    warnings: list[str]
    checks: list[str]  # the quality checks its text fails (accepting it needs a confirmation)
    region: str | None
    region_name: str | None
    page: str | None
    page_title: str | None
    relation: str | None
    url: str | None
    date: str
    origin: str
    reviewed: bool
    outdated: bool
    attribution: str | None
    license: str | None
    similar_page: Mapping[str, Any] | None
    match_source: str | None
    diff: Markup | None
    identical_source: bool


@dataclass(frozen=True)
class SegmentView:
    id: int
    page: str | None
    part: str
    position: int
    source_text: str
    source: TextLanguage
    target: TextLanguage
    candidates: list[CandidateView] = field(default_factory=list)

    @property
    def prefill(self) -> str:
        """What the edit box starts with: the first candidate, else the source to overwrite."""
        return self.candidates[0].text if self.candidates else ""


def candidate_view(record: Mapping[str, Any], index: int, segment_source: str) -> CandidateView:
    origin = record.get("origin") or {}
    # Suggestions stored before match and trust were separate carry only the folded score.
    match = record.get("match") if "match" in record else record.get("score")
    trust = record.get("trust")
    match_source = record.get("match_source_text")
    identical = match_source is not None and match_source.split() == segment_source.split()
    diff = (
        word_diff(match_source, segment_source)
        if match_source is not None and not identical
        else None
    )
    warnings = [
        f"{item.get('kind', 'value')}: {item.get('reason', 'differs')}"
        + (f" ({item['value']})" if item.get("value") else "")
        for item in record.get("placeholder_mismatches") or ()
    ]
    if origin.get("outdated"):
        warnings.append("the memory's translation is outdated at its origin")
    for detail in record.get("local_details") or ():
        if detail.get("status") == "review":
            warnings.append(
                f"local detail of {detail.get('region')}: '{detail.get('span')}' — replace it "
                "with this region's own"
            )
    similarity = record.get("similarity") or {}
    if record.get("kind") == "semantic" and similarity.get("z") is not None:
        # The sentence matched by meaning: its wording (see the diff) may say more or less.
        warnings.append(
            f"matched by meaning, not wording (z {float(similarity['z']):.1f}): "
            "check that it says what the source says"
        )
    fragments = record.get("fragments") or {}
    if record.get("kind") == "fragments" and fragments:
        pieces = ", ".join(
            f"'{p.get('source')}' → '{p.get('target')}'" for p in fragments.get("pieces") or ()
        )
        warnings.append(
            f"assembled from the memory's units of its parts ({fragments.get('covered_words')} "
            f"of {fragments.get('words')} words: {pieces}); the rest is still the source text"
        )
    return CandidateView(
        number=index + 1,
        index=index,
        text=str(record.get("text") or ""),
        kind=str(record.get("kind") or ""),
        source_label=SOURCE_LABELS.get(str(record.get("source")), str(record.get("source"))),
        score_label=score_label(match),
        band=score_band(match),
        trust_label=trust_label(trust),
        trust_band=trust_band(trust),
        trust_title=trust_title(trust),
        rank_score=score_label(record.get("score")),
        penalties=[
            (penalty_label(p), str(p.get("detail") or "")) for p in _list(record, "penalties")
        ],
        warnings=warnings,
        checks=[
            str(check.get("message") or check.get("code")) for check in _list(record, "checks")
        ],
        region=origin.get("region"),
        region_name=origin.get("region_name"),
        page=origin.get("page"),
        page_title=origin.get("page_title"),
        relation=origin.get("relation"),
        url=safe_url(origin.get("url")),
        date=short_date(origin.get("date")),
        origin=str(origin.get("origin") or ""),
        reviewed=bool(origin.get("reviewed")),
        outdated=bool(origin.get("outdated")),
        attribution=origin.get("attribution"),
        license=origin.get("license"),
        similar_page=origin.get("similar_page"),
        match_source=match_source,
        diff=diff,
        identical_source=identical,
    )


def segment_view(suggestion: Suggestion, position: int) -> SegmentView:
    source_text = strip_markup(suggestion.source_text)
    return SegmentView(
        id=suggestion.id,
        page=suggestion.page.external_id if suggestion.page is not None else None,
        part=suggestion.part,
        position=position,
        source_text=source_text,
        source=TextLanguage.of(suggestion.source_language),
        target=TextLanguage.of(suggestion.target_language),
        candidates=[
            candidate_view(record, index, source_text)
            for index, record in enumerate(suggestion.candidates or [])
        ],
    )


def segment_views(suggestions: Sequence[Suggestion], first_position: int = 1) -> list[SegmentView]:
    return [segment_view(s, first_position + i) for i, s in enumerate(suggestions)]


def _list(record: Mapping[str, Any], key: str) -> Iterable[Mapping[str, Any]]:
    value = record.get(key) or ()
    return [item for item in value if isinstance(item, Mapping)]


# --------------------------------------------------------------------------- pages


@dataclass(frozen=True)
class LanguageState:
    """One language of a page: source, current, outdated, draft (not public yet) or missing."""

    code: str
    name: str
    state: str
    version: int | None = None


@dataclass(frozen=True)
class PageRow:
    external_id: str
    title: str
    title_language: TextLanguage | None
    languages: list[LanguageState]
    needs_work: list[str]  # target languages missing or outdated, in the region's order
    derived: bool


@dataclass(frozen=True)
class TranslationRow:
    code: str
    language: TextLanguage
    translation: PageTranslation
    state: str
    text: str


def target_languages(region: Region) -> list[TextLanguage]:
    """The languages a region translates into: its language tree without its source language."""
    seen: set[int] = {region.source_language_id}
    targets = []
    for node in region.languages:
        if node.language_id in seen:
            continue
        seen.add(node.language_id)
        targets.append(TextLanguage.of(node.language))
    return targets


def region_language_codes(region: Region) -> set[str]:
    """Codes of the languages a region has: its source language and its language tree."""
    return {region.source_language.code} | {node.language.code for node in region.languages}


def _state(view: TranslationView, page: Page) -> str:
    translation = view.translation
    if translation.status is not TranslationStatus.PUBLIC:
        return "draft"
    if view.outdated:
        return "outdated"
    if translation.language_id == page.source_language_id:
        return "source"
    return "current"


def page_rows(views: Sequence[PageView], region: Region) -> list[PageRow]:
    """Each page with the state of every language of the region (and any other it has)."""
    region_codes = [region.source_language.code] + [t.code for t in target_languages(region)]
    rows = []
    for view in views:
        by_code = {v.translation.language.code: v for v in view.translations}
        title_view = next(
            (
                v
                for v in view.translations
                if v.translation.language_id == view.page.source_language_id
            ),
            view.translations[0] if view.translations else None,
        )
        states = []
        for code in region_codes + sorted(set(by_code) - set(region_codes)):
            found = by_code.get(code)
            if found is None:
                states.append(LanguageState(code, code, "missing"))
            else:
                language = found.translation.language
                states.append(
                    LanguageState(
                        code,
                        language.english_name or language.name or code,
                        _state(found, view.page),
                        found.translation.version,
                    )
                )
        rows.append(
            PageRow(
                external_id=view.page.external_id,
                title=title_view.translation.title if title_view else view.page.external_id,
                title_language=TextLanguage.of(title_view.translation.language)
                if title_view
                else None,
                languages=states,
                needs_work=[
                    s.code
                    for s in states
                    if s.code in region_codes[1:] and s.state in ("missing", "outdated")
                ],
                derived=view.page.derived_from_id is not None,
            )
        )
    return rows


def translation_rows(view: PageView) -> list[TranslationRow]:
    """The latest translation per language of one page, source language first."""
    rows = [
        TranslationRow(
            code=v.translation.language.code,
            language=TextLanguage.of(v.translation.language),
            translation=v.translation,
            state=_state(v, view.page),
            text=html_to_text(v.translation.content or ""),
        )
        for v in view.translations
    ]
    rows.sort(key=lambda r: (r.translation.language_id != view.page.source_language_id, r.code))
    return rows
