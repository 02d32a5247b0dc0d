"""XLIFF 1.2 and 2.0 files of page translations, written and read with translate-toolkit.

Pure: no Flask, no SQLAlchemy. `memory.services.xliff_io` decides what goes into a file and
what a returned file stores.

The structure follows Integreat CMS's own XLIFF export: one `<file>` per page, `original` the
page's id, the source and target language of the region's language tree. Unlike the CMS (one
unit per field), every *segment* is one unit, so a translation agency's CAT tool reuses at the
sentence level and a returned file maps back sentence by sentence. A unit id names page,
source version and segment: `{page}.v{version}.{part}-{index}` (`part`: title,
meta_description or content; the
page id may itself contain dots, the last two dots separate the rest).

Inline markup: a segment's `<g1>…</g1>` / `<x2/>` placeholders (memory.segmentation) become
XLIFF inline elements — 1.2 `<g id="1">` / `<x id="2"/>`, 2.0 `<pc id="1">` / `<ph id="2"/>` —
and back. On reading, `<bx>`/`<ex>` (1.2) and `<sc>`/`<ec>` (2.0) pairs, `<mrk>` and 2.0
`<cp>` are understood too (CAT tools write them); any other inline element fails the unit.

States: a target the service is sure of (the page's own current translation) is `translated`;
a pre-filled candidate from the memory waits for review (1.2 `needs-review-translation`, 2.0
`initial`). Reading, a unit is *done* — a translator settled on it — in the states `translated`,
`signed-off` and `final` (1.2; a target without a state counts as translated) or `translated`,
`reviewed` and `final` (2.0; no state is `initial`, as the specification says).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from translate.misc.xml_helpers import parse_xml
from translate.storage import xliff as xliff1
from translate.storage import xliff2

__all__ = [
    "VERSIONS",
    "AltTrans",
    "ReadDocument",
    "ReadUnit",
    "UnitId",
    "WriteFile",
    "WriteUnit",
    "XliffError",
    "parse_unit_id",
    "placeholders_of",
    "read_xliff",
    "unit_id",
    "write_xliff",
]

VERSIONS = ("1.2", "2.0")
XLIFF12_NS = "urn:oasis:names:tc:xliff:document:1.2"
XLIFF20_NS = "urn:oasis:names:tc:xliff:document:2.0"
MATCHES20_NS = "urn:oasis:names:tc:xliff:matches:2.0"
NOTE_ORIGIN = "tm-service"

# Placeholders of memory.segmentation: <g1>, </g1>, <x2/>.
_PLACEHOLDER_RE = re.compile(r"</?g(\d+)>|<x(\d+)/>")
_UNIT_ID_RE = re.compile(
    r"^(?P<page>.+)\.v(?P<version>\d+)\.(?P<part>title|meta_description|content)-(?P<index>\d+)$"
)
_DONE_12 = frozenset({"translated", "signed-off", "final"})
_DONE_20 = frozenset({"translated", "reviewed", "final"})
_ENTITY_RE = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)


class XliffError(ValueError):
    """A file that cannot be read as XLIFF of this service; `unit` names the unit if any."""

    def __init__(self, message: str, *, unit: str | None = None) -> None:
        super().__init__(f"unit {unit}: {message}" if unit else message)
        self.message = message
        self.unit = unit


@dataclass(frozen=True)
class UnitId:
    page: str
    version: int
    part: str  # title | meta_description | content
    index: int


def unit_id(page: str, version: int, part: str, index: int) -> str:
    """The id of a segment's unit: page, source version, part and segment index."""
    return f"{page}.v{version}.{part}-{index}"


def parse_unit_id(value: str) -> UnitId:
    match = _UNIT_ID_RE.match(value or "")
    if match is None:
        raise XliffError(
            "the id does not name a page, version and segment "
            "('{page}.v{version}.title-0' or '{page}.v{version}.content-{n}')",
            unit=value or "(no id)",
        )
    return UnitId(
        page=match["page"],
        version=int(match["version"]),
        part=match["part"],
        index=int(match["index"]),
    )


