"""Local specifics (phone numbers, dates, amounts, ...) as typed placeholders, and their transfer.

Counties share sentences but not their phone numbers, opening hours or fees. Matching runs on the
placeholder form ("Rufen Sie uns an: {PHONE}"), and a suggestion gets the query's own values put
into the stored translation.
"""

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from matchers.normalise import digits_to_ascii

PlaceholderKind = Literal["URL", "EMAIL", "PHONE", "DATE", "TIME", "AMOUNT", "NUM"]

# Upper-case ASCII in braces: normalise_for_matching copies such tokens through unchanged, and
# the fuzzy index treats each as one token ("{PHONE}" never collides with the word "phone").
PLACEHOLDER_TOKENS: dict[str, str] = {
    kind: "{" + kind + "}" for kind in ("URL", "EMAIL", "PHONE", "DATE", "TIME", "AMOUNT", "NUM")
}

_D = r"\d"  # Python's \d also matches Eastern Arabic and Persian digits, on purpose.
_ZERO = "[0\u0660\u06f0]"
_MONTHS = (
    r"(?:Januar|Jänner|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|"
    r"Dezember|Jan|Feb|Mär|Apr|Jun|Jul|Aug|Sept|Sep|Okt|Nov|Dez)\.?"
)
_CURRENCY = r"(?:€|Euro|EUR)"
# 1.234,56 / 12,50 / 12.50 / 1 234 (thin or no-break space as thousands separator)
_AMOUNT_NUMBER = rf"{_D}{{1,3}}(?:[.\u202f\u00a0 ]{_D}{{3}})*(?:,{_D}{{1,2}}|\.{_D}{{2}}|,-)?"

