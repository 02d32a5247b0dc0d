"""Termbase files: TBX-Basic read (translate-toolkit's TBX reader) and write, CSV read.

Pure: no Flask, no SQLAlchemy. Each reader returns the whole file's concepts or raises
`TermbaseFileError` naming the entry or line, so an importer stores all of a file or nothing.

TBX-Basic mapping (per `<termEntry id>`):
- concept: `<descrip type="subjectField">`, `<descrip type="definition">`, `<note>`,
  `<admin type="source">`, `<xref type="externalCrossReference" target="URL">`, and the
  private `<admin type="x-license">` / `<admin type="x-attribution">`;
- term (`<langSet xml:lang><tig><term>`): `<termNote type="administrativeStatus">`
  (preferredTerm-admn-sts, admittedTerm-admn-sts, deprecatedTerm-admn-sts; supersededTerm-admn-sts
  is read as deprecated), `<termNote type="partOfSpeech">`, `<note>`. A forbidden term is written
  as deprecatedTerm-admn-sts (what every TBX-Basic reader understands: do not use it) with
  `<termNote type="usageNote">forbidden</termNote>`.
CSV: one row per term, columns `concept, language, term` (required) and `status,
part_of_speech, definition, note, term_note, subject, source, source_url, license,
attribution` (optional); rows of one concept share its `concept` key.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO

from lxml import etree
from translate.storage.tbx import tbxfile, tbxunit

from memory.language_tags import service_language_code

__all__ = [
    "ConceptData",
    "TermData",
    "TermbaseFileError",
    "read_csv",
    "read_tbx",
    "write_tbx",
]

STATUSES = ("preferred", "admitted", "deprecated", "forbidden")
TBX_STATUS = {
    "preferred": "preferredTerm-admn-sts",
    "admitted": "admittedTerm-admn-sts",
    "deprecated": "deprecatedTerm-admn-sts",
    "forbidden": "deprecatedTerm-admn-sts",
}
_STATUS_READ = {
    "preferredterm-admn-sts": "preferred",
    "preferred": "preferred",
    "admittedterm-admn-sts": "admitted",
    "admitted": "admitted",
    "deprecatedterm-admn-sts": "deprecated",
    "deprecated": "deprecated",
    "supersededterm-admn-sts": "deprecated",
    "superseded": "deprecated",
    "forbidden": "forbidden",
    "forbiddenterm-admn-sts": "forbidden",
}
TERM_MAX = 300
KEY_MAX = 200
MAX_CONCEPTS = 50_000


class TermbaseFileError(ValueError):
    """A termbase file that cannot be imported; the message names where."""


@dataclass
class TermData:
    language: str
    text: str
    status: str = "preferred"
    part_of_speech: str | None = None
    note: str | None = None


@dataclass
class ConceptData:
    key: str
    subject: str | None = None
    definition: str | None = None
    note: str | None = None
    source: str | None = None
    source_url: str | None = None
    license: str | None = None
    attribution: str | None = None
    terms: list[TermData] = field(default_factory=list)


def _status(value: str | None, where: str) -> str:
    if value is None or not value.strip():
        return "preferred"
    status = _STATUS_READ.get(value.strip().lower())
    if status is None:
        raise TermbaseFileError(
            f"{where}: unknown term status {value!r} (preferred, admitted, deprecated, forbidden "
            "or a TBX-Basic administrativeStatus)"
        )
    return status


def _language(tag: str | None, where: str) -> str:
    if not tag:
        raise TermbaseFileError(f"{where}: a language set without xml:lang")
    try:
        return service_language_code(tag)
    except ValueError as error:
        raise TermbaseFileError(f"{where}: {error}") from error


def _term_text(text: str, where: str) -> str:
    text = " ".join(text.split())
    if not text:
        raise TermbaseFileError(f"{where}: an empty term")
    if len(text) > TERM_MAX:
        raise TermbaseFileError(f"{where}: a term longer than {TERM_MAX} characters")
    return text


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text or None


def _check_key(key: str, where: str) -> str:
    key = " ".join(key.split())
    if not key or len(key) > KEY_MAX:
        raise TermbaseFileError(f"{where}: a concept key must have 1–{KEY_MAX} characters")
    return key


def _check_duplicates(concepts: list[ConceptData]) -> list[ConceptData]:
    seen: set[str] = set()
    for concept in concepts:
        if concept.key in seen:
            raise TermbaseFileError(f"concept {concept.key!r}: appears twice in the file")
        seen.add(concept.key)
        terms: set[tuple[str, str]] = set()
        for term in concept.terms:
            if (term.language, term.text) in terms:
                raise TermbaseFileError(
                    f"concept {concept.key!r}: the term {term.text!r} ({term.language}) twice"
                )
            terms.add((term.language, term.text))
        if not concept.terms:
            raise TermbaseFileError(f"concept {concept.key!r}: no terms")
    if len(concepts) > MAX_CONCEPTS:
        raise TermbaseFileError(f"more than {MAX_CONCEPTS} concepts in one file")
    return concepts


# --------------------------------------------------------------------------- TBX


def read_tbx(data: bytes) -> list[ConceptData]:
    """Every concept of a TBX file (TBX-Basic or translate-toolkit's TBX), in file order."""
    if b"<!ENTITY" in data:
        raise TermbaseFileError("entity declarations are not allowed in a termbase file")
    try:
        store = tbxfile.parsestring(data)
    except (etree.XMLSyntaxError, AssertionError, ValueError) as error:
        raise TermbaseFileError(f"not a TBX file: {error}") from error
    concepts = []
    for number, unit in enumerate(store.units, start=1):
        concepts.append(_read_entry(unit, number))
    if not concepts:
        raise TermbaseFileError("no <termEntry> in the file")
    return _check_duplicates(concepts)


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _read_entry(unit: tbxunit, number: int) -> ConceptData:
    entry = unit.xmlelement
    where = f"termEntry {entry.get('id') or number}"
    concept = ConceptData(key="")
    for child in entry:
        name, kind = _local(child.tag), child.get("type")
        text = _clean("".join(child.itertext()))
        if name == "descrip" and kind == "subjectField":
            concept.subject = text
        elif name == "descrip" and kind in (None, "definition"):
            concept.definition = text
        elif name == "note":
            concept.note = text
        elif name == "admin" and kind == "source":
            concept.source = text
        elif name == "admin" and kind == "x-license":
            concept.license = text
        elif name == "admin" and kind == "x-attribution":
            concept.attribution = text
        elif name == "xref" and kind == "externalCrossReference":
            concept.source_url = _clean(child.get("target")) or text
        elif name == "descripGrp":
            for inner in child:
                if _local(inner.tag) == "descrip" and inner.get("type") in (None, "definition"):
                    concept.definition = _clean("".join(inner.itertext()))
                elif _local(inner.tag) == "admin" and inner.get("type") == "source":
                    concept.source = _clean("".join(inner.itertext()))
    for lang_set in unit.getlanguageNodes():
        language = _language(lang_set.get("{http://www.w3.org/XML/1998/namespace}lang"), where)
        # translate-toolkit's reader gives each <tig>'s text, id and administrative status.
        for tig, term in zip(
            [node for node in lang_set if _local(node.tag) == "tig"],
            unit._get_terms(lang_set),
            strict=False,
        ):
            text = _term_text(term.text, f"{where} ({language})")
            status = _status(term.administrative_status, f"{where} ({language}, {text!r})")
            part_of_speech = note = None
            for node in tig.iter():
                name, kind = _local(node.tag), node.get("type")
                value = _clean("".join(node.itertext()))
                if name == "termNote" and kind == "partOfSpeech":
                    part_of_speech = value
                elif name == "termNote" and kind == "usageNote" and value == "forbidden":
                    status = "forbidden"
                elif name == "note":
                    note = value
            concept.terms.append(TermData(language, text, status, part_of_speech, note))
    concept.key = _check_key(entry.get("id") or _derived_key(concept, where), where)
    return concept


def _derived_key(concept: ConceptData, where: str) -> str:
    if not concept.terms:
        raise TermbaseFileError(f"{where}: no terms")
    first = concept.terms[0]
    return f"{first.language}:{first.text.lower()}"[:KEY_MAX]


def write_tbx(concepts: Iterable[ConceptData], out: IO[bytes], *, title: str) -> int:
    """Write concepts as a TBX-Basic file; returns how many."""
    martif = etree.Element("martif", type="TBX-Basic")
    martif.set("{http://www.w3.org/XML/1998/namespace}lang", "de")
    header = etree.SubElement(martif, "martifHeader")
    file_desc = etree.SubElement(header, "fileDesc")
    etree.SubElement(etree.SubElement(file_desc, "titleStmt"), "title").text = title
    etree.SubElement(
        etree.SubElement(file_desc, "sourceDesc"), "p"
    ).text = "Exported by tm-service; each concept names its source, licence and attribution."
    etree.SubElement(
        etree.SubElement(header, "encodingDesc"), "p", type="XCSURI"
    ).text = "TBXBasicXCSV02.xcs"
    body = etree.SubElement(etree.SubElement(martif, "text"), "body")
    count = 0
    for concept in concepts:
        count += 1
        entry = etree.SubElement(body, "termEntry", id=concept.key)
        if concept.subject:
            etree.SubElement(entry, "descrip", type="subjectField").text = concept.subject
        if concept.definition:
            etree.SubElement(entry, "descrip", type="definition").text = concept.definition
        if concept.source:
            etree.SubElement(entry, "admin", type="source").text = concept.source
        if concept.source_url:
            etree.SubElement(
                entry, "xref", type="externalCrossReference", target=concept.source_url
            ).text = concept.source_url
        if concept.license:
            etree.SubElement(entry, "admin", type="x-license").text = concept.license
        if concept.attribution:
            etree.SubElement(entry, "admin", type="x-attribution").text = concept.attribution
        if concept.note:
            etree.SubElement(entry, "note").text = concept.note
        by_language: dict[str, list[TermData]] = {}
        for term in concept.terms:
            by_language.setdefault(term.language, []).append(term)
        for language, terms in by_language.items():
            lang_set = etree.SubElement(entry, "langSet")
            lang_set.set("{http://www.w3.org/XML/1998/namespace}lang", language)
            for term in terms:
                tig = etree.SubElement(lang_set, "tig")
                etree.SubElement(tig, "term").text = term.text
                if term.part_of_speech:
                    etree.SubElement(
                        tig, "termNote", type="partOfSpeech"
                    ).text = term.part_of_speech
                etree.SubElement(tig, "termNote", type="administrativeStatus").text = TBX_STATUS[
                    term.status
                ]
                if term.status == "forbidden":
                    etree.SubElement(tig, "termNote", type="usageNote").text = "forbidden"
                if term.note:
                    etree.SubElement(tig, "note").text = term.note
    out.write(etree.tostring(martif, xml_declaration=True, encoding="UTF-8", pretty_print=True))
    return count


# --------------------------------------------------------------------------- CSV

CSV_REQUIRED = ("concept", "language", "term")
CSV_COLUMNS = (
    *CSV_REQUIRED,
    "status",
    "part_of_speech",
    "definition",
    "note",
    "term_note",
    "subject",
    "source",
    "source_url",
    "license",
    "attribution",
)


def read_csv(data: bytes) -> list[ConceptData]:
    """Every concept of a CSV termbase (UTF-8, header row; see the module docstring)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise TermbaseFileError(f"not UTF-8: {error.reason} at byte {error.start}") from error
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel  # type: ignore[assignment]
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in CSV_REQUIRED if name not in header]
    if missing:
        raise TermbaseFileError(f"line 1: the header lacks the column(s) {', '.join(missing)}")
    unknown = [name for name in header if name not in CSV_COLUMNS]
    if unknown:
        raise TermbaseFileError(f"line 1: unknown column(s) {', '.join(unknown)}")
    reader.fieldnames = header
    concepts: dict[str, ConceptData] = {}
    try:
        for row in reader:
            where = f"line {reader.line_num}"
            if None in row:
                raise TermbaseFileError(f"{where}: more fields than the header has columns")
            values = {name: (value or "").strip() for name, value in row.items()}
            key = _check_key(values["concept"], where)
            concept = concepts.setdefault(key, ConceptData(key=key))
            for name in ("subject", "definition", "note", "source", "source_url"):
                if values.get(name):
                    setattr(concept, name, _clean(values[name]))
            if values.get("license"):
                concept.license = values["license"]
            if values.get("attribution"):
                concept.attribution = values["attribution"]
            concept.terms.append(
                TermData(
                    _language(values["language"], where),
                    _term_text(values["term"], where),
                    _status(values.get("status"), where),
                    _clean(values.get("part_of_speech")),
                    _clean(values.get("term_note")),
                )
            )
    except csv.Error as error:
        raise TermbaseFileError(f"line {reader.line_num}: {error}") from error
    if not concepts:
        raise TermbaseFileError("no terms in the file")
    return _check_duplicates(list(concepts.values()))
