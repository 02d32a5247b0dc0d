"""How a translation-memory match is scored: similarity, penalties, and the match record.

Similarity is rapidfuzz's `fuzz.ratio` on the normalised placeholder form: the Indel
(insertion/deletion) normalised similarity, 100 · (1 − indel_distance / (|a| + |b|)), where a
substitution counts as one deletion plus one insertion. Why this one:

- It is what Pontoon uses in effect ((|s|+|q| − lev(ins 1, del 2, sub 2)) / (|s|+|q|)); for a
  substitution it gives the same number as amaGama's 100 − 100·lev/len(longer) and Weblate's
  Damerau-Levenshtein ratio on equal-length strings, and it is slightly more lenient than those
  for a dropped or added word (a 60-character segment missing a 5-character word: 96 here, 92
  for amaGama/Weblate). No transposition step as in Weblate's Damerau variant.
- It is the fastest rapidfuzz scorer (bit-parallel LCS), and it bounds itself by length,
  ratio ≤ 200 · min(|a|, |b|) / (|a| + |b|), which the fuzzy index uses to skip candidates.
- Placeholders ("{PHONE}") count as their token text, so a different phone number costs
  nothing here and a missing or extra one costs a few points, plus a `placeholder_mismatch`
  penalty after transfer.

Penalties are subtracted points (Trados style), not factors (Weblate multiplies by 0.7 for
pending and 0.95 for another context), so every listed penalty reads as "−N" in the UI and sums.

A match is read as two numbers, as CAT tools show them: `match` (how much of the source
matches: the similarity, 100 for an identical source whatever its origin, 101 in context) and
`trust` (what is known of the translation: reviewed, approved, unreviewed or machine, outdated,
another region's, rejected, values that could not be carried over), 100 minus the trust
penalties. `score` = match minus every listed penalty ranks the candidates; it is kept for
callers that read one number.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from rapidfuzz import fuzz

MatchKind = Literal["exact", "context", "fuzzy"]
# What is known of a translation: reviewed by a translator here (or marked so), approved (a
# region published it: a human translation the region stands behind), unreviewed (a human
# translation of unknown standing, e.g. from a TMX file), machine (not reviewed by a person).
TrustStatus = Literal["reviewed", "approved", "unreviewed", "machine"]
TRUST_STATUSES: tuple[TrustStatus, ...] = ("reviewed", "approved", "unreviewed", "machine")
FULL_TRUST = 100.0

EXACT_SCORE = 100.0
# An exact match whose neighbouring segments also match (Trados/memoQ "101 %" / ICE match).
CONTEXT_SCORE = 101.0


# The rapidfuzz scorer behind `similarity`, for batch use (process.extract/cdist) in C.
SIMILARITY_SCORER = fuzz.ratio


def similarity(a_form: str, b_form: str) -> float:
    """Return the Indel similarity of two normalised placeholder forms, 0–100 (100 = equal)."""
    return SIMILARITY_SCORER(a_form, b_form)


@dataclass(frozen=True, slots=True)
class Penalty:
    """One deduction from a match score, in points (0–100 scale), with a human-readable reason."""

    code: str
    amount: float
    detail: str


@dataclass(frozen=True, slots=True)
class MatchFlags:
    """What the caller knows about a candidate unit that should lower its score."""

    machine_translated: bool = False
    unreviewed: bool = False
    outdated: bool = False
    placeholder_mismatches: int = 0
    other_region: bool = False
    pivot: bool = False
    context_mismatch: bool = False
    rejections: int = 0
    reviewed: bool = False

    @property
    def status(self) -> TrustStatus:
        if self.machine_translated:
            return "machine"
        if self.unreviewed:
            return "unreviewed"
        return "reviewed" if self.reviewed else "approved"


@dataclass(frozen=True, slots=True)
class PenaltyPolicy:
    """Points subtracted per penalty; defaults rank a clean fuzzy 95 above a flawed exact 100.

    - machine_translated 10: unchecked MT should lose against a human 90 % fuzzy match.
    - pivot 8: translated via a third language (e.g. de→en→fa); errors compound.
    - outdated 5: the unit's source changed after it was translated.
    - placeholder_mismatch 3 per mismatch: a value could not be carried over; the translator
      must fix a number, so it must not look like a clean exact match.
    - unreviewed 2: a human translation of unknown standing (a TMX unit not marked reviewed);
      a region's published human translation is approved content and carries none.
    - context_mismatch 1: same text, different neighbouring segments or page.
    - other_region 1: another county's wording; small, because sharing is the point.
    - rejected 4 per rejection: reviewers turned this unit down as a suggestion before; two
      rejections put an exact match below a clean 95 % fuzzy one.
    - foreign_local_detail 10: another region's unit still names that region's town, office,
      address or phone (matchers.local_details) where the query has no value to put in; a
      79 % match falls below the 75 % a draft takes.
    - local_detail_replaced 2: the query's own town, office or address was put in for the
      other region's; the sentence around it wants a look.
    - terminology 3 per termbase term of the segment that the translation does not render
      with a preferred or admitted target term (memory.services.terminology); one that uses
      a deprecated or forbidden target term is flagged as well.
    """

    machine_translated: float = 10.0
    unreviewed: float = 2.0
    outdated: float = 5.0
    placeholder_mismatch: float = 3.0
    other_region: float = 1.0
    pivot: float = 8.0
    context_mismatch: float = 1.0
    rejected: float = 4.0
    foreign_local_detail: float = 10.0
    local_detail_replaced: float = 2.0
    terminology: float = 3.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "PenaltyPolicy":
        """Build a policy from e.g. configuration; unknown keys or negative amounts: ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown penalty names: {', '.join(unknown)}")
        amounts = {name: float(amount) for name, amount in values.items()}
        negative = sorted(name for name, amount in amounts.items() if amount < 0)
        if negative:
            raise ValueError(f"penalties must not be negative: {', '.join(negative)}")
        return cls(**amounts)


