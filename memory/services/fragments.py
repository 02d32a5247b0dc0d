"""Fragments of a sentence that the memory holds as units of their own (fragment assembly).

For segments no memory unit matches as a whole, every phrase of the segment (matchers.fragments:
runs of up to 8 words, with or without a following ":" …) is looked up as an exact source in the
translation memory — one batched query per 500 phrases, through the index of source hashes
that exact matching uses — and day and month names are put into the target language. The
pieces found are assembled longest first (matchers.fragments.assemble).

A unit of the page being translated is never a piece: it would put the page's own current
translation back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
from memory.services.translation_memory import LookupContext, LookupMatch

# A phrase with fewer letters than this is no fragment worth a unit ("Nr.", "Tel", a number):
# it would only put another region's abbreviation in.
MIN_LETTERS = 3
# A clause takes a unit whose source matches it from this score up (a fuzzy match the draft
# would take for a whole segment is good enough for a part of one).
MIN_CLAUSE_SCORE = 85.0


@dataclass(frozen=True)
class FragmentPiece:
    """What a memory piece keeps of its unit: the match (origin, trust, penalties)."""

    match: LookupMatch


def assemble_segments(
    context: LookupContext,
    texts: Sequence[str],
    is_own: Callable[[LookupMatch], bool] = lambda match: False,
) -> list[Assembly | None]:
    """Per segment text (with inline placeholders), its assembly from memory units and
    calendar names, or None when nothing of it is found."""
    found_phrases = [
        [p for p in phrases(text) if p.words < word_count(text) and _worth_a_unit(p)]
        for text in texts
    ]
    queries = [[context.query(p.text) for p in segment] for segment in found_phrases]
    # A phrase that is all number, date or time ("1. März 2020" is one date) has nothing of
    # its own to translate: its unit would only be another date's.
    for index, segment_queries in enumerate(queries):
        kept = [
            (p, q)
            for p, q in zip(found_phrases[index], segment_queries, strict=True)
            if _letters(PROTECTED_TOKEN.sub("", q.key.form)) >= MIN_LETTERS
        ]
        found_phrases[index] = [p for p, _ in kept]
        queries[index] = [q for _, q in kept]
    context.prefetch_exact(q for segment in queries for q in segment)
    results: list[Assembly | None] = []
    for text, segment_phrases, segment_queries in zip(texts, found_phrases, queries, strict=True):
        pieces: list[Piece] = calendar_pieces(text, context.source.code, context.target.code)
        for phrase, query in zip(segment_phrases, segment_queries, strict=True):
            units = context.exact_units(query)
            if not units:
                continue
            matches = [m for m in context.score_units(query, units) if not is_own(m)]
            if not matches:
                continue
            best = matches[0]
            target = fitted(best.match.target_text, phrase, text)
            if not target:
                continue
            pieces.append(
                Piece(
                    phrase.start,
                    phrase.end,
                    phrase.text,
                    target,
                    phrase.words,
                    kind="memory",
                    ref=FragmentPiece(best),
                )
            )
        pieces += _clause_pieces(context, text, is_own)
        results.append(assemble(text, pieces) if pieces else None)
    return results


def _clause_pieces(
    context: LookupContext, text: str, is_own: Callable[[LookupMatch], bool]
) -> list[Piece]:
    """Clauses of the segment (matchers.fragments.clauses) that a unit matches as a whole,
    exactly or by a fuzzy match ≥ MIN_CLAUSE_SCORE."""
    pieces = []
    for clause in clauses(text):
        query = context.query(clause.text)
        matches = [
            m
            for m in context.matches(query)
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
                    ref=FragmentPiece(matches[0]),
                )
            )
    return pieces


def _worth_a_unit(phrase: Phrase) -> bool:
    return _letters(phrase.text) >= MIN_LETTERS


def _letters(text: str) -> int:
    return sum(character.isalpha() for character in text)
