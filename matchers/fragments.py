"""Fragment assembly: a first draft of a sentence that no memory unit matches as a whole.

Two independently written regions rarely share a whole sentence, but they share its parts: the
labels ("Öffnungszeiten:", "Kosten:"), the names of offices and programmes, headings, day and
month names. memoQ calls this fragment assembly, Trados "upLIFT fragment recall": the parts of
the query sentence that the memory holds as units of their own are put in with their
translations, the rest stays in the source language for the translator.

This module is pure: it lists the query's phrases (runs of words that could be a unit's source),
puts day and month names into the target language (from the CLDR data in babel), and assembles
the pieces found, longest first and without overlaps. Finding the units is the memory's job
(memory.services.fragments).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError

# Inline-markup placeholders of a segment (memory.segmentation): a phrase never crosses one.
_PLACEHOLDER = re.compile(r"</?g\d+>|<x\d+/>")
_WORD = re.compile(r"\w+(?:[-‐'’.]\w+)*", re.UNICODE)
# Punctuation that may end a unit's source right after a phrase ("Öffnungszeiten:").
_TRAILING = ":;,.!?"
_SENTENCE_END = ".!?"

MAX_PHRASE_WORDS = 4


@dataclass(frozen=True)
class Phrase:
    """A run of 1–MAX_PHRASE_WORDS words of the query: text[start:end]."""

    start: int
    end: int
    text: str
    words: int


@dataclass(frozen=True)
class Piece:
    """A phrase of the query and its translation. kind: memory (a unit) | calendar (babel)."""

    start: int
    end: int
    source: str
    target: str
    words: int
    kind: str = "memory"
    ref: Any = None  # the memory's unit, or whatever the caller keeps with it


@dataclass(frozen=True)
class Assembly:
    """The query with the pieces put in; `covered` of its `words` come from a piece."""

    text: str
    pieces: tuple[Piece, ...]
    covered: int
    words: int

    @property
    def share(self) -> float:
        return self.covered / self.words if self.words else 0.0


def word_count(text: str) -> int:
    return len(_WORD.findall(_PLACEHOLDER.sub(" ", text)))


def phrases(text: str, max_words: int = MAX_PHRASE_WORDS) -> list[Phrase]:
    """Every run of up to `max_words` words within one stretch between inline placeholders,
    also with the punctuation mark that directly follows it."""
    found: list[Phrase] = []
    position = 0
    for stretch in [*_PLACEHOLDER.finditer(text), None]:
        stop = stretch.start() if stretch is not None else len(text)
        words = [
            (m.start() + position, m.end() + position) for m in _WORD.finditer(text[position:stop])
        ]
        for first in range(len(words)):
            for last in range(first, min(first + max_words, len(words))):
                start, end = words[first][0], words[last][1]
                count = last - first + 1
                found.append(Phrase(start, end, text[start:end], count))
                if end < stop and text[end] in _TRAILING:
                    found.append(Phrase(start, end + 1, text[start : end + 1], count))
        if stretch is not None:
            position = stretch.end()
    return found


# Where a sentence divides into clauses that may each be a unit of their own elsewhere.
_CLAUSE_BREAK = re.compile(r"\s*(?:[,;:()]|\s[–—-]\s)\s*")
MIN_CLAUSE_WORDS = 3


def clauses(text: str) -> list[Phrase]:
    """The parts of a segment between commas, semicolons, colons, brackets and dashes, of at
    least MIN_CLAUSE_WORDS words, within one stretch between inline placeholders (a sentence
    that is one clause has none)."""
    found: list[Phrase] = []
    position = 0
    for stretch in [*_PLACEHOLDER.finditer(text), None]:
        stop = stretch.start() if stretch is not None else len(text)
        start = position
        for end in [*(m.start() for m in _CLAUSE_BREAK.finditer(text, position, stop)), stop]:
            part = text[start:end].strip(" \t\n–—-")
            if part:
                offset = text.index(part, start)
                words = len(_WORD.findall(part))
                if words >= MIN_CLAUSE_WORDS and len(part) < len(text.strip()):
                    found.append(Phrase(offset, offset + len(part), part, words))
            match = _CLAUSE_BREAK.match(text, end)
            start = match.end() if match is not None and match.end() > end else end + 1
        if stretch is not None:
            position = stretch.end()
    return found


def fitted(target: str, phrase: Phrase, text: str) -> str:
    """A unit's translation shaped for its place in the query: a sentence's final full stop
    only where the phrase has one, and the first letter's case as the phrase has it where the
    translation starts with an ordinary word (not an acronym or a name written in capitals)."""
    target = target.strip()
    if not phrase.text.endswith(tuple(_SENTENCE_END)):
        target = target.rstrip(_SENTENCE_END).rstrip()
    if not target:
        return target
    first, rest = target[0], target[1:2]
    source_first = phrase.text[0]
    at_start = not text[: phrase.start].strip() or text[: phrase.start].rstrip()[-1:] in ".!?:"
    if source_first.islower() and first.isupper() and not rest.isupper() and not at_start:
        target = first.lower() + target[1:]
    elif source_first.isupper() and first.islower():
        target = first.upper() + target[1:]
    return target


def assemble(text: str, pieces: Iterable[Piece]) -> Assembly | None:
    """The query with the longest pieces put in first, none overlapping another; None when
    no piece changes the text."""
    chosen: list[Piece] = []
    for piece in sorted(pieces, key=lambda p: (-p.words, -(p.end - p.start), p.start)):
        if all(piece.end <= c.start or piece.start >= c.end for c in chosen):
            chosen.append(piece)
    chosen.sort(key=lambda p: p.start)
    if not any(p.target != p.source for p in chosen):
        return None
    out: list[str] = []
    position = 0
    for piece in chosen:
        out.append(text[position : piece.start])
        out.append(piece.target)
        position = piece.end
    out.append(text[position:])
    return Assembly(
        text="".join(out),
        pieces=tuple(chosen),
        covered=sum(p.words for p in chosen),
        words=word_count(text),
    )


# --------------------------------------------------------------------------- calendar words


_AFTER_ABBREVIATION = {".", "-", "–", "/", ","}


def calendar_pieces(text: str, source_language: str, target_language: str) -> list[Piece]:
    """Day and month names of the source language, put into the target language's (CLDR).

    Full names match whole words in any case; abbreviations ("Mo.", "Di") only as written and
    followed by a full stop, a dash, a slash, a comma or a digit, so that a word spelt like one
    ("So können Sie") is left alone.
    """
    names = _calendar_names(_base(source_language), _base(target_language))
    if not names:
        return []
    full, short = names
    pieces = []
    for match in _WORD.finditer(text):
        word = match.group(0)
        target = full.get(word.casefold())
        if target is None:
            # A word never holds its full stop (_WORD): "Mo." is "Mo" followed by ".".
            following = text[match.end() : match.end() + 2].lstrip(" ")[:1]
            if word in short and (following in _AFTER_ABBREVIATION or following.isdigit()):
                end = match.end() + (1 if text[match.end() : match.end() + 1] == "." else 0)
                source = text[match.start() : end]
                pieces.append(Piece(match.start(), end, source, short[word], 1, kind="calendar"))
            continue
        if target != word:
            pieces.append(Piece(match.start(), match.end(), word, target, 1, kind="calendar"))
    return pieces


def _base(language: str) -> str:
    return language.replace("_", "-").split("-", 1)[0].lower()


@lru_cache(maxsize=64)
def _calendar_names(source: str, target: str) -> tuple[dict[str, str], dict[str, str]] | None:
    try:
        source_locale, target_locale = Locale.parse(source), Locale.parse(target)
    except (UnknownLocaleError, ValueError):
        return None
    full: dict[str, str] = {}
    short: dict[str, str] = {}
    for kind in ("days", "months"):
        for context in ("format", "stand-alone"):
            source_names = getattr(source_locale, kind)[context]
            target_names = getattr(target_locale, kind)[context]
            for key, name in source_names["wide"].items():
                if key in target_names["wide"]:
                    full.setdefault(name.casefold(), target_names["wide"][key])
            for key, name in source_names["abbreviated"].items():
                bare = name.rstrip(".")
                if key in target_names["abbreviated"] and bare.casefold() not in full:
                    short.setdefault(bare, target_names["abbreviated"][key].rstrip("."))
    return full, short