@dataclass(frozen=True)
class AltTrans:
    """Another candidate for a unit (1.2 `<alt-trans>`, 2.0 `<mtc:match>`)."""

    text: str  # with placeholders
    source_text: str  # the candidate's own source sentence
    match_quality: float | None
    origin: str  # e.g. "translation_memory:augsburg"


@dataclass(frozen=True)
class WriteUnit:
    id: str
    source: str  # segment text with placeholders
    markup: frozenset[str]  # the placeholders the source has ("<g1>", "</g1>", "<x2/>")
    target: str | None = None
    done: bool = False  # translated (sure) or waiting for review
    notes: tuple[str, ...] = ()
    alternatives: tuple[AltTrans, ...] = ()


@dataclass(frozen=True)
class WriteFile:
    """One page: `original` is its id in the region."""

    original: str
    units: tuple[WriteUnit, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReadUnit:
    id: str
    file: str  # the <file>'s original
    source: str  # with placeholders
    target: str | None  # with placeholders; None: no target
    state: str | None
    done: bool


@dataclass
class ReadDocument:
    version: str
    source_language: str
    target_language: str
    units: list[ReadUnit] = field(default_factory=list)


# --------------------------------------------------------------------------- writing


class _Unit12(xliff1.xliffunit):
    namespace = XLIFF12_NS


class _File12(xliff1.xlifffile):
    UnitClass = _Unit12
    namespace = XLIFF12_NS
    XMLskeleton = f"""<?xml version="1.0" ?>
<xliff version="1.2" xmlns="{XLIFF12_NS}">
<file original="NoName" source-language="en" datatype="plaintext">
<body>
</body>
</file>
</xliff>"""


def write_xliff(
    files: Iterable[WriteFile],
    *,
    version: str,
    source_language: str,
    target_language: str,
    source_direction: str = "ltr",
    target_direction: str = "ltr",
) -> bytes:
    """An XLIFF document (`version` "1.2" or "2.0") with one `<file>` per page."""
    if version == "1.2":
        return _write_12(files, source_language, target_language)
    if version == "2.0":
        return _write_20(
            files, source_language, target_language, source_direction, target_direction
        )
    raise ValueError(f"XLIFF version {version!r} is not one of {', '.join(VERSIONS)}")


def _write_12(files: Iterable[WriteFile], source_language: str, target_language: str) -> bytes:
    store = _File12(sourcelanguage=source_language, targetlanguage=target_language)
    for page in files:
        for unit in page.units:
            written = store.addsourceunit("", filename=page.original, createifmissing=True)
            written.setid(unit.id)
            written.xmlelement.set("datatype", "html")
            written.xmlelement.set("restype", "string")
            _fill(
                written.xmlelement.find(f"{{{XLIFF12_NS}}}source"), unit.source, unit.markup, "1.2"
            )
            if unit.target is not None:
                written.target = ""
                _fill(_target_12(written), unit.target, unit.markup, "1.2")
                written.set_state_n(
                    written.statemap["translated" if unit.done else "needs-review-translation"]
                )
            for note in unit.notes:
                written.addnote(note, origin=NOTE_ORIGIN)
            for alternative in unit.alternatives:
                written.addalttrans(
                    "",
                    origin=alternative.origin,
                    sourcetxt=" ",
                    matchquality=_quality(alternative.match_quality),
                )
                alt = written.xmlelement.findall(f"{{{XLIFF12_NS}}}alt-trans")[-1]
                _fill(alt.find(f"{{{XLIFF12_NS}}}source"), alternative.source_text, None, "1.2")
                _fill(alt.find(f"{{{XLIFF12_NS}}}target"), alternative.text, unit.markup, "1.2")
        if page.notes:
            filenode = store.getfilenode(page.original)
            header = store.getheadernode(filenode, createifmissing=True)
            filenode.remove(header)
            filenode.insert(0, header)
            for note in page.notes:
                node = etree.SubElement(header, f"{{{XLIFF12_NS}}}note", {"from": NOTE_ORIGIN})
                node.text = note
    return bytes(store)


def _target_12(unit: Any) -> Any:
    return unit.xmlelement.find(f"{{{XLIFF12_NS}}}target")


def _write_20(
    files: Iterable[WriteFile],
    source_language: str,
    target_language: str,
    source_direction: str,
    target_direction: str,
) -> bytes:
    store = xliff2.Xliff2File(sourcelanguage=source_language, targetlanguage=target_language)
    root = store.document.getroot()
    root.set("srcDir", source_direction)
    root.set("trgDir", target_direction)
    nsmap = {"mtc": MATCHES20_NS}
    for existing in list(root):
        root.remove(existing)
    for number, page in enumerate(files, start=1):
        filenode = etree.SubElement(root, f"{{{XLIFF20_NS}}}file", {"id": f"f{number}"})
        filenode.set("original", page.original)
        if page.notes:
            _notes_20(filenode, page.notes)
        store.body = filenode
        for unit in page.units:
            written = store.addsourceunit("")
            written.setid(unit.id)
            unit_node = written.getunitelement()
            _fill(
                written.xmlelement.find(f"{{{XLIFF20_NS}}}source"), unit.source, unit.markup, "2.0"
            )
            if unit.target is not None:
                written.target = ""
                target = written.xmlelement.find(f"{{{XLIFF20_NS}}}target")
                _fill(target, unit.target, unit.markup, "2.0")
                written.xmlelement.set("state", "translated" if unit.done else "initial")
            else:
                written.xmlelement.set("state", "initial")
            position = 0
            if unit.alternatives:
                matches = etree.Element(f"{{{MATCHES20_NS}}}matches", nsmap=nsmap)
                for alternative in unit.alternatives:
                    attributes = {"ref": "#" + _segment_id(written), "origin": alternative.origin}
                    if alternative.match_quality is not None:
                        attributes["matchQuality"] = _quality(alternative.match_quality) or "0"
                    match = etree.SubElement(matches, f"{{{MATCHES20_NS}}}match", attributes)
                    source = etree.SubElement(match, f"{{{XLIFF20_NS}}}source")
                    _fill(source, alternative.source_text, None, "2.0")
                    target = etree.SubElement(match, f"{{{XLIFF20_NS}}}target")
                    _fill(target, alternative.text, unit.markup, "2.0")
                unit_node.insert(position, matches)
                position += 1
            if unit.notes:
                notes = _notes_20(unit_node, unit.notes)
                unit_node.remove(notes)
                unit_node.insert(position, notes)
    return bytes(store)


def _segment_id(unit: Any) -> str:
    segment = unit.xmlelement
    if not segment.get("id"):
        segment.set("id", "s1")
    return str(segment.get("id"))


def _notes_20(parent: Any, texts: Sequence[str]) -> Any:
    notes = etree.SubElement(parent, f"{{{XLIFF20_NS}}}notes")
    for text in texts:
        note = etree.SubElement(notes, f"{{{XLIFF20_NS}}}note", {"category": NOTE_ORIGIN})
        note.text = text
    return notes


def _quality(value: float | None) -> str | None:
    if value is None:
        return None
    return f"{min(max(value, 0.0), 100.0):.0f}"


def _fill(node: Any, text: str, markup: frozenset[str] | None, version: str) -> None:
    """Put a segment text into `node`: placeholders as inline elements, the rest as text.

    `markup` lists the placeholders that stand for tags (None: none do, all is text); a stray
    closing placeholder is left out, one left open is closed at the end.
    """
    for child in list(node):
        node.remove(child)
    node.text = None
    namespace = XLIFF12_NS if version == "1.2" else XLIFF20_NS
    paired, standalone = ("g", "x") if version == "1.2" else ("pc", "ph")
    stack = [node]
    position = 0

    def add_text(value: str) -> None:
        if not value:
            return
        container = stack[-1]
        if len(container):
            container[-1].tail = (container[-1].tail or "") + value
        else:
            container.text = (container.text or "") + value

    for match in _PLACEHOLDER_RE.finditer(text):
        token = match.group(0)
        if markup is None or token not in markup:
            continue
        add_text(text[position : match.start()])
        position = match.end()
        if match.group(2) is not None:
            etree.SubElement(stack[-1], f"{{{namespace}}}{standalone}", {"id": match.group(2)})
        elif token.startswith("</"):
            ids = [element.get("id") for element in stack[1:]]
            if match.group(1) in ids:
                while stack[-1].get("id") != match.group(1):
                    stack.pop()
                stack.pop()
        else:
            element = etree.SubElement(
                stack[-1], f"{{{namespace}}}{paired}", {"id": match.group(1)}
            )
            stack.append(element)
    add_text(text[position:])


# --------------------------------------------------------------------------- reading


def read_xliff(data: bytes, *, max_bytes: int | None = None) -> ReadDocument:
    """Every unit of an XLIFF 1.2 or 2.0 file with its texts as placeholder strings.

    Raises XliffError for anything that is not such a file: not XML, truncated, a DTD or
    entity declaration, another root, a version other than 1.2 or 2.0, no languages, an
    inline element the service cannot map back (naming the unit).
    """
    if max_bytes is not None and len(data) > max_bytes:
        raise XliffError(f"the file is larger than {max_bytes} bytes")
    if _ENTITY_RE.search(data):
        raise XliffError("DTDs and entity declarations are not accepted")
    try:
        root = parse_xml(data)
    except etree.XMLSyntaxError as error:
        line = f" (line {error.lineno})" if error.lineno else ""
        raise XliffError(f"not well-formed XML{line}: {error.msg}") from None
    if etree.QName(root).localname != "xliff":
        raise XliffError("the root element is not <xliff>")
    version = root.get("version", "")
    namespace = etree.QName(root).namespace or ""
    if version == "2.0" or namespace == XLIFF20_NS:
        return _read_20(data)
    if version in ("1.2", "1.1") or namespace.startswith("urn:oasis:names:tc:xliff:document:1."):
        return _read_12(data)
    raise XliffError(f"XLIFF version {version or '(none)'} is not supported (1.2 or 2.0)")


def _read_12(data: bytes) -> ReadDocument:
    try:
        store = xliff1.xlifffile.parsestring(data)
    except (ValueError, AssertionError, etree.XMLSyntaxError) as error:
        raise XliffError(f"not an XLIFF 1.2 file: {error}") from None
    namespace = store.namespace
    files = list(store.document.getroot().iterchildren(f"{{{namespace}}}file"))
    if not files:
        raise XliffError("the file has no <file> element")
    source_language = files[0].get("source-language") or ""
    target_language = files[0].get("target-language") or ""
    if not source_language or not target_language:
        raise XliffError("<file> needs source-language and target-language")
    for filenode in files[1:]:
        if (filenode.get("source-language"), filenode.get("target-language")) != (
            source_language,
            target_language,
        ):
            raise XliffError("all <file> elements of one document need the same languages")
    document = ReadDocument("1.2", source_language, target_language)
    for unit in store.units:
        element = unit.xmlelement
        identifier = element.get("id") or ""
        filenode = next(element.iterancestors(f"{{{namespace}}}file"), None)
        source = element.find(f"{{{namespace}}}source")
        target = element.find(f"{{{namespace}}}target")
        if source is None:
            raise XliffError("no <source>", unit=identifier)
        state = target.get("state") if target is not None else None
        target_text = _text_of(target, namespace, identifier) if target is not None else None
        done = bool(target_text and target_text.strip()) and (state is None or state in _DONE_12)
        document.units.append(
            ReadUnit(
                id=identifier,
                file=filenode.get("original", "") if filenode is not None else "",
                source=_text_of(source, namespace, identifier),
                target=target_text,
                state=state,
                done=done,
            )
        )
    return document


def _read_20(data: bytes) -> ReadDocument:
    try:
        store = xliff2.Xliff2File.parsestring(data)
    except (ValueError, AssertionError, etree.XMLSyntaxError) as error:
        raise XliffError(f"not an XLIFF 2.0 file: {error}") from None
    root = store.document.getroot()
    namespace = store.namespace or XLIFF20_NS
    source_language = root.get("srcLang") or ""
    target_language = root.get("trgLang") or ""
    if not source_language or not target_language:
        raise XliffError("<xliff> needs srcLang and trgLang")
    document = ReadDocument("2.0", source_language, target_language)
    seen: set[Any] = set()
    for segment_unit in store.units:
        unit_node = segment_unit.getunitelement()
        if unit_node in seen:
            continue
        seen.add(unit_node)
        identifier = unit_node.get("id") or ""
        filenode = unit_node.getparent()
        while filenode is not None and etree.QName(filenode).localname != "file":
            filenode = filenode.getparent()
        # A CAT tool may split a unit into several segments: they are read as one text.
        sources: list[str] = []
        targets: list[str] = []
        states: list[str] = []
        has_target = False
        for child in unit_node:
            name = etree.QName(child).localname if isinstance(child.tag, str) else ""
            if name not in ("segment", "ignorable"):
                continue
            source = child.find(f"{{{namespace}}}source")
            target = child.find(f"{{{namespace}}}target")
            if source is None:
                raise XliffError("a segment without <source>", unit=identifier)
            sources.append(_text_of(source, namespace, identifier))
            if target is not None:
                has_target = True
                targets.append(_text_of(target, namespace, identifier))
            elif name == "ignorable":
                targets.append(sources[-1])
            if name == "segment":
                states.append(child.get("state") or "initial")
        target_text = "".join(targets) if has_target else None
        done = (
            bool(target_text and target_text.strip())
            and bool(states)
            and all(state in _DONE_20 for state in states)
        )
        document.units.append(
            ReadUnit(
                id=identifier,
                file=filenode.get("original", "") if filenode is not None else "",
                source="".join(sources),
                target=target_text,
                state=states[0] if len(set(states)) == 1 else ",".join(states),
                done=done,
            )
        )
    return document


def _text_of(node: Any, namespace: str, unit: str) -> str:
    """A <source>/<target> as placeholder text (the inverse of `_fill`)."""
    out: list[str] = [node.text or ""]
    for child in node:
        out.append(_inline(child, namespace, unit))
        out.append(child.tail or "")
    return "".join(out)


def _inline(node: Any, namespace: str, unit: str) -> str:
    if not isinstance(node.tag, str):  # a comment or processing instruction
        return ""
    name = etree.QName(node).localname
    identifier = node.get("id") or ""
    if name in ("g", "pc"):
        number = _placeholder_number(identifier, name, unit)
        return f"<g{number}>{_text_of(node, namespace, unit)}</g{number}>"
    if name in ("x", "ph"):
        return f"<x{_placeholder_number(identifier, name, unit)}/>"
    if name in ("bx", "sc"):
        return f"<g{_placeholder_number(node.get('rid') or identifier, name, unit)}>"
    if name == "ex":
        return f"</g{_placeholder_number(node.get('rid') or identifier, name, unit)}>"
    if name == "ec":
        return f"</g{_placeholder_number(node.get('startRef') or identifier, name, unit)}>"
    if name in ("mrk", "sm", "em"):
        return _text_of(node, namespace, unit) if name == "mrk" else ""
    if name == "cp":
        try:
            return chr(int(node.get("hex", ""), 16))
        except ValueError:
            raise XliffError("a <cp> without a valid hex code point", unit=unit) from None
    raise XliffError(f"the inline element <{name}> is not supported here", unit=unit)


def _placeholder_number(identifier: str, name: str, unit: str) -> int:
    if not identifier.isdigit():
        raise XliffError(
            f"<{name} id='{identifier}'> names no tag of the source (ids are numbers)", unit=unit
        )
    return int(identifier)


def placeholders_of(text: str) -> list[str]:
    """The placeholder tokens of a segment text, in order."""
    return [match.group(0) for match in _PLACEHOLDER_RE.finditer(text)]
