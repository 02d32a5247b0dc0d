"""Term recognition: which termbase terms a text contains, through inflection and compounds.

Words are compared by their lemma (simplemma's dictionaries, offline, 50+ languages) as well as
their surface form, so "Bürgergeldes" and "Jobcenters" contain "Bürgergeld" and "Jobcenter". In
compounding languages a word also contains a term it starts or ends with when the rest is itself
a word simplemma knows, with or without a linking element ("Bürgergeld|antrag",
"Arbeitslosengeld|s|bescheid", "Sozial|bürgergeld" would be found; "Amt" in "Amtsgericht" only if
"gericht" is a word, which it is). Hyphenated compounds are split at their hyphens, so
"Hartz-IV-Empfänger" contains "Hartz IV". No hand lists of forms: only the library's
dictionaries and the handful of German-style linking elements below.

Pure computation: no Flask, no SQLAlchemy.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import simplemma
from simplemma.strategies.dictionaries.dictionary_factory import SUPPORTED_LANGUAGES

__all__ = [
    "TermEntry",
    "TermHit",
    "TermRecognizer",
    "lemma_forms",
]

# Languages that write compounds as one word (head last).
COMPOUNDING_LANGUAGES = frozenset({"de", "nl", "sv", "da", "nb", "nn", "no", "is", "fi", "lb"})
# Linking elements between the parts of a compound ("Arbeitslosengeld|s|antrag").
LINKING_ELEMENTS = ("", "s", "es", "n", "en", "e", "er", "-")
MIN_COMPOUND_TERM = 4  # a term shorter than this is only found as a whole word
MIN_COMPOUND_REST = 3  # the other part of a compound is at least this long

# A word: letters and digits, with inner apostrophes ("citizen's"); hyphens separate words.
_WORD = re.compile(r"\w+(?:['’]\w+)*")


@dataclass(frozen=True)
class TermEntry:
    """A term the recognizer looks for: its concept, text, language and status."""

    concept_id: int
    text: str
    language: str
    status: str = "preferred"


@dataclass(frozen=True)
class TermHit:
    """A term found in a text: [start, end) character offsets of what matched in the text."""

    concept_id: int
    term: str
    status: str
    start: int
    end: int
    surface: str


def _base_language(language: str) -> str:
    return language.lower().split("-")[0]


@lru_cache(maxsize=200_000)
def lemma_forms(word: str, language: str) -> frozenset[str]:
    """The lower-cased forms a word is compared by: itself and its lemma (if the language is
    one simplemma knows)."""
    folded = word.lower()
    forms = {folded}
    base = _base_language(language)
    if base in SUPPORTED_LANGUAGES:
        forms.add(simplemma.lemmatize(word, lang=base).lower())
    return frozenset(forms)


@lru_cache(maxsize=100_000)
def _is_word(text: str, language: str) -> bool:
    base = _base_language(language)
    if base not in SUPPORTED_LANGUAGES or len(text) < MIN_COMPOUND_REST:
        return False
    return bool(
        simplemma.is_known(text, lang=base) or simplemma.is_known(text.capitalize(), lang=base)
    )


def _words(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


@dataclass(frozen=True)
class _Pattern:
    entry: TermEntry
    forms: tuple[frozenset[str], ...]  # per word of the term


class TermRecognizer:
    """Finds the terms of one language in texts of that language."""

    def __init__(self, entries: Iterable[TermEntry], language: str):
        self.language = language
        self._compounding = _base_language(language) in COMPOUNDING_LANGUAGES
        self._by_first: dict[str, list[_Pattern]] = defaultdict(list)
        self._single: list[_Pattern] = []  # one-word terms, looked for inside compounds
        for entry in entries:
            words = _words(entry.text)
            if not words:
                continue
            pattern = _Pattern(entry, tuple(lemma_forms(w, language) for w, _, _ in words))
            for form in pattern.forms[0]:
                self._by_first[form].append(pattern)
            if len(words) == 1 and len(entry.text) >= MIN_COMPOUND_TERM:
                self._single.append(pattern)

    def __bool__(self) -> bool:
        return bool(self._by_first)

    def find(self, text: str) -> list[TermHit]:
        """Every term occurrence in `text`, in text order; overlapping hits of the same concept
        are reported once (the longest)."""
        words = _words(text)
        forms = [lemma_forms(word, self.language) for word, _, _ in words]
        hits: list[TermHit] = []
        for i, word_forms in enumerate(forms):
            seen: set[int] = set()
            for form in word_forms:
                for pattern in self._by_first.get(form, ()):
                    if id(pattern) in seen:
                        continue
                    seen.add(id(pattern))
                    n = len(pattern.forms)
                    if i + n <= len(words) and all(
                        pattern.forms[k] & forms[i + k] for k in range(1, n)
                    ):
                        hits.append(self._hit(pattern, text, words[i][1], words[i + n - 1][2]))
            if self._compounding and self._single:
                hits.extend(self._in_compound(text, words[i], word_forms, seen))
        return _longest_per_concept(hits)

    def _in_compound(
        self, text: str, word: tuple[str, int, int], word_forms: frozenset[str], seen: set[int]
    ) -> list[TermHit]:
        surface, start, end = word
        found = []
        for pattern in self._single:
            if id(pattern) in seen:
                continue
            for form in word_forms:
                if len(form) < MIN_COMPOUND_TERM + MIN_COMPOUND_REST:
                    continue
                span = _compound_span(form, pattern.forms[0], self.language)
                if span is not None:
                    # The term's part of the word (offsets into the surface form, which shares
                    # the lemma's beginning for a head-first match).
                    a, b = span
                    if b > len(surface):
                        b = len(surface)
                    if a >= len(surface):
                        a, b = 0, len(surface)
                    found.append(self._hit(pattern, text, start + a, start + b))
                    break
        return found

    def _hit(self, pattern: _Pattern, text: str, start: int, end: int) -> TermHit:
        entry = pattern.entry
        return TermHit(entry.concept_id, entry.text, entry.status, start, end, text[start:end])


def _compound_span(word: str, term_forms: frozenset[str], language: str) -> tuple[int, int] | None:
    """Where a one-word term sits in a compound `word` (both lower-cased), if the rest of the
    word is a word of the language (after a linking element); None otherwise."""
    for term in term_forms:
        if len(term) < MIN_COMPOUND_TERM or term == word:
            continue
        if word.startswith(term):
            rest = word[len(term) :]
            for link in LINKING_ELEMENTS:
                if rest.startswith(link) and _is_word(rest[len(link) :], language):
                    return 0, len(term)
        if word.endswith(term):
            head = word[: -len(term)]
            for link in LINKING_ELEMENTS:
                if head.endswith(link) and _is_word(head[: len(head) - len(link)], language):
                    return len(word) - len(term), len(word)
    return None


def _longest_per_concept(hits: Sequence[TermHit]) -> list[TermHit]:
    kept: list[TermHit] = []
    for hit in sorted(hits, key=lambda h: (h.start, -(h.end - h.start))):
        if any(
            k.concept_id == hit.concept_id and k.start <= hit.start and hit.end <= k.end
            for k in kept
        ):
            continue
        kept.append(hit)
    return kept
