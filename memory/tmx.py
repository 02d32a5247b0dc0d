"""TMX 1.4b reading and writing as plain records: streaming, safe against XXE and entity bombs.

Pure: no Flask, no SQLAlchemy. The database import builds on `read_tmx` and owns the transaction.

Decisions, in one place:

- **Language codes** must be valid BCP 47 tags (`memory.language_tags`: `xml:lang="12"` or `zz`
  fails the file) and are normalised to the service's codes by `normalise_language_code`:
  lowercase, `_` → `-`, and only the primary subtag is kept (`de-DE` → `de`, `en-GB` → `en`,
  `EN-US` → `en`) except for the codes in `LANGUAGE_CODES_WITH_SUBTAG`, whose subtag names a
  different language variant for the service's readers (`de-si` "Einfaches Deutsch" — note that
  BCP 47 would read `-si` as Slovenia —, `pt-br`, `zh-tw`, `sr-latn`). A region subtag is
  therefore never lost for those, and never kept for the rest (a TM from an `en-GB` project is
  useful to `en`).
- **Inline markup** in `<seg>`: the text of `<hi>` (and of unknown elements) is kept; the content
  of `<bpt>`, `<ept>`, `<ph>`, `<it>` and `<ut>` is native code (e.g. escaped HTML `<b>`), not
  text, and is dropped together with any `<sub>` inside it. Text after every inline element is
  kept. Whitespace is kept as written. Comments and processing instructions are ignored.
- **What fails and what is skipped**: anything structural raises `TmxError` (not XML, truncated,
  root not `<tmx>`, version not 1.1–1.4/1.4b, no `<header>` or `srclang`, a `<tuv>` without a
  language or without `<seg>`, a language tag that is not BCP 47, a malformed date, any entity
  declaration or reference, a file over `max_bytes`, a `<tu>` over the bounds: a `<seg>`,
  `<prop>` or `<note>` over `MAX_SEGMENT_CHARACTERS`, more than `MAX_VARIANTS_PER_UNIT` `<tuv>`s
  or `MAX_ELEMENTS_PER_UNIT` elements). Content that is merely unusable is skipped and counted
  in `TmxStats`: a `<tu>` with no non-empty segment in the source language or no non-empty
  target segment (`skipped_translation_units`), and each empty target `<seg>`
  (`skipped_segments`).
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import re
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, BinaryIO

from lxml import etree

from memory.language_tags import service_language_code

__all__ = [
    "LANGUAGE_CODES_WITH_SUBTAG",
    "TmxError",
    "TmxReader",
    "TmxStats",
    "TmxUnit",
    "format_tmx_date",
    "normalise_language_code",
    "parse_tmx_date",
    "read_tmx",
    "validate_tmx",
    "write_tmx",
]

# Service codes whose subtag is a different variant for readers, not a regional accent.
LANGUAGE_CODES_WITH_SUBTAG = frozenset({"de-si", "pt-br", "zh-tw", "sr-latn"})

SUPPORTED_VERSIONS = frozenset({"1.1", "1.2", "1.3", "1.4", "1.4a", "1.4b"})
ALL_LANGUAGES = "*all*"
TMX_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_NATIVE_CODE_TAGS = frozenset({"bpt", "ept", "ph", "it", "ut"})
_TMX_DATE = re.compile(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z?")
# XML 1.0 Char production; anything else (C0 controls, lone surrogates, U+FFFE/FFFF) cannot be
# written even as a character reference, so the writer drops it.
_INVALID_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_READ_CHUNK_BYTES = 1 << 16
# Bounds on one <tu>, far above any real translation memory (sentences; the EU's TMs have 24
# languages per <tu>) and low enough that matching forms and indexes stay fast: a 9 MB <seg> or
# 100 000 <tuv>s in one <tu> would keep an import busy for minutes.
MAX_SEGMENT_CHARACTERS = 10_000
MAX_VARIANTS_PER_UNIT = 100
MAX_ELEMENTS_PER_UNIT = 5_000
_WRITE_BATCH_UNITS = 256


class TmxError(Exception):
    """Any problem with a TMX file; `line` is the 1-based line where it was found, if known."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message if line is None else f"{message} (line {line})")
        self.message = message
        self.line = line


