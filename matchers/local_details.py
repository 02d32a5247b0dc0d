"""A region's local details (its gazetteer), found in texts and compared with a query.

Counties share sentences but not their towns, offices, addresses or phone numbers. A region's
gazetteer lists what is its own: its name and the names of its towns, postal codes with towns,
street addresses, offices and institutions named after its places, and its phone numbers,
e-mail addresses and web domains. A candidate translation from another region (the donor) that
still carries one of the donor's details which the query does not have would leak it into the
recipient's draft: `check_candidate` finds each such detail in the candidate's source, locates
its counterpart in the candidate's target text (the same string, the name the donor's own
translations use for it, e.g. "München" → "Munich", or the words around its place name, e.g.
"Landratsamt Augsburg" → "Augsburg District Office"), and either puts in the query's value of
the same kind or leaves the span for review.

German patterns (postal codes, streets, office names) are the source-language conventions of
the regions this service serves; everything else is learnt from the regions' own pages.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import phonenumbers

from matchers.placeholders import extract_placeholders

LocalDetailKind = Literal["place", "postal_code_town", "address", "office", "phone", "email", "url"]
KINDS: tuple[str, ...] = (
    "place",
    "postal_code_town",
    "address",
    "office",
    "phone",
    "email",
    "url",
)
# Kinds found by their written form (the others by their normalised value).
_TEXT_KINDS = ("place", "postal_code_town", "address", "office", "email")
# Kinds whose value the query can put in; phones, e-mails and URLs are carried over by
# matchers.placeholders already, so one still here had no query value to take its place.
REPLACEABLE_KINDS = frozenset({"place", "postal_code_town", "address", "office"})

_SPACE = r"[ \u00a0]"
_UPPER = "A-ZÄÖÜ"
_TOWN = (
    rf"[{_UPPER}][\w\-äöüß]*[\wäöüß]"
    rf"(?:{_SPACE}(?:an der|am|im|bei|in|ob der){_SPACE}[{_UPPER}][\w\-äöüß]+)?"
)
POSTAL_CODE_TOWN_RE = re.compile(rf"(?<![\d\w])(\d{{5}}){_SPACE}+({_TOWN})")
_STREET_SUFFIX = r"(?:straße|strasse|str\.|gasse|weg|platz|allee|ring|damm|ufer|steig)"
_STREET_WORD = r"(?:Straße|Strasse|Str\.|Gasse|Weg|Platz|Allee|Ring|Damm|Ufer)"
_HOUSE_NUMBER = (
    rf"\d{{1,4}}(?:{_SPACE}?[a-h](?![\wäöüß]))?"
    rf"(?:{_SPACE}?[-–/]{_SPACE}?\d{{1,4}})?(?![\d,.]\d)"
)
ADDRESS_RE = re.compile(
    rf"(?<![\w\-])((?:[{_UPPER}][\w\-äöüß]*{_STREET_SUFFIX})"
    rf"|(?:[{_UPPER}][\w\-äöüß]*er{_SPACE}{_STREET_WORD}))"
    rf"{_SPACE}+({_HOUSE_NUMBER})(?!\d)"
)
EMAIL_RE = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z]{2,}")
URL_RE = re.compile(
    r"(?<![\w@.\-])(?:https?://|www\.)[^\s<>\"'()]+[^\s<>\"'().,;:!?]"
    r"|(?<![\w@.\-/])(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+(?:de|com|org|net|eu|info)\b(?:/[^\s<>\"'()]*[^\s<>\"'().,;:!?])?",
    re.IGNORECASE,
)
# Institutions that carry their place's name ("Landratsamt Augsburg", "Jobcenter München",
# "Ausländerbehörde des Landkreises Augsburg"); the place must be one of the region's own.
OFFICE_TYPES: tuple[str, ...] = (
    "Agentur für Arbeit",
    "Ausländerbehörde",
    "Bürgeramt",
    "Bürgerbüro",
    "Gemeinde",
    "Gesundheitsamt",
    "Jobcenter",
    "Jugendamt",
    "Landeshauptstadt",
    "Landkreis",
    "Landratsamt",
    "Markt",
    "Rathaus",
    "Sozialamt",
    "Stadt",
    "Stadtbibliothek",
    "Stadtverwaltung",
    "Standesamt",
    "Volkshochschule",
)
_OFFICE_TYPE = (
    "(?:"
    + "|".join(re.escape(t) for t in sorted(OFFICE_TYPES, key=len, reverse=True))
    + rf"|Amt für(?:{_SPACE}(?:und|[{_UPPER}][\w\-äöüß]*)){{1,4}}?)"
)
_OFFICE_LINK = rf"(?:{_SPACE}(?:der Stadt|des Landkreises|im Landkreis|in|für den Landkreis|für))?"
_OFFICE_SPLIT_RE = re.compile(rf"({_OFFICE_TYPE}){_OFFICE_LINK}{_SPACE}+(.+)$")
# Words of a region's name that name its kind, not the place.
_ADMIN_WORDS = frozenset(
    {
        "landkreis",
        "stadt",
        "landeshauptstadt",
        "kreis",
        "region",
        "gemeinde",
        "markt",
        "city",
        "county",
        "district",
        "municipality",
    }
)
_CAPITALISED_RE = re.compile(rf"(?<![\w\-])[{_UPPER}][\w\-äöüß]*[\wäöüß]")
_TOKEN_RE = re.compile(r"\w[\w\-']*\w|\w")
_PHONE_REGION = "DE"
_MIN_PHONE_DIGITS = 6
_DIGITS_RE = re.compile(r"\d")
_DIGIT_RUN_RE = re.compile(r"\d{6,}")
_DIGIT_GAPS_RE = re.compile(r"(?<=\d)[ \u00a0/\-–().]{1,3}(?=\d)")
_GLUED_RE = re.compile(r"[a-zäöüß][A-ZÄÖÜ]")  # words run together by a lost line break
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_FOLD_SHORT = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss"})


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class GazetteerEntry:
    """One local detail of a region.

    value: as the region writes it (its source language); key: the normalised form that
    compares equal across spellings (`detail_key`); names: the value in other languages where
    the region's translations use another name (language code → name, e.g. {"en": "Munich"});
    frequency: pages of the region that contain it.
    """

    kind: str
    value: str
    key: str
    names: Mapping[str, str] = field(default_factory=dict)
    frequency: int = 0


@dataclass(frozen=True, slots=True)
class LocalDetail:
    """A local detail found in a text; start/end are character offsets into that text."""

    kind: str
    value: str
    key: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class DetailFinding:
    """A donor's detail in a candidate that the query lacks.

    value: the donor's detail as its source text has it; span: its counterpart in the final
    target text, at start/end; status "replaced" (the query's value of the same kind was put
    in: `replacement`, and span/start/end are the replacement's) or "review" (left as it was,
    to be checked by a person).
    """

    kind: str
    value: str
    span: str
    start: int
    end: int
    status: Literal["replaced", "review"]
    replacement: str | None = None

    def as_record(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "value": self.value,
            "span": self.span,
            "start": self.start,
            "end": self.end,
            "status": self.status,
            "replacement": self.replacement,
        }


@dataclass(frozen=True, slots=True)
class CandidateCheck:
    """A candidate's target text after the check, and the donor details it had."""

    text: str
    findings: tuple[DetailFinding, ...] = ()

    @property
    def review(self) -> tuple[DetailFinding, ...]:
        return tuple(f for f in self.findings if f.status == "review")