# Penalties that say something about the translation (trust), not about how much of the source
# matches. The one other, context_mismatch, is about the source's neighbours: it lowers the
# ranking score only (the match is 100, a context match would be 101).
TRUST_PENALTIES = frozenset(
    {
        "machine_translated",
        "pivot",
        "outdated",
        "unreviewed",
        "other_region",
        "placeholder_mismatch",
        "rejected",
        "foreign_local_detail",
        "local_detail_replaced",
        "terminology",
    }
)


@dataclass(frozen=True, slots=True)
class Trust:
    """What is known of a match's translation: score 0–100 (100 minus its trust penalties),
    status, and the parts (outdated, another region's, pivot, rejections) the penalties name."""

    score: float
    status: TrustStatus
    penalties: tuple[Penalty, ...] = ()
    outdated: bool = False
    other_region: bool = False
    pivot: bool = False
    rejections: int = 0


def trust_of(penalties: Sequence[Penalty], flags: MatchFlags) -> Trust:
    """The trust of a translation from all of a match's penalties (match-side ones left out)."""
    kept = tuple(p for p in penalties if p.code in TRUST_PENALTIES)
    score = max(FULL_TRUST - sum(p.amount for p in kept), 0.0)
    return Trust(
        score=score,
        status=flags.status,
        penalties=kept,
        outdated=flags.outdated,
        other_region=flags.other_region,
        pivot=flags.pivot,
        rejections=flags.rejections,
    )


@dataclass(frozen=True, slots=True)
class Match:
    """A translation-memory suggestion, read as match and trust; score ranks.

    base_score is the match: 0–100 (100: identical source form, whatever its origin; 101:
    context). score = base_score minus every penalty, 0–100 (101: context); trust = 100 minus
    the trust penalties. origin is opaque to matchers: whatever the caller needs to show where
    the unit came from (region, document, author, ...).
    """

    unit_id: int
    source_text: str
    target_text: str
    score: float
    base_score: float
    kind: MatchKind
    penalties: tuple[Penalty, ...] = ()
    origin: Mapping[str, Any] = field(default_factory=dict)
    flags: MatchFlags = field(default_factory=lambda: MatchFlags())

    @property
    def match(self) -> float:
        """How much of the source matches, 0–100 (101: context), penalties not taken off."""
        return self.base_score

    @property
    def trust(self) -> Trust:
        return trust_of(self.penalties, self.flags)


_BOOLEAN_PENALTIES: tuple[tuple[str, str], ...] = (
    ("machine_translated", "machine translation, not reviewed by a person"),
    ("pivot", "translated through a pivot language"),
    ("outdated", "source text changed since it was translated"),
    ("unreviewed", "translation not reviewed yet"),
    ("context_mismatch", "used in a different context"),
    ("other_region", "from another region"),
)


def listed_penalties(flags: MatchFlags, policy: PenaltyPolicy) -> tuple[Penalty, ...]:
    """Return the penalties that `flags` incur under `policy`, zero-point ones left out."""
    penalties = [
        Penalty(code, getattr(policy, code), detail)
        for code, detail in _BOOLEAN_PENALTIES
        if getattr(flags, code) and getattr(policy, code) > 0
    ]
    if flags.placeholder_mismatches > 0 and policy.placeholder_mismatch > 0:
        count = flags.placeholder_mismatches
        penalties.append(
            Penalty(
                "placeholder_mismatch",
                count * policy.placeholder_mismatch,
                f"{count} placeholder(s) could not be carried over",
            )
        )
    if flags.rejections > 0 and policy.rejected > 0:
        count = flags.rejections
        penalties.append(
            Penalty("rejected", count * policy.rejected, f"rejected by reviewers {count} time(s)")
        )
    return tuple(penalties)


def apply_penalties(
    base_score: float,
    flags: MatchFlags,
    policy: PenaltyPolicy,
    kind: MatchKind = "fuzzy",
) -> tuple[float, tuple[Penalty, ...]]:
    """Return (score, penalties): base_score minus penalties, clamped to 0–100.

    Only kind "context" may exceed 100 (up to 101), so a penalised context match still ranks
    below a clean exact one.
    """
    ceiling = CONTEXT_SCORE if kind == "context" else EXACT_SCORE
    penalties = listed_penalties(flags, policy)
    score = base_score - sum(p.amount for p in penalties)
    return min(max(score, 0.0), ceiling), penalties


def classify_match(base_score: float, neighbours_match: bool) -> MatchKind:
    """Return "context" for an exact match in the same context, "exact" for 100, else "fuzzy"."""
    if base_score >= EXACT_SCORE:
        return "context" if neighbours_match else "exact"
    return "fuzzy"


def score_match(
    unit_id: int,
    source_text: str,
    target_text: str,
    base_score: float,
    flags: MatchFlags,
    policy: PenaltyPolicy,
    *,
    neighbours_match: bool = False,
    origin: Mapping[str, Any] | None = None,
) -> Match:
    """Build a Match from a similarity (0–100) and the caller's flags, penalties listed."""
    kind = classify_match(base_score, neighbours_match)
    base = CONTEXT_SCORE if kind == "context" else base_score
    score, penalties = apply_penalties(base, flags, policy, kind)
    return Match(
        unit_id=unit_id,
        source_text=source_text,
        target_text=target_text,
        score=score,
        base_score=base,
        kind=kind,
        penalties=penalties,
        origin=dict(origin or {}),
        flags=flags,
    )
