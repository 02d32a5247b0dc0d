"""Quality checks of a translation against its source segment, as CAT tools run them.

Pure functions: `check_translation(source, target)` returns the failed checks, each a
`QaFinding` (check, code, message, value). The local specifics are read as the memory reads
them (`matchers.placeholders`: URLs, e-mails, phones, dates, times, amounts, numbers); phones
compare by their E.164 form (`matchers.local_details.phone_key`: "0911 231-0" and
"+49 911 2310" are the same number), numbers and amounts by their digits (a translation may
write 1.234,50 as 1,234.50), dates by day, month and year (German and English month names, or
digits in any order a translation writes them), times by the minute of the day (14:00, 14.00
Uhr, 2 pm). Inline tags are the segments' placeholders (`<g1>…</g1>`, `<x2/>`).

What is checked: numbers, phones, dates, times, URLs, e-mails missing or extra; inline tags
missing or extra (when the target carries markup at all: a plain-text edit cannot); the source
left untranslated in the target; leading and trailing whitespace, doubled spaces; the final
punctuation mark; with a termbase (`terminology`), its terms rendered as it says and none of
its deprecated or forbidden target terms used. Every finding blocks an accept or an edit until
the translator confirms it.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from matchers.local_details import phone_key
from matchers.normalise import digits_to_ascii
from matchers.placeholders import Placeholder, extract_placeholders

__all__ = ["CHECKS", "QaFinding", "check_translation", "findings_as_records", "term_findings"]

# The checks, in the order their findings are listed.
CHECKS = (
    "number",
    "phone",
    "date",
    "time",
    "url",
    "email",
    "tag",
    "untranslated",
    "whitespace",
    "punctuation",
    "terminology",
)


@dataclass(frozen=True, slots=True)
class QaFinding:
    """One failed check: check (CHECKS), code (e.g. phone_missing), a sentence, the value."""

    check: str
    code: str
    message: str
    value: str = ""

    def as_record(self) -> dict[str, str]:
        return {
            "check": self.check,
            "code": self.code,
            "message": self.message,
            "value": self.value,
        }


def findings_as_records(findings: Iterable[QaFinding]) -> list[dict[str, str]]:
    return [finding.as_record() for finding in findings]


_TAG = re.compile(r"</?g\d+>|<x\d+/>")
_HAS_VALUES = re.compile(r"\d|@|www\.|://")
_LETTER = re.compile(r"[^\W\d_]")
_DIGITS = re.compile(r"\d+")
_MONTHS = {
    # German and English names and abbreviations; a translation into another language that
    # writes the month as a word is checked by day and year only.
    **dict.fromkeys(("januar", "jänner", "jan", "january"), 1),
    **dict.fromkeys(("februar", "feb", "february"), 2),
    **dict.fromkeys(("märz", "mär", "mar", "march"), 3),
    **dict.fromkeys(("april", "apr"), 4),
    **dict.fromkeys(("mai", "may"), 5),
    **dict.fromkeys(("juni", "jun", "june"), 6),
    **dict.fromkeys(("juli", "jul", "july"), 7),
    **dict.fromkeys(("august", "aug"), 8),
    **dict.fromkeys(("september", "sep", "sept"), 9),
    **dict.fromkeys(("oktober", "okt", "oct", "october"), 10),
    **dict.fromkeys(("november", "nov"), 11),
    **dict.fromkeys(("dezember", "dez", "dec", "december"), 12),
}
_MONTH_WORD = re.compile(r"[^\W\d_]+\.?")
_CLOCK = re.compile(
    r"(?<![\d.:,])(?P<hour>\d{1,2})(?:[:.h](?P<minute>\d{2}))?(?!\d|[.,:]\d)"
    r"(?:\s?(?P<marker>[aApP]\.?\s?[mM]\.?)(?!\w))?"
)
_WORD = re.compile(r"[^\W\d_]+")
_NUMBER_WORDS = {
    word: number
    for number, words in enumerate(
        (
            ("zero",),
            ("one", "first"),
            ("two", "second"),
            ("three", "third"),
            ("four", "fourth"),
            ("five", "fifth"),
            ("six", "sixth"),
            ("seven", "seventh"),
            ("eight", "eighth"),
            ("nine", "ninth"),
            ("ten", "tenth"),
            ("eleven", "eleventh"),
            ("twelve", "twelfth"),
        )
    )
    for word in words
}
_ORDINAL = re.compile(r"(?<![\w.,])\d+(?=(?:st|nd|rd|th)(?!\w))")
_HOUR_AFTER = re.compile(r"\s?(?:[aApP]\.?\s?[mM]\.?|Uhr|h|o['’]clock)(?!\w)")
# Final marks that say the same in other scripts (Arabic question mark and semicolon, CJK stop).
_END_MARKS = {
    ".": ".",
    "。": ".",
    "!": "!",
    "?": "?",
    "؟": "?",
    ":": ":",
    ";": ";",
    "؛": ";",
    "…": "…",
}
_ABBREVIATION = re.compile(
    r"(?:(?<!\w)[^\W\d_]\.){2,}$|(?<!\w)(?:hrs|Str|Nr|Co|Inc|Ltd|ca|bzw|usw)\.$", re.IGNORECASE
)
_CLOSING = "\"'“”‘’»«)]}›‹"


@functools.lru_cache(maxsize=8192)  # pure; a page's candidates repeat texts
def check_translation(
    source: str,
    target: str,
    *,
    source_language: str = "",
    target_language: str = "",
    markup: bool | None = None,
    terminology: Callable[[str, str], Iterable[QaFinding]] | None = None,
) -> tuple[QaFinding, ...]:
    """The failed checks of `target` as a translation of `source` (both segment texts, inline
    tags as placeholders); () when every check passes.

    `markup`: whether the target is expected to carry the source's inline tags (default: when
    it carries any). Languages (BCP 47) only tell "untranslated" apart from a shared language.
    `terminology(source, target)`: the termbase's findings (see `term_findings`), if any.
    """
    findings: list[QaFinding] = []
    source_plain, target_plain = _TAG.sub("", source), _TAG.sub("", target)
    if _HAS_VALUES.search(source_plain) or _HAS_VALUES.search(target_plain):
        # Most sentences have no number, address or link: the value checks have nothing to do.
        target_ascii = digits_to_ascii(target_plain)
        source_values = extract_placeholders(digits_to_ascii(source_plain)).values
        target_values = extract_placeholders(target_ascii).values
        findings += _numbers(source_values, target_values, target_ascii)
        findings += _phones(source_values, target_values)
        findings += _dates(source_values, target_values, target_ascii)
        findings += _times(source_values, target_ascii)
        findings += _exact_values("url", "URL", source_values, target_values, _url_key)
        findings += _exact_values("email", "EMAIL", source_values, target_values, str.casefold)
    if markup is None:
        markup = bool(_TAG.search(target))
    if markup:
        findings += _tags(source, target)
    findings += _untranslated(source_plain, target_plain, source_language, target_language)
    findings += _whitespace(source_plain, target_plain)
    findings += _punctuation(source_plain, target_plain)
    if terminology is not None:
        findings += terminology(source_plain, target_plain)
    return tuple(findings)


def term_findings(
    missing: Iterable[tuple[str, Sequence[str]]],
    avoided: Iterable[tuple[str, str, Sequence[str]]],
) -> list[QaFinding]:
    """Terminology findings: `missing` (source term, its preferred target terms) not rendered
    so; `avoided` (status, what the target says, the preferred terms) deprecated or forbidden
    target terms used."""
    findings = [
        QaFinding(
            "terminology",
            "term_not_used",
            f"'{term}' should be rendered as " + " or ".join(f"'{p}'" for p in preferred) + ".",
            term,
        )
        for term, preferred in missing
    ]
    for status, surface, preferred in avoided:
        instead = " or ".join(f"'{p}'" for p in preferred)
        findings.append(
            QaFinding(
                "terminology",
                f"term_{status}",
                f"'{surface}' is a {status} term" + (f": use {instead}." if instead else "."),
                surface,
            )
        )
    return findings


# --------------------------------------------------------------------------- values


def _of_kind(values: Sequence[Placeholder], *kinds: str) -> list[Placeholder]:
    return [v for v in values if v.kind in kinds]


def _digit_key(value: str) -> str:
    """The digits of a number or amount without separators, leading zeros kept ("1.234,50")."""
    return "".join(_DIGITS.findall(value))


def _missing_and_extra(
    wanted: Sequence[tuple[str, str]], found: Sequence[tuple[str, str]]
) -> tuple[list[str], list[str]]:
    """Values (key, shown) of `wanted` not in `found`, and of `found` not in `wanted`, by key
    and as often as they occur."""
    return _unmatched(wanted, Counter(k for k, _ in found)), _unmatched(
        found, Counter(k for k, _ in wanted)
    )


def _unmatched(values: Sequence[tuple[str, str]], available: Counter[str]) -> list[str]:
    left = []
    for key, shown in values:
        if available[key] > 0:
            available[key] -= 1
        else:
            left.append(shown)
    return left


def _numbers(
    source: Sequence[Placeholder], target: Sequence[Placeholder], target_text: str
) -> list[QaFinding]:
    # Numbers and amounts. A target writes the source's dates and times its own way ("1
    # February 2024", "2 pm": plain numbers there), and those have their own checks: a target
    # number that is a part of one of them is no extra number.
    wanted = [(_digit_key(v.value), v.value) for v in _of_kind(source, "NUM", "AMOUNT")]
    found = [(_digit_key(v.value), v.value) for v in _of_kind(target, "NUM", "AMOUNT")]
    # An ordinal ("1st Tuesday" for "1. Dienstag") carries its number too.
    found += [(_digit_key(m.group()), m.group()) for m in _ORDINAL.finditer(target_text)]
    # A number written as an English word ("first year", "two weeks") is there too.
    found += [
        (str(_NUMBER_WORDS[w.lower()]), w)
        for w in _WORD.findall(target_text)
        if w.lower() in _NUMBER_WORDS
    ]
    missing = _unmatched(wanted, Counter(key for key, _ in found))
    if missing:
        # "zwischen 14 und 15 Uhr" → "between 2 and 3 pm": the hour, on the other clock.
        target_clocks = _clocks(target_text)
        missing = [
            value
            for value in missing
            if not (value.isdigit() and int(value) <= 24 and int(value) * 60 in target_clocks)
        ]
    parts = _date_and_time_parts(source)
    source_clocks = {m for v in _of_kind(source, "TIME") for m in _clocks(v.value)}
    if source_clocks:
        # "zwischen 14 und 15 Uhr": the first hour is a plain number there, a time all the same.
        source_clocks |= {
            int(v.value) * 60
            for v in _of_kind(source, "NUM")
            if v.value.isdigit() and int(v.value) <= 24
        }
    extra = _unmatched(
        [
            (_digit_key(v.value), v.value)
            for v in _of_kind(target, "NUM", "AMOUNT")
            if not (
                v.kind == "NUM"
                and (
                    (v.value.isdigit() and int(v.value) in parts)
                    # "3 pm", "15 Uhr", "13.00": a time of the target (the time check has it).
                    or _HOUR_AFTER.match(target_text, v.end)
                    or (source_clocks and _clocks(v.value) & source_clocks)
                )
            )
        ],
        Counter(key for key, _ in wanted),
    )
    return [
        QaFinding("number", "number_missing", f"The number {value} is missing.", value)
        for value in missing
    ] + [
        QaFinding("number", "number_extra", f"The number {value} is not in the source.", value)
        for value in extra
    ]


def _date_and_time_parts(values: Sequence[Placeholder]) -> set[int]:
    """Every number a date or time of `values` may be written with: day, month, year (also
    two-digit), hour (also on a 12-hour clock), minute."""
    parts: set[int] = set()
    for value in _of_kind(values, "DATE"):
        day, month, year = _date_parts(value.value)
        parts.update(n for n in (day, month) if n is not None)
        if year is not None:
            parts.update({year, _year(year) or year, year % 100})
    for value in _of_kind(values, "TIME"):
        for minutes in _clocks(value.value):
            hour, minute = divmod(minutes, 60)
            parts.update({hour, hour % 12 or 12, minute})
    return parts


@functools.lru_cache(maxsize=4096)
def _phone(value: str) -> str:
    return phone_key(value) or _digit_key(value)


def _phones(source: Sequence[Placeholder], target: Sequence[Placeholder]) -> list[QaFinding]:
    wanted = [(_phone(v.value), v.value) for v in _of_kind(source, "PHONE")]
    found = [(_phone(v.value), v.value) for v in _of_kind(target, "PHONE")]
    missing, extra = _missing_and_extra(wanted, found)
    return [
        QaFinding("phone", "phone_missing", f"The phone number {value} is missing.", value)
        for value in missing
    ] + [
        QaFinding("phone", "phone_extra", f"The phone number {value} is not in the source.", value)
        for value in extra
    ]


def _url_key(value: str) -> str:
    key = value.strip().rstrip("/")
    key = re.sub(r"^https?://", "", key, flags=re.IGNORECASE)
    host, _, path = key.partition("/")
    return host.lower().removeprefix("www.") + ("/" + path if path else "")


def _exact_values(
    check: str,
    kind: str,
    source: Sequence[Placeholder],
    target: Sequence[Placeholder],
    key: Callable[[str], str],
) -> list[QaFinding]:
    name = {"url": "address", "email": "e-mail address"}[check]
    wanted = [(key(v.value), v.value) for v in _of_kind(source, kind)]
    found = [(key(v.value), v.value) for v in _of_kind(target, kind)]
    missing, extra = _missing_and_extra(wanted, found)
    return [
        QaFinding(check, f"{check}_missing", f"The {name} {value} is missing.", value)
        for value in missing
    ] + [
        QaFinding(check, f"{check}_extra", f"The {name} {value} is not in the source.", value)
        for value in extra
    ]


# --------------------------------------------------------------------------- dates and times


def _date_parts(value: str) -> tuple[int | None, int | None, int | None]:
    """(day, month, year) of a German-style date value ("01.02.2024", "1. Februar", ISO)."""
    numbers = [int(n) for n in _DIGITS.findall(value)]
    if re.match(r"\d{4}-", value):
        return numbers[2], numbers[1], numbers[0]
    month = next(
        (_MONTHS[w.rstrip(".").lower()] for w in _MONTH_WORD.findall(value) if _is_month(w)),
        None,
    )
    if month is not None:
        return numbers[0], month, numbers[1] if len(numbers) > 1 else None
    day, month_number = numbers[0], numbers[1] if len(numbers) > 1 else None
    year = numbers[2] if len(numbers) > 2 else None
    return day, month_number, year


def _is_month(word: str) -> bool:
    return word.rstrip(".").lower() in _MONTHS


def _year(value: int | None) -> int | None:
    if value is None:
        return None
    return value + 2000 if value < 100 else value


def _target_has_date(day: int, month: int | None, year: int | None, target: str) -> bool:
    """Whether the target writes this date: digits in any order (d.m.y, m/d/y, y-m-d), or the
    day and year around a month name; an unknown month word (another language) counts."""
    numbers = [int(n) for n in _DIGITS.findall(target)]
    months_named = [
        _MONTHS[w.rstrip(".").lower()] for w in _MONTH_WORD.findall(target) if _is_month(w)
    ]
    wanted = Counter([day] + ([month] if month is not None else []))
    have = Counter(numbers)
    if year is not None:
        if _year(year) not in {_year(n) for n in numbers}:
            return False
    if not (wanted - have):
        return True
    if month is not None and month in months_named and day in have:
        return True
    # The month as a word of a language not known here: the day and year are what we can see.
    return month is not None and not months_named and day in have and year is not None


def _dates(
    source: Sequence[Placeholder], target: Sequence[Placeholder], target_text: str
) -> list[QaFinding]:
    findings = []
    for value in _of_kind(source, "DATE"):
        day, month, year = _date_parts(value.value)
        if day is None or not _target_has_date(day, month, year, target_text):
            findings.append(
                QaFinding(
                    "date", "date_missing", f"The date {value.value} is missing.", value.value
                )
            )
    return findings


def _minutes(hour: int, minute: int, marker: str | None) -> int:
    if marker:
        pm = marker.lower().startswith("p")
        hour = hour % 12 + (12 if pm else 0)
    return hour * 60 + minute


def _clocks(text: str) -> set[int]:
    """Every reading of a number in `text` as a time of day, in minutes ("8" → 8:00 or 20:00:
    in a range one marker serves both ends)."""
    found = set()
    for match in _CLOCK.finditer(text):
        hour = int(match.group("hour"))
        minute = int(match.group("minute") or 0)
        if hour > 24 or minute >= 60:
            continue
        found.add(_minutes(hour, minute, match.group("marker")))
        if not match.group("marker") and 1 <= hour <= 12:
            # "from 4 to 6 pm": one marker for both ends, so a bare 4 may be 16:00.
            found.add(_minutes(hour, minute, "pm"))
    return found


def _times(source: Sequence[Placeholder], target_text: str) -> list[QaFinding]:
    findings = []
    have = _clocks(target_text)
    for value in _of_kind(source, "TIME"):
        clocks = _clocks(value.value)
        if clocks and not clocks & have:
            findings.append(
                QaFinding(
                    "time", "time_missing", f"The time {value.value} is missing.", value.value
                )
            )
    return findings


# --------------------------------------------------------------------------- text


def _tags(source: str, target: str) -> list[QaFinding]:
    wanted, found = Counter(_TAG.findall(source)), Counter(_TAG.findall(target))
    return [
        QaFinding("tag", "tag_missing", f"The inline tag {tag} is missing.", tag)
        for tag in sorted((wanted - found).elements())
    ] + [
        QaFinding("tag", "tag_extra", f"The inline tag {tag} is not in the source.", tag)
        for tag in sorted((found - wanted).elements())
    ]


def _untranslated(
    source: str, target: str, source_language: str, target_language: str
) -> list[QaFinding]:
    same_language = source_language.split("-")[0].lower() == target_language.split("-")[0].lower()
    if source_language and target_language and same_language:
        return []
    words = [w for w in source.split() if _LETTER.search(w)]
    # Names, places and addresses ("Martin Sailer", "Langweid am Lech", "Prinzregentenplatz 4,
    # 86150 Augsburg") are the same in every language; a sentence has words in lower case.
    sentence = len(words) >= 3 and any(w.islower() and len(w.strip(".,;:!?")) >= 3 for w in words)
    if not sentence or " ".join(source.split()).casefold() != " ".join(target.split()).casefold():
        return []
    return [
        QaFinding(
            "untranslated",
            "source_copied",
            "The target is the source text, not translated.",
            " ".join(source.split()),
        )
    ]


def _whitespace(source: str, target: str) -> list[QaFinding]:
    findings = []
    if source[:1].isspace() != target[:1].isspace():
        findings.append(
            QaFinding("whitespace", "leading_space", "Leading whitespace differs from the source.")
        )
    if source[-1:].isspace() != target[-1:].isspace():
        findings.append(
            QaFinding(
                "whitespace", "trailing_space", "Trailing whitespace differs from the source."
            )
        )
    if "  " in target.strip() and "  " not in source.strip():
        findings.append(QaFinding("whitespace", "double_space", "The target has a double space."))
    return findings


def _end_mark(text: str) -> str:
    stripped = text.rstrip().rstrip(_CLOSING).rstrip()
    if _ABBREVIATION.search(stripped):
        # "… 11:45 a.m.", "… Augsburg e.V.": the dot ends a word, not the sentence.
        return ""
    if stripped.endswith("..."):
        return "…"
    return _END_MARKS.get(stripped[-1:], "") if stripped else ""


def _ends_abbreviated(text: str) -> bool:
    return bool(_ABBREVIATION.search(text.rstrip().rstrip(_CLOSING).rstrip()))


def _punctuation(source: str, target: str) -> list[QaFinding]:
    wanted, found = _end_mark(source), _end_mark(target)
    if wanted == found or not target.strip():
        return []
    # A text ending in an abbreviation ("3 p.m.") may end the sentence with its dot or not.
    if {wanted, found} <= {"", "."} and (_ends_abbreviated(source) or _ends_abbreviated(target)):
        return []
    if wanted and not found:
        message = f"The final '{wanted}' of the source is missing."
    elif found and not wanted:
        message = f"The target ends with '{found}'; the source has no final mark."
    else:
        message = f"The target ends with '{found}', the source with '{wanted}'."
    return [QaFinding("punctuation", "end_punctuation", message, found or wanted)]