# --------------------------------------------------------------------------- normal forms


def _collapse(text: str) -> str:
    return " ".join(text.split())


def phone_key(text: str) -> str | None:
    """E.164 form of a German-style phone number ("0821 3102-0" → "+4982131020"), or None."""
    if len(_DIGITS_RE.findall(text)) < _MIN_PHONE_DIGITS:
        return None
    try:
        number = phonenumbers.parse(text, _PHONE_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def url_domain(text: str) -> str:
    """The host of a URL or bare domain without "www." ("https://www.lra-a.de/x" → "lra-a.de")."""
    host = re.sub(r"^[a-z]+://", "", text.strip().lower()).split("/", 1)[0].split(":", 1)[0]
    return host.removeprefix("www.").rstrip(".")


def detail_key(kind: str, value: str) -> str:
    """The normalised form of a detail: equal for spellings of the same detail."""
    if kind == "phone":
        return phone_key(value) or re.sub(r"\D", "", value)
    if kind == "url":
        return url_domain(value)
    if kind == "email":
        return value.strip().lower()
    key = _collapse(value).casefold()
    key = re.sub(r"str\.(?=\s|$)", "straße", key).replace("strasse", "straße")
    return re.sub(r"\s*([-–/])\s*", r"\1", key)


def split_office(value: str) -> tuple[str, str] | None:
    """(type, place) of an office name ("Ausländerbehörde des Landkreises Augsburg" →
    ("Ausländerbehörde", "Augsburg")), or None when it is not one."""
    match = _OFFICE_SPLIT_RE.match(_collapse(value))
    if match is None:
        return None
    return match.group(1), match.group(2)


def fold_ascii(word: str) -> tuple[str, str]:
    """Two ASCII spellings of a German word as slugs write it ("München" → muenchen, munchen)."""
    lower = word.lower()
    return lower.translate(_FOLD), lower.translate(_FOLD_SHORT)


# --------------------------------------------------------------------------- detection


def _phones(text: str) -> Iterable[tuple[int, int, str, str]]:
    """(start, end, raw, E.164) of the phone numbers in a text: the PHONE placeholders of
    matchers.placeholders, each read by libphonenumber (region DE)."""
    offset = 0
    for line in text.split("\n"):
        # Only lines with enough digits are worth the full placeholder scan.
        if len(_DIGITS_RE.findall(line)) >= _MIN_PHONE_DIGITS:
            for value in extract_placeholders(line).values:
                if value.kind == "PHONE":
                    key = phone_key(value.value)
                    if key is not None:
                        yield offset + value.start, offset + value.end, value.value, key
        offset += len(line) + 1


def _without_overlaps(details: Iterable[LocalDetail]) -> list[LocalDetail]:
    """Longest first wins where two details overlap; returned in text order."""
    kept: list[LocalDetail] = []
    for detail in sorted(details, key=lambda d: (-(d.end - d.start), d.start)):
        if all(detail.end <= k.start or detail.start >= k.end for k in kept):
            kept.append(detail)
    return sorted(kept, key=lambda d: d.start)


def detect_details(text: str, places: Iterable[str] = ()) -> list[LocalDetail]:
    """Local details found by their form alone: postal codes with towns, street addresses,
    phones, e-mails, URLs, and offices named after one of `places` (or a town of the text)."""
    found: list[LocalDetail] = []
    towns: set[str] = set()
    for match in POSTAL_CODE_TOWN_RE.finditer(text):
        value = match.group(0)
        towns.add(match.group(2))
        found.append(
            LocalDetail(
                "postal_code_town",
                value,
                detail_key("postal_code_town", value),
                match.start(),
                match.end(),
            )
        )
    for match in ADDRESS_RE.finditer(text):
        value = match.group(0)
        found.append(
            LocalDetail("address", value, detail_key("address", value), match.start(), match.end())
        )
    for match in EMAIL_RE.finditer(text):
        value = match.group(0)
        found.append(
            LocalDetail("email", value, detail_key("email", value), match.start(), match.end())
        )
    for match in URL_RE.finditer(text):
        value = match.group(0)
        found.append(LocalDetail("url", value, url_domain(value), match.start(), match.end()))
    for start, end, raw, key in _phones(text):
        found.append(LocalDetail("phone", raw, key, start, end))
    office_places = sorted(set(places) | towns, key=len, reverse=True)
    if office_places:
        pattern = _office_pattern(office_places)
        for match in pattern.finditer(text):
            value = match.group(0)
            key = detail_key("office", value)
            found.append(LocalDetail("office", value, key, match.start(), match.end()))
    return _without_overlaps(found)


def _office_pattern(places: Sequence[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(p) for p in sorted(places, key=len, reverse=True))
    return re.compile(
        rf"(?<![\w\-]){_OFFICE_TYPE}{_OFFICE_LINK}{_SPACE}+(?:{alternatives})(?![\wäöüß])"
    )


_FIRST_WORD_RE = re.compile(r"\w+")
# A form does not start right after these (inside an e-mail, a domain, a compound) …
_JOINERS = frozenset("@.-_/")


def _continues(text: str, end: int) -> bool:
    """… nor end where the word goes on ("Augsburger"), or a domain or e-mail does."""
    if end >= len(text):
        return False
    following = text[end]
    if following.isalnum() or following in "@_":
        return True
    return following in ".-" and end + 1 < len(text) and text[end + 1].isalnum()


def _word_pattern(forms: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted({f for f in forms if f}, key=len, reverse=True)
    if not ordered:
        return None
    alternatives = "|".join(re.escape(f) for f in ordered)
    return re.compile(rf"(?<![\w@.\-])(?:{alternatives})(?![\wäöüß@]|\.[a-z])")


# --------------------------------------------------------------------------- the gazetteer


class Gazetteer:
    """A region's local details, and where they occur in a text (`find`)."""

    def __init__(self, region: str, entries: Iterable[GazetteerEntry]) -> None:
        self.region = region
        self.entries: tuple[GazetteerEntry, ...] = tuple(entries)
        self._by_key: dict[tuple[str, str], GazetteerEntry] = {
            (e.kind, e.key): e for e in self.entries
        }
        self._patterns: dict[str | None, dict[str, list[tuple[str, GazetteerEntry]]]] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def entry(self, kind: str, key: str) -> GazetteerEntry | None:
        return self._by_key.get((kind, key))

    def has(self, kind: str, key: str) -> bool:
        return (kind, key) in self._by_key

    @cached_property
    def places(self) -> tuple[str, ...]:
        """The region's place names, most frequent first."""
        places = [e for e in self.entries if e.kind == "place"]
        return tuple(e.value for e in sorted(places, key=lambda e: -e.frequency))

    def of_kind(self, kind: str) -> list[GazetteerEntry]:
        """Entries of one kind, most frequent first."""
        return sorted((e for e in self.entries if e.kind == kind), key=lambda e: -e.frequency)

    def name_in(self, value: str, language: str | None) -> str:
        """What the region's translations into `language` call a place (default: the value)."""
        entry = self._by_key.get(("place", detail_key("place", value)))
        if entry is None or language is None:
            return value
        return entry.names.get(language) or entry.names.get(language.split("-")[0]) or value

    def _written_forms(self, language: str | None) -> dict[str, list[tuple[str, GazetteerEntry]]]:
        """Written forms (values, and names in `language`) by their first word, longest first."""
        cached = self._patterns.get(language)
        if cached is None:
            forms: dict[str, GazetteerEntry] = {}
            for entry in self.entries:
                if entry.kind not in _TEXT_KINDS:
                    continue
                forms.setdefault(entry.value, entry)
                name = _name(entry, language)
                if name:
                    forms.setdefault(name, entry)
            cached = {}
            for form, entry in sorted(forms.items(), key=lambda item: -len(item[0])):
                first = _FIRST_WORD_RE.match(form)
                if first is not None:
                    cached.setdefault(first.group(0), []).append((form, entry))
            self._patterns[language] = cached
        return cached

    def _written(
        self, text: str, language: str | None
    ) -> Iterable[tuple[int, int, GazetteerEntry]]:
        """(start, end, entry) of every written form in `text`, at word boundaries."""
        index = self._written_forms(language)
        if not index:
            return
        for word in _FIRST_WORD_RE.finditer(text):
            start = word.start()
            if start and text[start - 1] in _JOINERS:
                continue
            for form, entry in index.get(word.group(0), ()):
                end = start + len(form)
                if text.startswith(form, start) and not _continues(text, end):
                    yield start, end, entry
                    break

    @cached_property
    def _domains(self) -> dict[str, GazetteerEntry]:
        return {e.key: e for e in self.entries if e.kind == "url"}

    @cached_property
    def _phone_keys(self) -> dict[str, GazetteerEntry]:
        return {e.key: e for e in self.entries if e.kind == "phone"}

    @cached_property
    def _phone_digits(self) -> dict[str, str]:
        # National numbers as digit strings ("+4982131020" → "082131020"), for `keys_in`.
        digits = {}
        for key in self._phone_keys:
            if key.startswith("+49"):
                digits["0" + key[3:]] = key
            digits[key.lstrip("+")] = key
        return digits

    def keys_in(self, text: str) -> set[tuple[str, str]]:
        """(kind, key) of the region's details that occur in `text`: a quick presence test
        (phones compared by their digits, whatever the separators)."""
        found = {(entry.kind, entry.key) for _, _, entry in self._written(text, None)}
        if self._domains:
            for match in URL_RE.finditer(text):
                domain = url_domain(match.group(0))
                entry = self._domains.get(domain) or self._domains.get(_parent_domain(domain))
                if entry is not None:
                    found.add(("url", entry.key))
        digits = self._phone_digits
        if digits and len(_DIGITS_RE.findall(text)) >= _MIN_PHONE_DIGITS:
            joined = _DIGIT_GAPS_RE.sub("", text.replace("(0)", " ").replace("+", ""))
            for match in _DIGIT_RUN_RE.finditer(joined):
                key = digits.get(match.group(0))
                if key is not None:
                    found.add(("phone", key))
        return found

    def find(self, text: str, language: str | None = None) -> list[LocalDetail]:
        """The region's details in `text` (their written forms, or names in `language`),
        longest first where they overlap, in text order."""
        found = [
            LocalDetail(entry.kind, text[start:end], entry.key, start, end)
            for start, end, entry in self._written(text, language)
        ]
        if self._domains:
            for match in URL_RE.finditer(text):
                domain = url_domain(match.group(0))
                entry = self._domains.get(domain) or self._domains.get(_parent_domain(domain))
                if entry is not None:
                    found.append(
                        LocalDetail("url", match.group(0), entry.key, match.start(), match.end())
                    )
        if self._phone_keys:
            for start, end, raw, key in _phones(text):
                if key in self._phone_keys:
                    found.append(LocalDetail("phone", raw, key, start, end))
        return _without_overlaps(found)


def _name(entry: GazetteerEntry, language: str | None) -> str | None:
    if language is None or not entry.names:
        return None
    return entry.names.get(language) or entry.names.get(language.split("-")[0])


def _parent_domain(domain: str) -> str:
    parts = domain.split(".")
    return ".".join(parts[-2:]) if len(parts) > 2 else domain


# --------------------------------------------------------------------------- candidates


def check_candidate(
    query: str,
    source: str,
    target: str,
    donor: Gazetteer,
    home: Gazetteer | None = None,
    *,
    source_language: str | None = None,
    target_language: str | None = None,
) -> CandidateCheck:
    """Find the donor's details in a candidate that the query lacks; put in the query's values.

    `query`: the text to translate; `source`/`target`: the candidate's stored source and its
    translation (with the query's numbers already put in); `donor`: the gazetteer of the
    candidate's region; `home`: the query region's. A donor detail counts when its key is
    neither in the query nor in the home gazetteer and its counterpart is in the target. It is
    replaced by the query's unpaired detail of the same kind (in order, as numbers are), an
    office only by one of the same type; else left for review.
    """
    query_details = _query_details(query, donor, home, source_language)
    query_keys = {(d.kind, d.key) for d in query_details}
    in_source = donor.find(source, source_language)
    source_keys = {(d.kind, d.key) for d in in_source}

    def foreign(detail: LocalDetail) -> bool:
        pair = (detail.kind, detail.key)
        return pair not in query_keys and not (home is not None and home.has(*pair))

    unpaired: dict[str, list[LocalDetail]] = defaultdict(list)
    for detail in query_details:
        if (detail.kind, detail.key) not in source_keys and detail.kind in REPLACEABLE_KINDS:
            unpaired[detail.kind].append(detail)

    taken: list[tuple[int, int]] = []
    edits: list[tuple[int, int, str | None, LocalDetail, str]] = []  # start, end, new, …
    replaced_keys: dict[tuple[str, str], str] = {}
    for detail in in_source:
        if not foreign(detail):
            continue
        located = locate_counterpart(detail, target, donor, target_language, taken)
        if located is None:
            continue  # not carried into the translation
        start, end = located
        taken.append((start, end))
        span = target[start:end]
        new = None
        kinds = [detail.kind]
        if detail.kind == "office" and _is_place_of(span, detail.value, donor, target_language):
            kinds.append("place")  # only the office's place was translated: a place stands in
        for kind in kinds:
            candidates = unpaired.get(kind) or []
            if candidates:
                as_detail = detail if kind == detail.kind else _as_place(detail, span)
                new = _replacement(as_detail, candidates[0], span, donor, home, target_language)
                if new is not None:
                    candidates.pop(0)
                    replaced_keys[(detail.kind, detail.key)] = new
                    break
        edits.append((start, end, new, detail, span))
    # The target may name a donor detail more often than the source: the same treatment.
    for detail in donor.find(target, target_language):
        if not foreign(detail) or any(detail.start < e and detail.end > s for s, e in taken):
            continue
        taken.append((detail.start, detail.end))
        new = replaced_keys.get((detail.kind, detail.key))
        edits.append((detail.start, detail.end, new, detail, detail.value))
    return _apply(target, edits)


def _is_place_of(span: str, office: str, donor: Gazetteer, language: str | None) -> bool:
    parts = split_office(office)
    return parts is not None and span in _place_forms(parts[1], donor, language)


def _as_place(detail: LocalDetail, span: str) -> LocalDetail:
    return LocalDetail("place", span, detail_key("place", span), detail.start, detail.end)


def _query_details(
    query: str, donor: Gazetteer, home: Gazetteer | None, language: str | None
) -> list[LocalDetail]:
    details = list(donor.find(query, language))
    places: tuple[str, ...] = ()
    if home is not None:
        details.extend(home.find(query, language))
        places = home.places
    details.extend(detect_details(query, places))
    # Longest first: the query's "80331 München" is a postal code + town, not also a place.
    return _without_overlaps(details)


def _apply(
    target: str, edits: Sequence[tuple[int, int, str | None, LocalDetail, str]]
) -> CandidateCheck:
    parts: list[str] = []
    findings: list[DetailFinding] = []
    position = 0
    length = 0
    for start, end, new, detail, span in sorted(edits, key=lambda e: e[0]):
        parts.append(target[position:start])
        length += start - position
        shown = new if new is not None else target[start:end]
        findings.append(
            DetailFinding(
                kind=detail.kind,
                value=detail.value,
                span=shown if new is not None else span,
                start=length,
                end=length + len(shown),
                status="replaced" if new is not None else "review",
                replacement=new,
            )
        )
        parts.append(shown)
        length += len(shown)
        position = end
    parts.append(target[position:])
    return CandidateCheck("".join(parts), tuple(findings))


def _replacement(
    detail: LocalDetail,
    query_detail: LocalDetail,
    span: str,
    donor: Gazetteer,
    home: Gazetteer | None,
    language: str | None,
) -> str | None:
    """The query's value for the target span, or None when it cannot stand in for it."""
    if detail.kind == "place":
        return home.name_in(query_detail.value, language) if home else query_detail.value
    if detail.kind in ("postal_code_town", "address"):
        return query_detail.value
    if detail.kind != "office":
        return None
    ours, theirs = split_office(detail.value), split_office(query_detail.value)
    if ours is None or theirs is None or ours[0] != theirs[0]:
        return None  # another kind of office: a person decides
    if _collapse(span) == _collapse(detail.value):
        return query_detail.value
    # A translated office name: only its place changes ("Augsburg District Office").
    for form in _place_forms(ours[1], donor, language):
        if re.search(rf"(?<!\w){re.escape(form)}(?!\w)", span):
            new_place = home.name_in(theirs[1], language) if home else theirs[1]
            return re.sub(rf"(?<!\w){re.escape(form)}(?!\w)", new_place, span, count=1)
    return None


def _place_forms(place: str, gazetteer: Gazetteer, language: str | None) -> list[str]:
    forms = [gazetteer.name_in(place, language), place]
    return list(dict.fromkeys(forms))


def _free(start: int, end: int, taken: Sequence[tuple[int, int]]) -> bool:
    return all(end <= s or start >= e for s, e in taken)


def _search(
    pattern: str, text: str, taken: Sequence[tuple[int, int]], flags: int = 0
) -> tuple[int, int] | None:
    for match in re.finditer(pattern, text, flags):
        if match.end() > match.start() and _free(match.start(), match.end(), taken):
            return match.start(), match.end()
    return None


def locate_counterpart(
    detail: LocalDetail,
    target: str,
    donor: Gazetteer,
    language: str | None,
    taken: Sequence[tuple[int, int]] = (),
) -> tuple[int, int] | None:
    """Where a source-side detail is in the target text: (start, end) outside `taken`, or None.

    Tries the same string, then the donor's name for it in `language`, then per kind: a postal
    code before the same town (the code may have been replaced already) or the code alone; the
    same street with another number or none; an office's place with the capitalised words
    around it; the same phone number in another notation; the same e-mail or domain.
    """
    if detail.kind == "phone":
        for start, end, _raw, key in _phones(target):
            if key == detail.key and _free(start, end, taken):
                return start, end
        digits = r"\D{0,3}".join(re.sub(r"\D", "", detail.value))
        return _search(rf"(?<!\d){digits}(?!\d)", target, taken) if digits else None
    if detail.kind == "email":
        return _search(re.escape(detail.value), target, taken, re.IGNORECASE)
    if detail.kind == "url":
        for match in URL_RE.finditer(target):
            domain = url_domain(match.group(0))
            if (domain == detail.key or domain.endswith("." + detail.key)) and _free(
                match.start(), match.end(), taken
            ):
                return match.start(), match.end()
        return None
    bounded = r"(?<![\w\-]){}(?![\wäöüß])"
    forms = [detail.value]
    entry = donor.entry(detail.kind, detail.key)
    name = _name(entry, language) if entry else None
    if name:
        forms.append(name)
    for form in forms:
        found = _search(bounded.format(re.escape(form)), target, taken)
        if found:
            return found
    if detail.kind == "postal_code_town":
        code, _, town = _collapse(detail.value).partition(" ")
        for form in _place_forms(town, donor, language):
            found = _search(rf"(?<!\d)\d{{5}}{_SPACE}+{re.escape(form)}(?![\wäöüß])", target, taken)
            if found:
                return found
        return _search(rf"(?<!\d){code}(?!\d)", target, taken)
    if detail.kind == "address":
        address = ADDRESS_RE.match(detail.value)
        street = _street_pattern(address.group(1) if address else detail.value)
        return _search(rf"(?<![\w\-]){street}(?:{_SPACE}+{_HOUSE_NUMBER})?(?!\d)", target, taken)
    if detail.kind == "office":
        parts = split_office(detail.value)
        if parts is None:
            return None
        for form in _place_forms(parts[1], donor, language):
            found = _search(bounded.format(re.escape(form)), target, taken)
            if found:
                return _expand_name(target, *found)
    return None


def _street_pattern(street: str) -> str:
    """A street name as a pattern that also matches its other spellings (Str., Straße)."""
    escaped = re.escape(street)
    for suffix in ("straße", "strasse", "str\\."):
        if escaped.lower().endswith(suffix):
            return escaped[: -len(suffix)] + r"(?:straße|strasse|str\.)"
    return escaped


_CAPITAL_RUN_RIGHT = re.compile(rf"(?:{_SPACE}[{_UPPER}][\w\-äöüß]*)+")
_OF_LEFT = re.compile(rf"(?:[{_UPPER}][\w\-äöüß]*{_SPACE})+(?:of|for){_SPACE}(?:the{_SPACE})?$")


def _expand_name(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a place name to the translated institution name around it ("Augsburg District
    Office", "District Office of Augsburg")."""
    right = _CAPITAL_RUN_RIGHT.match(text, end)
    if right:
        end = right.end()
    left = _OF_LEFT.search(text[max(0, start - 80) : start])
    if left:
        start = start - (len(text[max(0, start - 80) : start]) - left.start())
    return start, end


# --------------------------------------------------------------------------- building


@dataclass(frozen=True, slots=True)
class RegionTexts:
    """What a gazetteer is built from: a region's slug, names, domains and page texts."""

    slug: str
    names: Sequence[str]
    texts: Sequence[str]
    domains: Sequence[str] = ()


def gather_entries(region: RegionTexts) -> list[GazetteerEntry]:
    """Candidate local details of a region from its settings and pages, with page counts.

    Places: the region's name (from its settings, or the word of its pages its slug spells),
    adjectives and hyphenated districts made from it, and the towns after the postal codes of
    its own postal area (the two-digit prefixes that hold most of its postal codes). Offices:
    institutions named after one of those places. Plus postal codes with towns, street
    addresses, phones, e-mails and web domains of its pages.
    """
    postal: Counter[str] = Counter()
    postal_forms: dict[str, Counter[str]] = defaultdict(Counter)
    prefixes: Counter[str] = Counter()
    counts: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
    forms: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    capitalised: Counter[str] = Counter()
    texts = [unicodedata.normalize("NFC", text) for text in region.texts]
    for text in texts:
        seen: set[tuple[str, str]] = set()
        for match in POSTAL_CODE_TOWN_RE.finditer(text):
            value = _collapse(match.group(0))
            key = detail_key("postal_code_town", value)
            if ("postal_code_town", key) not in seen:
                postal[key] += 1
                prefixes[match.group(1)[:2]] += 1
            postal_forms[key][value] += 1
            seen.add(("postal_code_town", key))
        for detail in detect_details(text):
            if detail.kind == "postal_code_town":
                continue
            value = _collapse(detail.value)
            if detail.kind == "url":
                value = detail.key
            pair = (detail.kind, detail.key)
            if pair not in seen:
                counts[detail.kind][detail.key] += 1
                seen.add(pair)
            forms[pair][value] += 1
        capitalised.update(set(_CAPITALISED_RE.findall(text)))

    total = sum(prefixes.values())
    own_prefixes = {p for p, n in prefixes.items() if total and n / total >= 0.15}
    entries: list[GazetteerEntry] = []
    towns: Counter[str] = Counter()
    for key, pages in postal.items():
        value = postal_forms[key].most_common(1)[0][0]
        if value[:2] not in own_prefixes:
            continue  # another area's address (a federal office, a clinic elsewhere)
        entries.append(GazetteerEntry("postal_code_town", value, key, frequency=pages))
        towns[value.split(" ", 1)[1]] += pages

    names = _region_names(region, capitalised)
    places: dict[str, int] = {}
    adjectives = []
    for name in names:
        places[name] = capitalised.get(name, 0)
        for word, pages in capitalised.items():
            if _made_from(word, name):
                places[word] = pages
                if not word.startswith(name + "-"):
                    adjectives.append(word)
    for town in towns:
        # A town read off one page only may be a glitch of the text ("80331 MünchenDie").
        if capitalised.get(town, 0) >= 2 or towns[town] >= 2:
            places.setdefault(town, capitalised.get(town, 0))
    for place, pages in places.items():
        entries.append(GazetteerEntry("place", place, detail_key("place", place), frequency=pages))

    office_pattern = _office_pattern(sorted(places, key=len, reverse=True))
    offices: Counter[str] = Counter()
    office_forms: dict[str, Counter[str]] = defaultdict(Counter)
    for text in texts:
        seen_offices: set[str] = set()
        for match in office_pattern.finditer(text):
            value = _collapse(match.group(0))
            key = detail_key("office", value)
            if key not in seen_offices:
                offices[key] += 1
                seen_offices.add(key)
            office_forms[key][value] += 1
    for key, pages in offices.items():
        value = office_forms[key].most_common(1)[0][0]
        entries.append(GazetteerEntry("office", value, key, frequency=pages))

    # Institutions and areas named with the adjective ("Augsburger Land", "Münchner
    # Volkshochschule"), on at least three pages: local names, checked by a person.
    if adjectives:
        named = re.compile(
            rf"(?<![\w\-])(?:{'|'.join(map(re.escape, adjectives))})"
            rf"{_SPACE}[{_UPPER}][\w\-äöüß]*[\wäöüß](?![\w\-])"
        )
        bigrams: Counter[str] = Counter()
        for text in texts:
            bigrams.update({_collapse(m.group(0)) for m in named.finditer(text)})
        known = {e.key for e in entries if e.kind == "office"}
        for value, pages in bigrams.items():
            key = detail_key("office", value)
            if pages >= 3 and key not in known:
                entries.append(GazetteerEntry("office", value, key, frequency=pages))

    for kind in ("address", "phone", "email", "url"):
        for key, pages in counts[kind].items():
            value = forms[(kind, key)].most_common(1)[0][0]
            entries.append(GazetteerEntry(kind, value, key, frequency=pages))
    for domain in region.domains:
        key = url_domain(domain)
        if key and not any(e.kind == "url" and e.key == key for e in entries):
            entries.append(GazetteerEntry("url", key, key, frequency=0))
    return entries


def region_names(region: RegionTexts) -> list[str]:
    """The region's own names: from its settings, and the word of its pages its slug spells."""
    capitalised: Counter[str] = Counter()
    for text in region.texts:
        capitalised.update(set(_CAPITALISED_RE.findall(unicodedata.normalize("NFC", text))))
    return _region_names(region, capitalised)


def _region_names(region: RegionTexts, capitalised: Counter[str]) -> list[str]:
    names: list[str] = []
    for name in region.names:
        words = [w for w in re.split(r"\s+", name.strip()) if w]
        kept = [w for w in words if w.casefold() not in _ADMIN_WORDS]
        if kept and re.match(rf"[{_UPPER}]", kept[0]):
            names.append(" ".join(kept))
    # The word of the pages whose ASCII spelling the slug holds ("lkaugsburg" → Augsburg,
    # "muenchen" → München): the longest such word on at least two pages.
    slug_parts = [p for p in re.split(r"[-_]", region.slug.lower()) if p]
    spelled = [
        word
        for word, pages in capitalised.items()
        if pages >= 2
        and len(word) >= 4
        and "-" not in word
        and any(form in part for form in fold_ascii(word) for part in slug_parts)
    ]
    if spelled:
        names.append(max(spelled, key=lambda w: (capitalised[w], len(w))))
    return list(dict.fromkeys(names))


def _made_from(word: str, name: str) -> bool:
    """An adjective or district made from a place name: Augsburger, Münchner, München-Pasing."""
    if word == name or " " in name or _GLUED_RE.search(word):
        return False
    if word.startswith(name + "-") and len(word) > len(name) + 2:
        return word[len(name) + 1].isupper()  # München-Pasing, not "München-weit"
    stems = {name}
    if name.endswith("en"):
        stems.add(name[:-2] + "n")  # München → Münchner
    return any(word.startswith(stem) and word[len(stem) :] in ("er", "ers") for stem in stems)


def distinctive(
    entries: Sequence[GazetteerEntry],
    own_pages: int,
    others: Sequence[tuple[int, Mapping[tuple[str, str], int]]],
    keep: Iterable[tuple[str, str]] = (),
) -> list[GazetteerEntry]:
    """Leave out entries that are common elsewhere: not this region's own detail.

    `others`: per other region, its page count and the pages that contain each entry (kind,
    key). A phone, e-mail, domain or address met in more than half of the other regions is
    shared (a federal hotline, the BAMF); a place, postal code or office is when more than half
    of the other regions have it on at least two pages and at least half as often (per page) as
    this region. `keep`: entries never left out (the region's own names, editors' entries).
    """
    kept_always = set(keep)
    if not others:
        return list(entries)
    result = []
    for entry in entries:
        pair = (entry.kind, entry.key)
        if pair in kept_always:
            result.append(entry)
            continue
        own_share = entry.frequency / own_pages if own_pages else 0.0
        common = 0
        for pages, found in others:
            n = found.get(pair, 0)
            if entry.kind in ("phone", "email", "url", "address"):
                common += n >= 1
            else:
                common += n >= 2 and pages > 0 and n / pages >= own_share / 2
        if common * 2 <= len(others):
            result.append(entry)
    return result


def occurrences(
    entries: Sequence[GazetteerEntry], texts: Iterable[str]
) -> dict[tuple[str, str], int]:
    """Pages among `texts` that contain each entry (by key), for `distinctive`."""
    gazetteer = Gazetteer("", entries)
    found: Counter[tuple[str, str]] = Counter()
    for text in texts:
        found.update(gazetteer.keys_in(text))
    return dict(found)


def derive_names(
    places: Iterable[str], pairs: Iterable[tuple[str, str]], *, min_units: int = 3
) -> dict[str, str]:
    """Names of places in another language, learnt from a region's aligned units.

    `pairs`: (source, target) texts of one language pair. A place whose name the translations
    mostly keep needs none; else the target word most associated with it (Dice coefficient
    ≥ 0.4 between "the source has the place" and "the target has the word", on at least
    `min_units` units) is its name there ("München" → "Munich"). Returns place → name.
    """
    wanted = [p for p in places if " " not in p]
    if not wanted:
        return {}
    pattern = _word_pattern(wanted)
    if pattern is None:
        return {}
    with_place: dict[str, list[set[str]]] = defaultdict(list)
    word_units: Counter[str] = Counter()
    kept_as_is: Counter[str] = Counter()
    for source, target in pairs:
        words = set(_TOKEN_RE.findall(target))
        word_units.update(words)
        for place in set(pattern.findall(source)):
            with_place[place].append(words)
            if place in words or place in target:
                kept_as_is[place] += 1
    names: dict[str, str] = {}
    for place, units in with_place.items():
        if len(units) < min_units or kept_as_is[place] * 2 >= len(units):
            continue
        together: Counter[str] = Counter()
        for words in units:
            together.update(words)
        best, best_dice = None, 0.0
        for word, both in together.items():
            if both < min_units or len(word) < 3 or word.isdigit():
                continue
            dice = 2 * both / (len(units) + word_units[word])
            if dice > best_dice:
                best, best_dice = word, dice
        if best is not None and best_dice >= 0.4 and best != place:
            names[place] = best
    return names
