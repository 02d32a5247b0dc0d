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
    # 8:00, 08:00, 8.30 followed by Uhr or a range dash, 8 Uhr. A range 08:00–12:00 is two TIMEs,
    # and so are 16 bis 19 Uhr and 16-19 Uhr (the first hour shares the second one's Uhr).
    (
        "TIME",
        rf"(?<![\d.:]){_D}{{1,2}}:{_D}{{2}}(?![\d:])"
        rf"|(?<![\d.:]){_D}{{1,2}}\.{_D}{{2}}(?=\s?(?:Uhr|h\b|[-–—]\s?{_D}))"
        rf"|(?<=[-–—]){_D}{{1,2}}\.{_D}{{2}}(?!\d)"
        rf"|(?<![\d.:,]){_D}{{1,2}}(?=\s?(?:(?:bis|[-–—])\s?{_D}{{1,2}}(?:[.:]{_D}{{2}})?\s?)?Uhr)",
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
# The same without EMAIL, for a text without "@" (nearly all): every other kind starts with a
# digit, "+", "(" (PHONE), "€" or "E" (AMOUNT: Euro, EUR), "h" or "w" (URL), so a lookahead
# refuses all other positions before the alternatives are tried one by one. An alternative that
# cannot match changes no result: the same values, 5-10× faster on a sentence with a number.
_WITHOUT_EMAIL = re.compile(
    r"(?=[\d+(€Ehw])(?:"
    + "|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _PATTERNS if kind != "EMAIL")
    + ")"
)
_WITHOUT_PHONE = re.compile(
    "|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _PATTERNS if kind != "PHONE")
)
_MIN_PHONE_DIGITS = 6
# Every kind needs a digit, an "@" (EMAIL) or "www." / "://" (URL): a text without any holds no
# value, and one cheap search spares the combined pattern (most sentences have no number).
_MAY_HOLD_A_VALUE = re.compile(r"\d|@|www\.|://")
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
    "not_in_target" (the stored source value was not found in the stored translation), or
    "invalid_in_query" (the query's time is no valid time, such as 25:00; the stored one stays).
    """

    kind: str
    reason: str
    value: str


def _find_values(text: str) -> list[Placeholder]:
    """Return the placeholders of `text` in order, without overlaps."""
    if not _MAY_HOLD_A_VALUE.search(text):
        return []
    found: list[Placeholder] = []
    pattern = _COMBINED if "@" in text else _WITHOUT_EMAIL
    for match in pattern.finditer(text):
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

    "12,50" written where the stored translation had "€12.50" (for "12,50 €") becomes "12.50".
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


Span = tuple[int, int]

# Inline-markup placeholders of segment texts (memory.segmentation): `<g1>…</g1>`, `<x2/>`. Their
# numbers are markup, never a value, so they are never found or replaced.
_INLINE_MARKUP = re.compile(r"</?g\d+>|<x\d+/>")


def _free(start: int, end: int, taken: Sequence[Span]) -> bool:
    return all(end <= s or start >= e for s, e in taken)


def _locate(value: str, ascii_target: str, taken: Sequence[Span]) -> tuple[int, int, bool] | None:
    """Find `value` in `ascii_target` outside `taken` spans: (start, end, by_digits) or None.

    Tries the value itself (in any digit script: the target's digits are ASCII here), then the
    same digit groups with other separators (by_digits=True: only the digits part was found).
    A value is never found inside a longer number or a word ("1" is not in "15", "1,5", "g1").
    """
    ascii_value = digits_to_ascii(value)
    edge_before = r"(?<!\w)(?<!\d[.,:])" if ascii_value[:1].isdigit() else ""
    edge_after = r"(?![.,:]?\d)" if ascii_value[-1:].isdigit() else ""
    exact = re.compile(edge_before + re.escape(ascii_value) + edge_after)
    for match in exact.finditer(ascii_target):
        if _free(match.start(), match.end(), taken):
            return match.start(), match.end(), False
    groups = _DIGIT_RUN.findall(ascii_value)
    if not groups:
        return None
    pattern = re.compile(r"(?<!\w)(?<!\d[.,:])" + _GROUP_SEPARATOR.join(groups) + r"(?![.,:]?\d)")
    for match in pattern.finditer(ascii_target):
        if _free(match.start(), match.end(), taken):
            return match.start(), match.end(), True
    return None


# --------------------------------------------------------------------------- times

# A time as a translation writes it. 12-hour forms: "2pm", "2 p.m.", "2:30 PM", "12 noon",
# "midnight", and the first hour of a range that shares the second one's marker ("3 to 5 pm").
# 24-hour forms: "14:00", "14.30", "14h30", and a bare hour ("14 Uhr", "14-16 Uhr").
_MARKER = r"[aApP](?:\.[ \u00a0]?[mM]\.?|[mM])(?!\w)"
_TWELVE_HOUR = re.compile(
    r"(?<![\w.:,])(?P<hour>\d{1,2})(?:(?P<sep>[:.])(?P<minute>\d{2}))?"
    rf"(?P<space>[ \u00a0\u202f]?)(?P<marker>{_MARKER})"
    r"|(?<!\w)(?P<word>(?:12[ \u00a0])?(?i:noon|midnight))(?!\w)"
)
_RANGE_HEAD = re.compile(
    r"(?<![\w.:,])(?P<hour>\d{1,2})(?:(?P<sep>[:.])(?P<minute>\d{2}))?"
    r"(?=[ \u00a0]?(?:[-–—]|to|till|until|and)[ \u00a0]?\d{1,2}(?:[:.]\d{2})?"
    rf"[ \u00a0\u202f]?{_MARKER})"
)
_CLOCK = re.compile(r"(?<![\w.:,])(?P<hour>\d{1,2})(?P<sep>[:.h])(?P<minute>\d{2})(?![.,:]?\d)")
# A bare hour is no ordinal or unit ("8th", "8kg"); only "8h" may follow it.
_BARE_HOUR = re.compile(r"(?<![\w.:,])(?P<hour>\d{1,2})(?![.,:]?\d)(?!h\w)(?![^\Wh])")
_H_SUFFIX = re.compile(r"h(?!\w)")
_HOUR_WORD = re.compile(r"[ \u00a0]?(?:Uhr|h|o['’]clock)(?!\w)")
# How a query's time value is written: 8, 8:00, 08.30, 14h30 (a source text's 24-hour clock).
_QUERY_CLOCK = re.compile(r"(?P<hour>\d{1,2})(?:[:.h](?P<minute>\d{2}))?")
# Kinds of the target's own values whose digits are never read as a time or a number.
_NOT_A_CLOCK = frozenset({"URL", "EMAIL", "PHONE", "DATE", "AMOUNT"})


@dataclass(frozen=True, slots=True)
class _TargetTime:
    """A time written in the stored translation; hour and minute in 24-hour terms (0–23)."""

    start: int
    end: int
    hour: int
    minute: int
    twelve_hour: bool
    separator: str = ""  # between hour and minutes as written; "" when no minutes were written
    padded: bool = False  # a 24-hour hour written with two digits ("08:00")
    space: str = ""  # before the 12-hour marker
    marker: str = ""  # the 12-hour marker as written ("pm", "p.m.", "AM"); "" for a range head
    word: bool = False  # "noon", "midnight", "12 noon"
    hour_suffix: bool = False  # "8h": the "h" is part of the time, "8h30" with minutes
    tail: int | None = None  # a range head: the index of the time whose marker it shares
    rank: int = 0  # 0: a written clock time, 1: an hour before "Uhr"/"o'clock", 2: a bare number


def _clock_of(value: str) -> tuple[int, int] | None:
    """(hour 0–24, minute) of a time value of a query or stored source, or None if invalid."""
    match = _QUERY_CLOCK.fullmatch(digits_to_ascii(value).strip())
    if match is None:
        return None
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    if minute > 59 or hour > 24 or (hour == 24 and minute):
        return None
    return hour, minute


def _period(hour: int) -> str:
    return "p" if 12 <= hour < 24 else "a"


def _twelve_hour_spans(ascii_target: str) -> list[Span]:
    """Where the translation writes 12-hour times, valid or not ("3 pm", "3 to", "15 pm")."""
    return [
        match.span()
        for pattern in (_TWELVE_HOUR, _RANGE_HEAD)
        for match in pattern.finditer(ascii_target)
    ]


def _find_times(ascii_target: str, blocked: Sequence[Span]) -> list[_TargetTime]:
    """The times written in a translation (ASCII digits), outside `blocked` spans."""
    times: list[_TargetTime] = []
    for match in _TWELVE_HOUR.finditer(ascii_target):
        if not _free(match.start(), match.end(), blocked):
            continue
        if match["word"]:
            noon = match["word"].lower().endswith("noon")
            times.append(
                _TargetTime(match.start(), match.end(), 12 if noon else 0, 0, True, word=True)
            )
            continue
        hour, minute = int(match["hour"]), int(match["minute"] or 0)
        if not 1 <= hour <= 12 or minute > 59:
            continue  # "15 pm" is no time; it is left as it stands
        pm = match["marker"][0] in "pP"
        times.append(
            _TargetTime(
                match.start(),
                match.end(),
                hour % 12 + (12 if pm else 0),
                minute,
                True,
                separator=match["sep"] or "",
                space=match["space"],
                marker=match["marker"],
            )
        )
    twelve = list(times)
    for match in _RANGE_HEAD.finditer(ascii_target):
        hour, minute = int(match["hour"]), int(match["minute"] or 0)
        tail = next((i for i, t in enumerate(twelve) if t.start >= match.end()), None)
        if tail is None or twelve[tail].word or not 1 <= hour <= 12 or minute > 59:
            continue
        if not _free(match.start(), match.end(), [*blocked, *((t.start, t.end) for t in twelve)]):
            continue
        pm = twelve[tail].hour >= 12
        times.append(
            _TargetTime(
                match.start(),
                match.end(),
                hour % 12 + (12 if pm else 0),
                minute,
                True,
                separator=match["sep"] or "",
                tail=tail,
            )
        )
    # An hour with a marker is never also read as a 24-hour time ("15 pm" is left alone).
    occupied = [*blocked, *_twelve_hour_spans(ascii_target)]
    for pattern in (_CLOCK, _BARE_HOUR):
        for match in pattern.finditer(ascii_target):
            if not _free(match.start(), match.end(), occupied):
                continue
            hour, minute = int(match["hour"]), int(match.groupdict().get("minute") or 0)
            if hour > 24 or minute > 59 or (hour == 24 and minute):
                continue
            named = _HOUR_WORD.match(ascii_target, match.end()) is not None
            rank = 0 if pattern is _CLOCK else (1 if named else 2)
            suffix = pattern is _BARE_HOUR and _H_SUFFIX.match(ascii_target, match.end())
            times.append(
                _TargetTime(
                    match.start(),
                    match.end() + (1 if suffix else 0),
                    hour % 24,
                    minute,
                    False,
                    separator=match.groupdict().get("sep") or "",
                    padded=len(match["hour"]) == 2 and match["hour"].startswith("0"),
                    hour_suffix=bool(suffix),
                    rank=rank,
                )
            )
            occupied.append((times[-1].start, times[-1].end))
    return times


def _marker_for(period: str, like: str) -> str:
    """The 12-hour marker of `period` ("a" or "p") spelled like `like` ("p.m." → "a.m.")."""
    letter = period.upper() if like[:1].isupper() else period
    return letter + like[1:]


def _render_time(
    hour: int, minute: int, written: _TargetTime, spelling: _TargetTime | None, marked: bool
) -> str:
    """Write a time in the style of `written`; `spelling` gives a 12-hour marker's spelling."""
    if not written.twelve_hour:
        shown = f"{hour:02d}" if written.padded else str(hour)
        if written.hour_suffix:
            return f"{shown}h{minute:02d}" if minute else f"{shown}h"
        if written.separator or minute:
            return f"{shown}{written.separator or ':'}{minute:02d}"
        return shown
    hour %= 24  # 24 Uhr is midnight on a 12-hour clock
    if written.word and minute == 0 and hour in (0, 12):
        return "noon" if hour == 12 else "midnight"
    digits = str(hour % 12 or 12)
    if written.separator or minute:
        digits += f"{written.separator or ':'}{minute:02d}"
    if not marked:
        return digits
    space, marker = (spelling.space, spelling.marker) if spelling else (" ", "am")
    return digits + space + _marker_for(_period(hour), marker)


def _transfer_times(
    stored: Sequence[Placeholder],
    query: Sequence[Placeholder],
    ascii_target: str,
    blocked: Sequence[Span],
) -> tuple[list[tuple[int, int, str]], list[Span], list[PlaceholderMismatch]]:
    """Pair stored and query times; returns (replacements, spans used, mismatches).

    A stored time is found in the translation by what it means (14 Uhr is "2pm", "2 p.m." or
    "14:00"), and the query's time written the way the translation writes that one: 15 Uhr
    becomes "3pm" there, 24 Uhr "12 am" or "midnight". What cannot be written so is a mismatch.
    """
    times = _find_times(ascii_target, blocked)
    order = sorted(range(len(times)), key=lambda i: (times[i].rank, times[i].start))
    used: set[int] = set()
    new: dict[int, tuple[int, int]] = {}
    mismatches: list[PlaceholderMismatch] = []
    for stored_value, query_value in zip(stored, query, strict=False):
        stored_clock = _clock_of(stored_value.value)
        meaning = None if stored_clock is None else (stored_clock[0] % 24, stored_clock[1])
        found = next(
            (i for i in order if i not in used and (times[i].hour, times[i].minute) == meaning),
            None,
        )
        if found is None:
            mismatches.append(PlaceholderMismatch("TIME", "not_in_target", stored_value.value))
            continue
        used.add(found)
        query_clock = _clock_of(query_value.value)
        if query_clock is None:
            mismatches.append(PlaceholderMismatch("TIME", "invalid_in_query", query_value.value))
        elif (query_clock[0] % 24, query_clock[1]) != meaning:
            new[found] = query_clock  # 24 stays 24 on a 24-hour clock
    spelling = next((t for t in times if t.marker), None)
    replacements = []
    for index, written in enumerate(times):
        if written.tail is not None and (index in new or written.tail in new):
            # A range head shares its tail's marker: it needs its own once the periods differ.
            hour, minute = new.get(index, (written.hour, written.minute))
            tail = times[written.tail]
            tail_hour = new.get(written.tail, (tail.hour, tail.minute))[0]
            marked = _period(hour) != _period(tail_hour)
            text = _render_time(hour, minute, written, tail, marked)
        elif index in new:
            hour, minute = new[index]
            text = _render_time(
                hour, minute, written, written if written.marker else spelling, True
            )
        else:
            continue
        replacements.append((written.start, written.end, text))
    spans = [(times[i].start, times[i].end) for i in used]
    return replacements, spans, mismatches


# --------------------------------------------------------------------------- transfer


def _by_kind(values: Sequence[Placeholder]) -> dict[str, list[Placeholder]]:
    """Group placeholders by kind, keeping their order within each kind."""
    grouped: dict[str, list[Placeholder]] = defaultdict(list)
    for value in values:
        grouped[value.kind].append(value)
    return grouped


def _own_values(ascii_target: str, markup: Sequence[Span]) -> list[Placeholder]:
    """The translation's own placeholders, read with its inline markup blanked out."""
    blanked = list(ascii_target)
    for start, end in markup:
        blanked[start:end] = " " * (end - start)
    return _find_values("".join(blanked))


def transfer_placeholders(
    stored_source_values: Sequence[Placeholder],
    stored_target_text: str,
    query_values: Sequence[Placeholder],
    target_language: str,
) -> tuple[str, tuple[PlaceholderMismatch, ...]]:
    """Put the query's values into a stored translation; returns (text, mismatches).

    Values pair up by kind and by order within a kind. Each stored source value is looked up in
    the stored translation and replaced by the paired query value, in the digit script (ASCII,
    Arabic-Indic, Persian) the translation used there; a time is found by what it means and
    written in the translation's clock (see `_transfer_times`). Inline markup (`<g1>`, `</g1>`,
    `<x2/>`) is never touched. `target_language` (BCP 47) decides the digit script only when
    the translation mixes Arabic-Indic and Persian digits. Every query value either arrives in
    the text or is listed among the mismatches.
    """
    stored_by_kind = _by_kind(stored_source_values)
    query_by_kind = _by_kind(query_values)
    ascii_target = digits_to_ascii(stored_target_text)  # same length: digits map one to one
    markup = [match.span() for match in _INLINE_MARKUP.finditer(stored_target_text)]
    paired = {v.kind for v in stored_source_values} & {v.kind for v in query_values}
    not_a_clock: list[Span] = []
    if paired & {"TIME", "NUM"}:
        own = _own_values(ascii_target, markup)
        not_a_clock = [(v.start, v.end) for v in own if v.kind in _NOT_A_CLOCK]
    mismatches: list[PlaceholderMismatch] = []
    replacements: list[tuple[int, int, str]] = []
    taken: list[Span] = list(markup)  # markup and every span found for a value
    present = stored_by_kind.keys() | query_by_kind.keys()
    for kind in (kind for kind in PLACEHOLDER_TOKENS if kind in present):
        stored = stored_by_kind.get(kind, [])
        query = query_by_kind.get(kind, [])
        mismatches.extend(
            PlaceholderMismatch(kind, "missing_in_query", v.value) for v in stored[len(query) :]
        )
        mismatches.extend(
            PlaceholderMismatch(kind, "extra_in_query", v.value) for v in query[len(stored) :]
        )
        if kind == "TIME":
            found, spans, failed = _transfer_times(
                stored, query, ascii_target, [*taken, *not_a_clock]
            )
            replacements.extend(
                (start, end, _in_digit_style(text, stored_target_text[start:end], target_language))
                for start, end, text in found
            )
            taken.extend(spans)
            mismatches.extend(failed)
            continue
        # A number is never read out of a time like "8 am" (writing 15 there would make
        # "15 am"), nor out of the translation's own URLs, e-mails, phones and dates.
        blocked = [*_twelve_hour_spans(ascii_target), *not_a_clock] if kind == "NUM" else []
        for stored_value, query_value in zip(stored, query, strict=False):
            located = _locate(stored_value.value, ascii_target, [*taken, *blocked])
            if located is None:
                mismatches.append(PlaceholderMismatch(kind, "not_in_target", stored_value.value))
                continue
            start, end, by_digits = located
            taken.append((start, end))
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