@dataclass(frozen=True, slots=True)
class TmxUnit:
    """One source → target segment pair with its TMX metadata; dates are timezone-aware UTC."""

    source_language: str
    target_language: str
    source_text: str
    target_text: str
    properties: dict[str, str] = field(default_factory=dict)
    creation_date: datetime | None = None
    change_date: datetime | None = None
    creation_tool: str | None = None
    creation_id: str | None = None
    change_id: str | None = None
    notes: tuple[str, ...] = ()
    tuid: str | None = None


@dataclass(slots=True)
class TmxStats:
    """What a TMX file holds: header facts and counts, filled in while it is read."""

    version: str | None = None
    source_language: str | None = None  # normalised header srclang, or "*all*"
    creation_tool: str | None = None
    translation_units: int = 0  # <tu> elements seen
    units: int = 0  # TmxUnit pairs yielded
    skipped_translation_units: int = 0  # <tu> without a usable source and target
    skipped_segments: int = 0  # empty target <seg>s left out
    language_pairs: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def languages(self) -> frozenset[str]:
        """Every language that occurs in a yielded pair."""
        return frozenset(code for pair in self.language_pairs for code in pair)


def normalise_language_code(code: str) -> str:
    """Return the service's code for a BCP 47 tag: `de-DE` → `de`, `DE-si` → `de-si`.

    Raises ValueError for a tag that is not valid BCP 47 or not a service code
    (`memory.language_tags.service_language_code`): `12`, `zz`, `x-klingon`, `und`.
    """
    normalised = service_language_code(code)
    if normalised in LANGUAGE_CODES_WITH_SUBTAG:
        return normalised
    return normalised.split("-", 1)[0]