# Alternatives are tried in this order at each position, so the specific kinds come first.
_PATTERNS: list[tuple[str, str]] = [
    ("URL", r"(?:https?://|www\.)[^\s<>\"'()]+[^\s<>\"'().,;:!?]"),
    ("EMAIL", r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z]{2,}"),
    # 01.02.2024, 1.2.24, 2024-02-01, 1. Februar 2024, 1. Feb. 2024
    (
        "DATE",
        rf"(?<![\d.]){_D}{{1,2}}\.{_D}{{1,2}}\.(?:{_D}{{4}}|{_D}{{2}}(?!{_D}))?"
        rf"|(?<!\d){_D}{{4}}-{_D}{{2}}-{_D}{{2}}(?!\d)"
        rf"|(?<![\d.]){_D}{{1,2}}\.\s?{_MONTHS}(?:\s{_D}{{4}})?",
    ),
    # 8:00, 08:00, 8.30 followed by Uhr or a range dash, 8 Uhr. A range 08:00–12:00 is two TIMEs.
    (
        "TIME",
        rf"(?<![\d.:]){_D}{{1,2}}:{_D}{{2}}(?![\d:])"
        rf"|(?<![\d.:]){_D}{{1,2}}\.{_D}{{2}}(?=\s?(?:Uhr|h\b|[-–—]\s?{_D}))"
        rf"|(?<=[-–—]){_D}{{1,2}}\.{_D}{{2}}(?!\d)"
        rf"|(?<![\d.:,]){_D}{{1,2}}(?=\s?Uhr)",
    ),
    # The currency is part of the value: "12,50 €", "50 Euro", "€ 12,50".
    (
        "AMOUNT",
        rf"(?<![\d.,]){_AMOUNT_NUMBER}\s?{_CURRENCY}(?!\w)|{_CURRENCY}\s?{_AMOUNT_NUMBER}(?![\d,.])",
    ),
    # German formats: 07151 501-0, 0821 3102-0, 0821/3102-0, (0821) 310 20, +49 821 3102 0,
    # +49 (0) 821 3102-0. Validated afterwards (at least 6 digits). Also unbroken runs of 8–15
    # digits after a 0 or + ("08213448411", "+4982131022813"): CMS pages often write numbers so
    # (tel: links), and reading them as plain numbers would stop the transfer of a county's own
    # number into a neighbour's spaced one.
    (
        "PHONE",
        rf"(?<![\w+])(?:(?:\+|{_ZERO}{{2}}){_D}{{2}}[ \u00a0]?(?:\({_ZERO}\)[ \u00a0]?)?{_D}{{2,5}}"
        rf"|\({_ZERO}{_D}{{2,5}}\)|{_ZERO}{_D}{{2,5}})"
        rf"(?:[ \u00a0/\-–]{{1,3}}{_D}{{1,8}}){{1,4}}(?!\w)"
        rf"|(?<![\w+])(?:\+{_D}|{_ZERO}){_D}{{6,14}}(?![\w.,])",
    ),
    ("NUM", rf"(?<!\w){_D}+(?:[.,]{_D}+)*(?!\w)"),
]
_COMBINED = re.compile("|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _PATTERNS))
_WITHOUT_PHONE = re.compile(
    "|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _PATTERNS if kind != "PHONE")
)
_MIN_PHONE_DIGITS = 6
_DIGIT_RUN = re.compile(r"\d+")
# Separators a translation may use between the digit groups of the same value.
_GROUP_SEPARATOR = r"[\s./:,\-–—]{0,3}"


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One local specific found in a text; start/end are character offsets into that text."""

    kind: str
    value: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class PlaceholderForm:
    """A text with its local specifics replaced by typed tokens, and the values in text order."""

    form: str
    values: tuple[Placeholder, ...]


@dataclass(frozen=True, slots=True)
class PlaceholderMismatch:
    """Why a value could not be transferred; each one costs a placeholder_mismatch penalty.

    reason: "missing_in_query" (the stored unit has a value the query lacks; the stored value
    stays in the text), "extra_in_query" (the query has a value with no slot in the stored unit),
    or "not_in_target" (the stored source value was not found in the stored translation).
    """

    kind: str
    reason: str
    value: str


def _find_values(text: str) -> list[Placeholder]:
    """Return the placeholders of `text` in order, without overlaps."""
    found: list[Placeholder] = []
    for match in _COMBINED.finditer(text):
        kind = match.lastgroup or "NUM"
        if kind == "PHONE" and sum(map(len, _DIGIT_RUN.findall(match.group()))) < _MIN_PHONE_DIGITS:
            # Too short for a phone number (e.g. a postcode "01067"): read it as other kinds.
            found.extend(
                Placeholder(inner.lastgroup or "NUM", inner.group(), inner.start(), inner.end())
                for inner in _WITHOUT_PHONE.finditer(text, match.start(), match.end())
            )
            continue
        found.append(Placeholder(kind, match.group(), match.start(), match.end()))
    return found


def extract_placeholders(text: str) -> PlaceholderForm:
    """Replace URLs, e-mails, phones, dates, times, amounts and numbers by `{KIND}` tokens."""
    values = _find_values(text)
    if not values:
        return PlaceholderForm(text, ())
    parts: list[str] = []
    position = 0
    for value in values:
        parts.append(text[position : value.start])
        parts.append(PLACEHOLDER_TOKENS[value.kind])
        position = value.end
    parts.append(text[position:])
    return PlaceholderForm("".join(parts), tuple(values))


def _in_digit_style(value: str, located: str, target_language: str) -> str:
    """Write the ASCII or native digits of `value` in the digit script of `located`."""
    has_arabic = any("\u0660" <= c <= "\u0669" for c in located)
    has_persian = any("\u06f0" <= c <= "\u06f9" for c in located)
    if not (has_arabic or has_persian):
        return digits_to_ascii(value)
    if has_arabic and has_persian:
        # Persian writers mix both ranges; the language decides which one to write.
        zero = 0x06F0 if target_language.split("-")[0].lower() in {"fa", "prs", "ur"} else 0x0660
    else:
        zero = 0x0660 if has_arabic else 0x06F0
    ascii_value = digits_to_ascii(value)
    return "".join(chr(zero + int(c)) if "0" <= c <= "9" else c for c in ascii_value)


def _restyle_groups(query_value: str, located: str) -> str:
    """Use the separators of `located` between the query's digit groups when the groups align.

    "9.00" written where the stored translation had "8:30" (for "8.30") becomes "9:00".
    """
    query_groups = _DIGIT_RUN.findall(digits_to_ascii(query_value))
    located_ascii = digits_to_ascii(located)
    separators = _DIGIT_RUN.split(located_ascii)  # text before, between and after the groups
    if len(separators) != len(query_groups) + 1:
        return query_value
    parts = [separators[0]]
    for group, separator in zip(query_groups, separators[1:], strict=True):
        parts.extend((group, separator))
    return "".join(parts)


def _locate(value: str, target: str, taken: list[tuple[int, int]]) -> tuple[int, int, bool] | None:
    """Find `value` in `target` outside `taken` spans: (start, end, by_digits) or None.

    Tries the exact value, then the same digits in another digit script, then the same digit
    groups with other separators (by_digits=True: only the digits part was found).
    """

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    ascii_value = digits_to_ascii(value)
    ascii_target = digits_to_ascii(target)  # same length: digits map one to one
    for haystack, needle in ((target, value), (ascii_target, ascii_value)):
        start = haystack.find(needle)
        while start != -1:
            if free(start, start + len(needle)):
                return start, start + len(needle), False
            start = haystack.find(needle, start + 1)
    groups = _DIGIT_RUN.findall(ascii_value)
    if not groups:
        return None
    pattern = re.compile(r"(?<!\d)" + _GROUP_SEPARATOR.join(groups) + r"(?!\d)")
    for match in pattern.finditer(ascii_target):
        if free(match.start(), match.end()):
            return match.start(), match.end(), True
    return None


def _by_kind(values: Sequence[Placeholder]) -> dict[str, list[Placeholder]]:
    """Group placeholders by kind, keeping their order within each kind."""
    grouped: dict[str, list[Placeholder]] = defaultdict(list)
    for value in values:
        grouped[value.kind].append(value)
    return grouped


def transfer_placeholders(
    stored_source_values: Sequence[Placeholder],
    stored_target_text: str,
    query_values: Sequence[Placeholder],
    target_language: str,
) -> tuple[str, tuple[PlaceholderMismatch, ...]]:
    """Put the query's values into a stored translation; returns (text, mismatches).

    Values pair up by kind and by order within a kind. Each stored source value is looked up in
    the stored translation and replaced by the paired query value, in the digit script (ASCII,
    Arabic-Indic, Persian) the translation used there. `target_language` (BCP 47) decides the
    script only when the translation mixes Arabic-Indic and Persian digits.
    """
    stored_by_kind = _by_kind(stored_source_values)
    query_by_kind = _by_kind(query_values)
    mismatches: list[PlaceholderMismatch] = []
    replacements: list[tuple[int, int, str]] = []
    for kind in sorted(stored_by_kind.keys() | query_by_kind.keys()):
        stored = stored_by_kind.get(kind, [])
        query = query_by_kind.get(kind, [])
        mismatches.extend(
            PlaceholderMismatch(kind, "missing_in_query", v.value) for v in stored[len(query) :]
        )
        mismatches.extend(
            PlaceholderMismatch(kind, "extra_in_query", v.value) for v in query[len(stored) :]
        )
        for stored_value, query_value in zip(stored, query, strict=False):
            taken = [(start, end) for start, end, _ in replacements]
            located = _locate(stored_value.value, stored_target_text, taken)
            if located is None:
                mismatches.append(PlaceholderMismatch(kind, "not_in_target", stored_value.value))
                continue
            start, end, by_digits = located
            if stored_value.value == query_value.value:
                continue
            located_text = stored_target_text[start:end]
            new_value = query_value.value
            if by_digits:
                new_value = _restyle_groups(_digits_part(new_value), located_text)
            replacements.append(
                (start, end, _in_digit_style(new_value, located_text, target_language))
            )
    text = stored_target_text
    for start, end, new_value in sorted(replacements, reverse=True):
        text = text[:start] + new_value + text[end:]
    return text, tuple(mismatches)


def _digits_part(value: str) -> str:
    """Return `value` from its first to its last digit ("12,50 €" → "12,50")."""
    runs = list(_DIGIT_RUN.finditer(value))
    if not runs:
        return value
    return value[runs[0].start() : runs[-1].end()]
