"""Fragments of a sentence that the memory holds as units of their own (fragment assembly).

For segments no memory unit matches as a whole, every phrase of the segment (matchers.fragments:
runs of up to 4 words, with or without a following ":" …) is looked up as an exact source in the
translation memory — one batched query per 500 phrases, through the index of source hashes
that exact matching uses — and day and month names are put into the target language. The
pieces found are assembled longest first (matchers.fragments.assemble).

A unit of the page being translated is never a piece: it would put the page's own current
translation back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from matchers.fragments import (
    Assembly,
    Phrase,
    Piece,
    assemble,
    calendar_pieces,
    clauses,
    fitted,
    phrases,
    word_count,
)
from matchers.normalise import PROTECTED_TOKEN
from matchers.terms import lemma_forms
from memory.services.translation_memory import LookupContext, LookupMatch, LookupQuery

_LETTER = re.compile(r"[^\W\d_]")
# A phrase with fewer letters than this is no fragment worth a unit ("Nr.", "Tel", a number):
# it would only put another region's abbreviation in.
MIN_LETTERS = 3
# A clause takes a unit whose source matches it from this score up: the score from which the
# draft takes a fuzzy match for a whole segment (suggestions.DRAFT_MIN_SCORE).
MIN_CLAUSE_SCORE = 75.0


def assemble_segments(
    context: LookupContext,
    texts: Sequence[str],
    is_own: Callable[[LookupMatch], bool] = lambda match: False,
) -> list[Assembly | None]:
    """Per segment text (with inline placeholders), its assembly from memory units and
    calendar names, or None when nothing of it is found. A memory piece's `ref` is its
    LookupMatch (origin, trust, penalties)."""
    queries: dict[str, LookupQuery] = {}  # by phrase: the same words recur across segments
    lookups = [_lookups(context, text, queries) for text in texts]
    context.prefetch_exact(q for segment in lookups for _, forms in segment for q in forms)
    results: list[Assembly | None] = []
    for text, segment_lookups in zip(texts, lookups, strict=True):
        pieces: list[Piece] = calendar_pieces(text, context.source.code, context.target.code)
        for phrase, forms in segment_lookups:
            best = _best_unit(context, forms, is_own)
            target = fitted(best.match.target_text, phrase, text) if best is not None else ""
            if best is not None and target:
                pieces.append(
                    Piece(
                        phrase.start,
                        phrase.end,
                        phrase.text,
                        target,
                        phrase.words,
                        kind="memory",
                        ref=best,
                    )
                )
        pieces += _clause_pieces(context, text, is_own, pieces)
        results.append(assemble(text, pieces) if pieces else None)
    return results


def _lookups(
    context: LookupContext, text: str, queries: dict[str, LookupQuery]
) -> list[tuple[Phrase, list[LookupQuery]]]:
    """The segment's phrases worth a unit, each with the queries to try in order: the phrase
    itself, then (a single word) its lemma ("Berufsschulen" → "Berufsschule", simplemma)."""
    found = []
    whole = word_count(text)
    language = context.source.code
    for phrase in phrases(text):
        if phrase.words >= whole or _letters(phrase.text) < MIN_LETTERS:
            continue
        query = queries.get(phrase.text)
        if query is None:
            query = queries[phrase.text] = context.query(phrase.text)
        # A phrase that is all number, date or time ("1. März 2020" is one date) has nothing
        # of its own to translate: its unit would only be another date's.
        if _letters(PROTECTED_TOKEN.sub("", query.key.form)) < MIN_LETTERS:
            continue
        forms = [query]
        if phrase.words == 1 and phrase.text.isalpha():
            forms += [
                context.query(lemma)
                for lemma in sorted(lemma_forms(phrase.text, language) - {phrase.text.lower()})
                if _letters(lemma) >= MIN_LETTERS
            ]
        found.append((phrase, forms))
    return found


def _best_unit(
    context: LookupContext, forms: Sequence[LookupQuery], is_own: Callable[[LookupMatch], bool]
) -> LookupMatch | None:
    for query in forms:
        units = context.exact_units(query)
        if units:
            matches = [m for m in context.score_units(query, units) if not is_own(m)]
            if matches:
                return matches[0]
    return None


def _clause_pieces(
    context: LookupContext,
    text: str,
    is_own: Callable[[LookupMatch], bool],
    found: Sequence[Piece],
) -> list[Piece]:
    """Clauses of the segment (matchers.fragments.clauses) that a unit matches as a whole,
    exactly or by a fuzzy match ≥ MIN_CLAUSE_SCORE; a clause a piece `found` already covers
    is not looked up again."""
    pieces = []
    for clause in clauses(text):
        if any(p.start <= clause.start and clause.end <= p.end for p in found):
            continue
        query = context.query(clause.text)
        matches = [
            m
            for m in context.matches(query, pivots=False)
            if m.match.score >= MIN_CLAUSE_SCORE and not is_own(m)
        ]
        if not matches:
            continue
        target = fitted(matches[0].match.target_text, clause, text)
        if target:
            pieces.append(
                Piece(
                    clause.start,
                    clause.end,
                    clause.text,
                    target,
                    clause.words,
                    kind="memory",
                    ref=matches[0],
                )
            )
    return pieces


def _letters(text: str) -> int:
    return len(_LETTER.findall(text))