def format_tmx_date(moment: datetime) -> str:
    """Format a datetime as a TMX date (YYYYMMDDThhmmssZ, UTC); naive datetimes count as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(TMX_DATE_FORMAT)


def parse_tmx_date(value: str) -> datetime:
    """Parse a TMX date (YYYYMMDDThhmmssZ; a missing Z is tolerated) into an aware UTC datetime."""
    match = _TMX_DATE.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not a TMX date (YYYYMMDDThhmmssZ): {value!r}")
    # Not strptime: it is ten times slower, and a large import parses two dates per unit.
    try:
        year, month, day, hour, minute, second = map(int, match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise ValueError(f"not a valid TMX date: {value!r}") from None


# --------------------------------------------------------------------------- reading


class TmxReader(Iterator[TmxUnit]):
    """Iterator over the units of one TMX file; `stats` grows as it is consumed."""

    def __init__(self, source: BinaryIO | str | os.PathLike[str], max_bytes: int | None) -> None:
        self.stats = TmxStats()
        self._units: Generator[TmxUnit, None, None] = _read_units(source, max_bytes, self.stats)

    def __iter__(self) -> TmxReader:
        return self

    def __next__(self) -> TmxUnit:
        return next(self._units)

    def close(self) -> None:
        """Stop reading early and close a file this reader opened."""
        self._units.close()

    def __enter__(self) -> TmxReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def read_tmx(
    source: BinaryIO | str | os.PathLike[str], *, max_bytes: int | None = None
) -> TmxReader:
    """Stream the segment pairs of a TMX file (one per srclang → other-language `<tuv>`).

    Memory stays bounded by the largest `<tu>`, not the file. No DTD, external entity or network
    access ever happens; entity declarations are rejected. Raises `TmxError` on any problem —
    possibly after some units were already yielded, so an importer must not commit before the
    iterator is exhausted (or run `validate_tmx` first). Skipped content is counted in the
    returned reader's `stats`.
    """
    return TmxReader(source, max_bytes)


def validate_tmx(
    source: BinaryIO | str | os.PathLike[str], *, max_bytes: int | None = None
) -> TmxStats:
    """Scan a whole TMX file without keeping its units; return its stats or raise `TmxError`."""
    reader = read_tmx(source, max_bytes=max_bytes)
    for _unit in reader:
        pass
    return reader.stats


def _new_parser() -> etree.XMLPullParser:
    # resolve_entities=False keeps entity references as nodes (rejected below) instead of
    # expanding them; load_dtd/no_network keep `<!DOCTYPE tmx SYSTEM "tmx14.dtd">` unloaded.
    return etree.XMLPullParser(
        events=("start", "end"),
        tag=("tmx", "header", "body", "tu"),
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _read_units(
    source: BinaryIO | str | os.PathLike[str], max_bytes: int | None, stats: TmxStats
) -> Generator[TmxUnit, None, None]:
    """Generator behind `TmxReader`: feed the pull parser chunk by chunk, yield finished units."""
    if isinstance(source, str | os.PathLike):
        if max_bytes is not None and os.path.getsize(source) > max_bytes:
            raise TmxError(f"file is larger than the limit of {max_bytes} bytes")
        with open(source, "rb") as stream:
            yield from _read_stream(stream, max_bytes, stats)
    else:
        yield from _read_stream(source, max_bytes, stats)


def _read_stream(stream: IO[bytes], max_bytes: int | None, stats: TmxStats) -> Iterator[TmxUnit]:
    """Parse one open binary stream (see `read_tmx`)."""
    # libxml2 reports the root cause in lxml's per-thread log; start it empty for this file.
    etree.clear_error_log()
    parser = _new_parser()
    state = _ReadState(stats)
    bytes_read = 0
    at_end = False
    try:
        while chunk := stream.read(_READ_CHUNK_BYTES):
            bytes_read += len(chunk)
            if max_bytes is not None and bytes_read > max_bytes:
                raise TmxError(f"file is larger than the limit of {max_bytes} bytes")
            parser.feed(chunk)
            for event, element in parser.read_events():
                yield from state.handle(event, element)
        if bytes_read == 0:
            raise TmxError("file is empty, not a TMX file", line=1)
        at_end = True
        root = parser.close()
        for event, element in parser.read_events():
            yield from state.handle(event, element)
    except etree.XMLSyntaxError as error:
        raise _syntax_error(error, at_end=at_end) from None
    if root.tag != "tmx":
        raise _not_tmx(root)
    state.finish(root)


def _not_tmx(root: etree._Element) -> TmxError:
    return TmxError(f"not a TMX file: root element is <{root.tag!s}>", line=root.sourceline)


def _syntax_error(error: etree.XMLSyntaxError, *, at_end: bool) -> TmxError:
    """Turn libxml2's first complaint into a `TmxError` an administrator can act on."""
    first = next(
        (entry for entry in error.error_log if entry.level >= etree.ErrorLevels.ERROR), None
    )
    message = first.message.strip() if first is not None else str(error.msg).strip()
    line = first.line if first is not None and first.line > 0 else error.lineno or None
    kind = first.type_name if first is not None else ""
    if "ENTITY" in kind or "amplification" in message:
        return TmxError(f"entities are not allowed in TMX files: {message}", line=line)
    if at_end:
        return TmxError(f"file is truncated or ends inside an element: {message}", line=line)
    return TmxError(f"not well-formed XML: {message}", line=line)


