"""TBX-Basic and CSV termbase files: what is read, what is refused, and a round trip."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from translate.storage.tbx import tbxfile

from memory.termbase_files import TermbaseFileError, read_csv, read_tbx, write_tbx

STARTER = Path(__file__).resolve().parents[2] / "tm_service" / "demo" / "terminology_starter.tbx"

TBX = b"""<?xml version="1.0" encoding="UTF-8"?>
<martif type="TBX-Basic" xml:lang="de"><martifHeader><fileDesc><sourceDesc><p>t</p>
</sourceDesc></fileDesc></martifHeader><text><body>
<termEntry id="buergergeld">
  <descrip type="definition">Grundsicherung nach SGB II</descrip>
  <admin type="source">Buergergeld-Gesetz</admin>
  <xref type="externalCrossReference"
    target="https://www.gesetze-im-internet.de/sgb_2/__19.html">SGB II</xref>
  <langSet xml:lang="de">
    <tig><term>B\xc3\xbcrgergeld</term><termNote type="partOfSpeech">noun</termNote>
      <termNote type="administrativeStatus">preferredTerm-admn-sts</termNote></tig>
    <tig><term>Hartz IV</term>
      <termNote type="administrativeStatus">deprecatedTerm-admn-sts</termNote></tig>
  </langSet>
  <langSet xml:lang="en-GB"><tig><term>citizen's benefit</term></tig></langSet>
</termEntry>
</body></text></martif>"""


def test_tbx_basic_concept_terms_status_and_source_are_read():
    (concept,) = read_tbx(TBX)
    assert concept.key == "buergergeld"
    assert concept.source == "Buergergeld-Gesetz"
    assert concept.source_url == "https://www.gesetze-im-internet.de/sgb_2/__19.html"
    assert [(t.language, t.text, t.status, t.part_of_speech) for t in concept.terms] == [
        ("de", "Bürgergeld", "preferred", "noun"),
        ("de", "Hartz IV", "deprecated", None),
        ("en-gb", "citizen's benefit", "preferred", None),
    ]


def test_the_starter_termbase_survives_a_translate_toolkit_round_trip():
    concepts = read_tbx(STARTER.read_bytes())
    out = io.BytesIO()
    assert write_tbx(concepts, out, title="round trip") == len(concepts)
    # translate-toolkit's own reader sees every term with its status ...
    store = tbxfile.parsestring(out.getvalue())
    seen = set()
    for unit in store.units:
        for lang_set in unit.getlanguageNodes():
            language = lang_set.get("{http://www.w3.org/XML/1998/namespace}lang")
            for term in unit._get_terms(lang_set):
                seen.add((unit.getid(), language, term.text, term.deprecated))
    expected = {
        (c.key, t.language, t.text, t.status in ("deprecated", "forbidden"))
        for c in concepts
        for t in c.terms
    }
    assert seen == expected
    assert ("buergergeld", "de", "Hartz IV", True) in seen
    # ... and reading our export gives back what was written.
    assert read_tbx(out.getvalue()) == concepts


def test_a_forbidden_term_stays_forbidden_through_tbx():
    (concept,) = read_csv(b"concept,language,term,status\nx,de,Asylant,forbidden\n")
    out = io.BytesIO()
    write_tbx([concept], out, title="t")
    (back,) = read_tbx(out.getvalue())
    assert back.terms[0].status == "forbidden"
    assert tbxfile.parsestring(out.getvalue()).units[0].isobsolete()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<martif><text><body><termEntry>", "not a TBX file"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><martif/>', "entity"),
        (b"<martif><text><body></body></text></martif>", "no <termEntry>"),
        (TBX.replace(b'xml:lang="en-GB"', b'xml:lang="12"'), "not a language code"),
        (TBX.replace(b"deprecatedTerm-admn-sts", b"obsolete"), "unknown term status"),
        (
            TBX.replace(
                b"</body>", TBX[TBX.index(b"<termEntry") : TBX.index(b"</body>")] + b"</body>"
            ),
            "appears twice",
        ),
    ],
)
def test_bad_tbx_files_are_refused_naming_the_problem(data, message):
    with pytest.raises(TermbaseFileError, match=message):
        read_tbx(data)


def test_csv_rows_of_one_concept_become_one_concept():
    data = (
        "concept;language;term;status;source;license;attribution\n"
        "jobcenter;de;Jobcenter;preferred;§ 6d SGB II;CC BY 4.0;Landkreis X\n"
        "jobcenter;en;job centre;admitted;;;\n"
    ).encode()
    (concept,) = read_csv(data)
    assert concept.source == "§ 6d SGB II" and concept.license == "CC BY 4.0"
    assert [(t.language, t.text, t.status) for t in concept.terms] == [
        ("de", "Jobcenter", "preferred"),
        ("en", "job centre", "admitted"),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"language,term\nde,x\n", "lacks the column"),
        (b"concept,language,term,colour\nx,de,y,red\n", "unknown column"),
        (b"concept,language,term,status\nx,de,y,gone\n", "line 2: unknown term status"),
        (b"concept,language,term\nx,de,\n", "line 2: an empty term"),
        (b"concept,language,term\n", "no terms"),
        (b"concept,language,term\nx,de,\xff\n", "not UTF-8"),
    ],
)
def test_bad_csv_files_are_refused_naming_the_line(data, message):
    with pytest.raises(TermbaseFileError, match=message):
        read_csv(data)
