"""connectors.xliff: inline tags both ways, what CAT tools write instead (1.2 bx/ex, 2.0 sc/ec,
mrk, cp), states, and the files that are refused with the unit named."""

from __future__ import annotations

import pytest
from translate.storage import xliff, xliff2

from connectors.xliff import (
    AltTrans,
    WriteFile,
    WriteUnit,
    XliffError,
    parse_unit_id,
    read_xliff,
    unit_id,
    write_xliff,
)

MARKUP = frozenset({"<g1>", "</g1>", "<x2/>"})
SOURCE = "Rufen Sie <g1>hier</g1> an<x2/> & kommen Sie vorbei."


def page(target: str | None = "Call <g1>here</g1><x2/> & drop by.", done: bool = False):
    return WriteFile(
        original="5405874",
        units=(
            WriteUnit(
                id=unit_id("5405874", 3, "content", 0),
                source=SOURCE,
                markup=MARKUP,
                target=target,
                done=done,
                notes=("Translation memory, fuzzy match 87 %",),
                alternatives=(AltTrans("Ring <g1>us</g1>.", "Rufen Sie uns an.", 81.5, "tm:x"),),
            ),
        ),
        notes=("Page 5405874",),
    )


@pytest.mark.parametrize("version", ["1.2", "2.0"])
def test_inline_tags_and_text_survive_a_round_trip(version):
    data = write_xliff([page()], version=version, source_language="de", target_language="en")

    (unit,) = read_xliff(data).units

    assert unit.source == SOURCE
    assert unit.target == "Call <g1>here</g1><x2/> & drop by."
    assert unit.file == "5405874"
    assert not unit.done  # a pre-filled candidate waits for review
    store = (xliff.xlifffile if version == "1.2" else xliff2.Xliff2File).parsestring(data)
    assert len(store.units) == 1
    assert "&lt;g1&gt;" not in data.decode()


@pytest.mark.parametrize(
    ("version", "state", "done"),
    [
        ("1.2", "translated", True),
        ("1.2", "final", True),
        ("1.2", "needs-review-translation", False),
        ("2.0", "reviewed", True),
        ("2.0", "initial", False),
    ],
)
def test_done_follows_the_state(version, state, done):
    data = write_xliff(
        [page(done=True)], version=version, source_language="de", target_language="en"
    )
    text = data.decode().replace('state="translated"', f'state="{state}"')
    assert read_xliff(text.encode()).units[0].done is done


def test_what_cat_tools_write_instead_is_understood():
    data = b"""<?xml version="1.0"?>
<xliff version="2.0" xmlns="urn:oasis:names:tc:xliff:document:2.0" srcLang="de" trgLang="en">
 <file id="f1" original="7"><unit id="7.v1.content-0">
  <segment state="translated"><source>A <pc id="1">b</pc> c</source>
   <target>X <sc id="1"/>y<ec startRef="1"/><mrk id="m">z</mrk><cp hex="2013"/></target>
  </segment>
 </unit></file>
</xliff>"""

    (unit,) = read_xliff(data).units

    assert unit.target == "X <g1>y</g1>z\u2013"
    assert unit.done


def test_an_unknown_inline_element_fails_naming_the_unit():
    data = b"""<?xml version="1.0"?>
<xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2">
 <file original="7" source-language="de" target-language="en" datatype="plaintext"><body>
  <trans-unit id="7.v1.content-0"><source>A</source>
   <target state="translated">B <bpt id="1">&lt;b&gt;</bpt>C</target></trans-unit>
 </body></file>
</xliff>"""

    with pytest.raises(XliffError, match=r"unit 7\.v1\.content-0: the inline element <bpt>"):
        read_xliff(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><xliff/>', "DTDs"),
        (b"<xliff version='1.2' xmlns='urn:oasis:names:tc:xliff:document:1.2'><file", "not well"),
        (b"<tmx version='1.4'/>", "root element"),
        (b"<xliff version='3.0'/>", "not supported"),
    ],
)
def test_what_is_not_such_a_file_is_refused(data, message):
    with pytest.raises(XliffError, match=message):
        read_xliff(data)


def test_unit_ids_name_page_version_and_segment():
    assert parse_unit_id(unit_id("a.b", 12, "title", 0)).page == "a.b"
    parsed = parse_unit_id("5405874.v3.content-17")
    assert (parsed.page, parsed.version, parsed.part, parsed.index) == ("5405874", 3, "content", 17)
    with pytest.raises(XliffError, match="unit 17: the id does not name"):
        parse_unit_id("17")