class _ReadState:
    """Header facts and position while a TMX stream is parsed."""

    def __init__(self, stats: TmxStats) -> None:
        self.stats = stats
        self.root_checked = False
        self.header_seen = False
        self.source_language: str | None = None
        self.body: etree._Element | None = None

    def handle(self, event: str, element: etree._Element) -> Iterator[TmxUnit]:
        """React to one filtered parser event; yields the units of a finished `<tu>`."""
        if not self.root_checked:
            self._check_root(element)
        tag = element.tag
        if tag == "tu":
            if event == "end":
                yield from self._finish_translation_unit(element)
        elif tag == "header":
            if event == "end":
                self._read_header(element)
        elif tag == "body":
            if event == "start":
                if not self.header_seen:
                    raise TmxError("missing <header> before <body>", line=element.sourceline)
                self.body = element

    def finish(self, root: etree._Element) -> None:
        """Final checks once the whole document was parsed."""
        if not self.root_checked:
            self._check_root(root)
        if not self.header_seen:
            raise TmxError("missing <header>", line=root.sourceline)
        if self.body is None:
            raise TmxError("missing <body>", line=root.sourceline)

    def _check_root(self, element: etree._Element) -> None:
        root = element.getroottree().getroot()
        self.root_checked = True
        if root.tag != "tmx":
            raise _not_tmx(root)
        dtd = root.getroottree().docinfo.internalDTD
        if dtd is not None and any(True for _ in dtd.entities()):
            raise TmxError(
                "entity declarations are not allowed in TMX files (XXE / entity expansion)",
                line=1,
            )
        version = root.get("version")
        if version is None:
            raise TmxError("missing TMX version attribute", line=root.sourceline)
        if version.strip().lower() not in SUPPORTED_VERSIONS:
            raise TmxError(
                f"unsupported TMX version {version!r} (supported: 1.1 to 1.4b)",
                line=root.sourceline,
            )
        self.stats.version = version.strip()

    def _read_header(self, header: etree._Element) -> None:
        line = header.sourceline
        if self.header_seen:
            raise TmxError("more than one <header>", line=line)
        srclang = (header.get("srclang") or "").strip()
        if not srclang:
            raise TmxError("missing srclang in <header>", line=line)
        self.source_language = _language(srclang, line, allow_all=True)
        self.header_seen = True
        self.stats.source_language = self.source_language
        self.stats.creation_tool = header.get("creationtool")
        header.clear(keep_tail=True)

    def _finish_translation_unit(self, tu: etree._Element) -> Iterator[TmxUnit]:
        line = tu.sourceline
        if self.source_language is None:
            raise TmxError("<tu> before <header>", line=line)
        self.stats.translation_units += 1
        try:
            units = _units_of_translation_unit(tu, self.source_language, self.stats)
        finally:
            # Drop the parsed <tu> and its finished siblings so memory stays bounded.
            tu.clear(keep_tail=False)
            parent = tu.getparent()
            if parent is not None:
                while tu.getprevious() is not None:
                    del parent[0]
        if units:
            self.stats.units += len(units)
            for unit in units:
                pair = (unit.source_language, unit.target_language)
                self.stats.language_pairs[pair] = self.stats.language_pairs.get(pair, 0) + 1
            yield from units
        else:
            self.stats.skipped_translation_units += 1


def _check_children(element: etree._Element) -> None:
    """Refuse an element with more children than any real `<tu>` has (see MAX_*)."""
    if len(element) > MAX_ELEMENTS_PER_UNIT:
        raise TmxError(
            f"<{element.tag!s}> with more than {MAX_ELEMENTS_PER_UNIT} elements",
            line=element.sourceline,
        )


def _check_length(element: etree._Element, text: str) -> str:
    if len(text) > MAX_SEGMENT_CHARACTERS:
        raise TmxError(
            f"<{element.tag!s}> longer than {MAX_SEGMENT_CHARACTERS} characters ({len(text)})",
            line=element.sourceline,
        )
    return text


@dataclass(slots=True)
class _Variant:
    """One parsed `<tuv>`."""

    language: str
    text: str
    properties: dict[str, str]
    notes: list[str]
    attributes: dict[str, str]


def _units_of_translation_unit(
    tu: etree._Element, header_source_language: str, stats: TmxStats
) -> list[TmxUnit]:
    """All source → target pairs of one `<tu>` (empty when it has no usable pair)."""
    properties: dict[str, str] = {}
    notes: list[str] = []
    variants: list[_Variant] = []
    _check_children(tu)
    for child in tu:
        tag = child.tag
        if tag == "tuv":
            if len(variants) == MAX_VARIANTS_PER_UNIT:
                raise TmxError(
                    f"<tu> with more than {MAX_VARIANTS_PER_UNIT} <tuv> elements",
                    line=child.sourceline,
                )
            variants.append(_read_variant(child))
        elif tag == "prop":
            _add_property(properties, child)
        elif tag == "note":
            notes.append(_text_of(child))
        elif not isinstance(tag, str):
            _reject_entity(child)

    tu_source = tu.get("srclang")
    source_language = (
        _language(tu_source, tu.sourceline, allow_all=True) if tu_source else header_source_language
    )
    if source_language == ALL_LANGUAGES:
        source = variants[0] if variants else None
    else:
        source = next((v for v in variants if v.language == source_language), None)
    if source is None or not source.text.strip():
        return []

    units: list[TmxUnit] = []
    for target in variants:
        if target is source or target.language == source.language:
            continue
        if not target.text.strip():
            stats.skipped_segments += 1
            continue
        units.append(
            TmxUnit(
                source_language=source.language,
                target_language=target.language,
                source_text=source.text,
                target_text=target.text,
                # The more specific element wins: tu, then source tuv, then target tuv.
                properties={**properties, **source.properties, **target.properties},
                creation_date=_date(target, tu, "creationdate"),
                change_date=_date(target, tu, "changedate"),
                creation_tool=target.attributes.get("creationtool") or tu.get("creationtool"),
                creation_id=target.attributes.get("creationid") or tu.get("creationid"),
                change_id=target.attributes.get("changeid") or tu.get("changeid"),
                notes=(*notes, *source.notes, *target.notes),
                tuid=tu.get("tuid"),
            )
        )
    return units


def _read_variant(tuv: etree._Element) -> _Variant:
    """Parse one `<tuv>`: language (xml:lang, or lang of TMX ≤ 1.3), segment text, props, notes."""
    line = tuv.sourceline
    code = tuv.get(_XML_LANG) or tuv.get("lang")
    if not code:
        raise TmxError("<tuv> without xml:lang", line=line)
    properties: dict[str, str] = {}
    notes: list[str] = []
    segment: str | None = None
    _check_children(tuv)
    for child in tuv:
        tag = child.tag
        if tag == "seg":
            if segment is not None:
                raise TmxError("<tuv> with more than one <seg>", line=child.sourceline)
            segment = _segment_text(child)
        elif tag == "prop":
            _add_property(properties, child)
        elif tag == "note":
            notes.append(_text_of(child))
        elif not isinstance(tag, str):
            _reject_entity(child)
    if segment is None:
        raise TmxError("<tuv> without <seg>", line=line)
    return _Variant(
        language=_language(code, line),
        text=segment,
        properties=properties,
        notes=notes,
        attributes=dict(tuv.attrib),
    )


def _segment_text(seg: etree._Element) -> str:
    """Plain text of a `<seg>`: `<hi>` text kept, native code of bpt/ept/ph/it/ut dropped."""
    if len(seg) == 0:  # the common case: no inline markup
        return _check_length(seg, seg.text or "")
    parts: list[str] = []
    _collect_text(seg, parts)
    return _check_length(seg, "".join(parts))


def _collect_text(element: etree._Element, parts: list[str]) -> None:
    _check_children(element)
    if element.text:
        parts.append(element.text)
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            _reject_entity(child)  # comments/PIs were removed by the parser
        elif tag not in _NATIVE_CODE_TAGS:
            _collect_text(child, parts)
        if child.tail:
            parts.append(child.tail)


def _text_of(element: etree._Element) -> str:
    """Text content of a `<prop>` or `<note>` (no markup expected; entities rejected)."""
    if len(element) == 0:
        return _check_length(element, element.text or "")
    parts: list[str] = []
    _collect_text(element, parts)
    return _check_length(element, "".join(parts))


def _reject_entity(node: etree._Element) -> None:
    if isinstance(node, etree._Entity):
        raise TmxError(
            f"entity reference {node.text} is not allowed in TMX files", line=node.sourceline
        )


def _add_property(properties: dict[str, str], prop: etree._Element) -> None:
    kind = prop.get("type")
    if not kind:
        raise TmxError("<prop> without type", line=prop.sourceline)
    value = _text_of(prop)
    # TMX allows repeated prop types; keep every value rather than silently dropping one.
    properties[kind] = f"{properties[kind]}\n{value}" if kind in properties else value


def _language(code: str, line: int | None, *, allow_all: bool = False) -> str:
    if allow_all and code.strip().lower() == ALL_LANGUAGES:
        return ALL_LANGUAGES
    try:
        return _cached_language_code(code)
    except ValueError as error:
        raise TmxError(str(error), line=line) from None


# A file holds a handful of distinct codes, normalised twice per unit.
_cached_language_code = functools.lru_cache(maxsize=256)(normalise_language_code)


def _date(target: _Variant, tu: etree._Element, attribute: str) -> datetime | None:
    value = target.attributes.get(attribute) or tu.get(attribute)
    if not value:
        return None
    try:
        return parse_tmx_date(value)
    except ValueError as error:
        raise TmxError(str(error), line=tu.sourceline) from None


# --------------------------------------------------------------------------- writing


def write_tmx(
    units: Iterable[TmxUnit],
    out: BinaryIO,
    *,
    source_language: str,
    creation_tool: str = "tm-service",
    creation_tool_version: str | None = None,
    admin_language: str = "en",
    creation_date: datetime | None = None,
    header_properties: dict[str, str] | None = None,
) -> int:
    """Stream units into `out` as TMX 1.4b (UTF-8), one `<tu>` with two `<tuv>`s each.

    Returns the number of `<tu>` written. Properties are written verbatim as
    `<prop type=…>`; use `x-` keys (x-region, x-page, x-origin, x-license, x-attribution,
    x-reviewed) as TMX reserves the others. Characters XML 1.0 cannot carry are dropped, so the
    output always parses. A unit whose source language differs from `source_language` gets its
    own `srclang` on its `<tu>`.
    """
    header_source = normalise_language_code(source_language)
    header_attributes = {
        "creationtool": creation_tool,
        "creationtoolversion": creation_tool_version or _service_version(),
        "datatype": "plaintext",
        "segtype": "sentence",
        "adminlang": admin_language,
        "srclang": header_source,
        "o-tmf": "tm-service",
        "creationdate": format_tmx_date(creation_date or datetime.now(UTC)),
    }
    head = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        '<!DOCTYPE tmx SYSTEM "tmx14.dtd">\n',
        '<tmx version="1.4">\n',
        f"<header{_attributes(header_attributes)}",
    ]
    if header_properties:
        head.append(">\n")
        head.extend(_property_lines(header_properties, indent="  "))
        head.append("</header>\n")
    else:
        head.append("/>\n")
    head.append("<body>\n")
    out.write("".join(head).encode("utf-8"))

    written = 0
    batch: list[str] = []
    for unit in units:
        batch.append(_translation_unit_xml(unit, header_source))
        written += 1
        if len(batch) >= _WRITE_BATCH_UNITS:
            out.write("".join(batch).encode("utf-8"))
            batch.clear()
    batch.append("</body>\n</tmx>\n")
    out.write("".join(batch).encode("utf-8"))
    return written


def _service_version() -> str:
    try:
        return importlib.metadata.version("tm-service")
    except importlib.metadata.PackageNotFoundError:  # running from a source checkout
        return "dev"


def _translation_unit_xml(unit: TmxUnit, header_source: str) -> str:
    """One `<tu>` element (note, prop, tuv order as the TMX DTD demands)."""
    attributes: dict[str, str] = {}
    if unit.tuid:
        attributes["tuid"] = unit.tuid
    if unit.source_language != header_source:
        attributes["srclang"] = unit.source_language
    if unit.creation_date is not None:
        attributes["creationdate"] = format_tmx_date(unit.creation_date)
    if unit.creation_id:
        attributes["creationid"] = unit.creation_id
    if unit.change_date is not None:
        attributes["changedate"] = format_tmx_date(unit.change_date)
    if unit.change_id:
        attributes["changeid"] = unit.change_id
    if unit.creation_tool:
        attributes["creationtool"] = unit.creation_tool
    lines = [f"  <tu{_attributes(attributes)}>\n"]
    lines.extend(f"    <note>{_escape_text(note)}</note>\n" for note in unit.notes)
    lines.extend(_property_lines(unit.properties, indent="    "))
    for language, text in (
        (unit.source_language, unit.source_text),
        (unit.target_language, unit.target_text),
    ):
        lines.append(
            f'    <tuv xml:lang="{_escape_attribute(language)}">'
            f"<seg>{_escape_text(text)}</seg></tuv>\n"
        )
    lines.append("  </tu>\n")
    return "".join(lines)


def _property_lines(properties: dict[str, str], *, indent: str) -> list[str]:
    lines = []
    for kind, value in properties.items():
        if not kind:
            raise ValueError("TMX property types must not be empty")
        lines.append(
            f'{indent}<prop type="{_escape_attribute(kind)}">{_escape_text(value)}</prop>\n'
        )
    return lines


def _attributes(attributes: dict[str, str]) -> str:
    return "".join(f' {name}="{_escape_attribute(value)}"' for name, value in attributes.items())


def _escape_text(text: str) -> str:
    # \r as a reference: a parser would otherwise normalise it (and \r\n) to \n.
    return (
        _INVALID_XML_CHARS.sub("", text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\r", "&#13;")
    )


def _escape_attribute(value: str) -> str:
    # Whitespace as references: attribute-value normalisation would turn it into spaces.
    return _escape_text(value).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")
