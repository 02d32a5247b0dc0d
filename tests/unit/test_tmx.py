"""TMX reading and writing: round trips, other tools' files, hostile and broken input, streaming."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from translate.storage import tmx as toolkit_tmx

from memory.tmx import (
    TmxError,
    TmxUnit,
    normalise_language_code,
    read_tmx,
    validate_tmx,
    write_tmx,
)

WHEN = datetime(2024, 3, 1, 10, 15, 0, tzinfo=UTC)


def _export(units: list[TmxUnit], source_language: str = "de") -> bytes:
    out = io.BytesIO()
    assert write_tmx(units, out, source_language=source_language) == len(units)
    return out.getvalue()


def _tmx(body: str, *, header: str = 'srclang="de"', version: str = "1.4") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<tmx version="{version}">\n'
        f'<header creationtool="test" datatype="plaintext" segtype="sentence" adminlang="en"'
        f' o-tmf="test" {header}/>\n<body>\n{body}\n</body>\n</tmx>\n'
    ).encode()


@pytest.fixture
def municipal_units() -> list[TmxUnit]:
    provenance = {
        "x-region": "augsburg",
        "x-page": "4711",
        "x-origin": "human",
        "x-license": "CC BY 4.0",
        "x-attribution": "Stadt Augsburg",
        "x-reviewed": "true",
    }
    return [
        TmxUnit(
            source_language="de",
            target_language="ar",
            source_text="Das Bürgerbüro ist montags geschlossen.",
            target_text="مكتب المواطنين مغلق أيام الاثنين.",
            properties=provenance,
            creation_date=WHEN,
            change_date=WHEN,
            creation_id="translator-7",
            notes=("RTL text", "reviewed twice"),
            tuid="page-4711-s1",
        ),
        TmxUnit(
            source_language="de",
            target_language="en",
            source_text='Miete & Nebenkosten < 500 € "warm" 🏠',
            target_text="Rent & utilities < €500 'incl. heating' 🏠\nsecond line",
            properties={"x-region": "augsburg"},
        ),
        TmxUnit(
            source_language="de",
            target_language="de-si",
            source_text="Die Ausländerbehörde berät Sie.",
            target_text="Die Ausländer-Behörde hilft Ihnen.",
            creation_tool="integreat-cms",
        ),
    ]


# ---------------------------------------------------------------- language codes


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("de-DE", "de"),
        ("en-US", "en"),
        ("EN-GB", "en"),
        ("de_AT", "de"),
        ("de-si", "de-si"),
        ("DE-SI", "de-si"),
        ("pt-BR", "pt-br"),
        ("pt-PT", "pt"),
        ("ckb", "ckb"),
        (" fa ", "fa"),
    ],
)
def test_language_codes_are_normalised_to_service_codes(code: str, expected: str) -> None:
    assert normalise_language_code(code) == expected


@pytest.mark.parametrize(
    "code", ["", "de DE", "*all*", "de--DE", "12", "zz", "de-", "x-klingon", "und", "i-klingon"]
)
def test_malformed_language_code_is_refused(code: str) -> None:
    with pytest.raises(ValueError, match="not a language code"):
        normalise_language_code(code)


def test_a_tuv_whose_language_is_not_bcp_47_fails_the_file_at_its_line() -> None:
    data = _tmx(
        '<tu><tuv xml:lang="de"><seg>Hallo</seg></tuv>\n'
        '<tuv xml:lang="12"><seg>Hello</seg></tuv></tu>'
    )

    with pytest.raises(TmxError, match="not a language code: '12'") as raised:
        validate_tmx(io.BytesIO(data))

    assert raised.value.line == 6


# ---------------------------------------------------------------- bounds


def _timed_rejection(data: bytes, message: str) -> float:
    started = time.perf_counter()
    with pytest.raises(TmxError, match=message):
        validate_tmx(io.BytesIO(data))
    return time.perf_counter() - started


def test_a_9_mb_segment_is_refused_fast() -> None:
    huge = "Wort " * 1_800_000
    data = _tmx(
        f'<tu><tuv xml:lang="de"><seg>{huge}</seg></tuv>'
        '<tuv xml:lang="en"><seg>word</seg></tuv></tu>'
    )
    assert len(data) > 9_000_000

    assert _timed_rejection(data, "<seg> longer than 10000 characters") < 2.0


def test_100_000_tuvs_in_one_tu_are_refused_fast() -> None:
    variants = "".join(f'<tuv xml:lang="en"><seg>x{n}</seg></tuv>' for n in range(100_000))
    data = _tmx(f'<tu><tuv xml:lang="de"><seg>Hallo</seg></tuv>{variants}</tu>')

    assert _timed_rejection(data, "<tu> with more than") < 2.0


@pytest.mark.parametrize(
    ("inside", "message"),
    [
        # Many short inline elements: each text is short, the segment is not.
        ("<hi>Wort </hi>" * 2_500, "<seg> longer than"),
        ("<ph/>" * 6_000, "<seg> with more than 5000 elements"),
    ],
)
def test_a_segment_over_the_bounds_through_inline_markup_is_refused(
    inside: str, message: str
) -> None:
    data = _tmx(
        f'<tu><tuv xml:lang="de"><seg>{inside}</seg></tuv>'
        '<tuv xml:lang="en"><seg>word</seg></tuv></tu>'
    )

    _timed_rejection(data, message)


def test_a_huge_property_or_thousands_of_them_are_refused() -> None:
    long_prop = _tmx(
        f'<tu><prop type="x-attribution">{"a" * 10_001}</prop>'
        '<tuv xml:lang="de"><seg>Hallo</seg></tuv><tuv xml:lang="en"><seg>Hi</seg></tuv></tu>'
    )
    many_props = _tmx(
        "<tu>"
        + '<prop type="x-note">n</prop>' * 5_001
        + '<tuv xml:lang="de"><seg>Hallo</seg></tuv><tuv xml:lang="en"><seg>Hi</seg></tuv></tu>'
    )

    _timed_rejection(long_prop, "<prop> longer than 10000 characters")
    _timed_rejection(many_props, "<tu> with more than 5000 elements")


def test_units_within_the_bounds_are_read() -> None:
    # Ten languages and a 10 000-character segment: as large as real <tu>s get.
    codes = ["en", "ar", "fa", "uk", "tr", "ru", "pl", "ro", "bg", "el"][:9]
    variants = "".join(f'<tuv xml:lang="{code}"><seg>Text</seg></tuv>' for code in codes)
    data = _tmx(f'<tu><tuv xml:lang="de"><seg>{"x" * 10_000}</seg></tuv>{variants}</tu>')

    assert validate_tmx(io.BytesIO(data)).units == 9


# ---------------------------------------------------------------- round trip


def test_write_then_read_gives_the_same_units(municipal_units: list[TmxUnit]) -> None:
    reader = read_tmx(io.BytesIO(_export(municipal_units)))

    assert list(reader) == municipal_units
    assert reader.stats.units == 3
    assert reader.stats.translation_units == 3
    assert reader.stats.languages == {"de", "ar", "en", "de-si"}
    assert reader.stats.creation_tool == "tm-service"


def test_export_header_is_tmx_14b_with_provenance_props(municipal_units: list[TmxUnit]) -> None:
    exported = _export(municipal_units).decode()

    assert '<tmx version="1.4">' in exported
    for attribute in (
        'creationtool="tm-service"',
        "creationtoolversion=",
        'datatype="plaintext"',
        'segtype="sentence"',
        'adminlang="en"',
        'srclang="de"',
        "o-tmf=",
    ):
        assert attribute in exported
    assert '<prop type="x-license">CC BY 4.0</prop>' in exported
    assert 'creationdate="20240301T101500Z"' in exported


def test_control_characters_are_dropped_so_the_export_always_parses() -> None:
    unit = TmxUnit("de", "en", "Bell\x07 and NUL\x00 and \ud800 surrogate", "form\x0cfeed\r\n")

    (read_back,) = read_tmx(io.BytesIO(_export([unit])))

    assert read_back.source_text == "Bell and NUL and  surrogate"
    assert read_back.target_text == "formfeed\r\n"


def test_units_from_another_source_language_keep_it_through_a_round_trip() -> None:
    units = [
        TmxUnit("de", "en", "Hallo", "Hello"),
        TmxUnit("en", "uk", "Hello", "Привіт"),
    ]

    assert list(read_tmx(io.BytesIO(_export(units, source_language="de-DE")))) == units


def test_utf16_file_with_bom_is_read() -> None:
    data = _tmx(
        '<tu><tuv xml:lang="de-DE"><seg>Grüße</seg></tuv><tuv xml:lang="tr-TR">'
        "<seg>Selamlar</seg></tuv></tu>"
    ).decode()
    data = data.replace('encoding="UTF-8"', 'encoding="UTF-16"')

    (unit,) = read_tmx(io.BytesIO(data.encode("utf-16")))

    assert (unit.source_text, unit.target_language, unit.target_text) == ("Grüße", "tr", "Selamlar")


def test_read_accepts_a_path_and_validate_counts_without_keeping_units(
    tmp_path: Path, municipal_units: list[TmxUnit]
) -> None:
    path = tmp_path / "export.tmx"
    path.write_bytes(_export(municipal_units))

    assert list(read_tmx(path)) == municipal_units
    stats = validate_tmx(path)
    assert stats.units == 3
    assert stats.language_pairs == {("de", "ar"): 1, ("de", "en"): 1, ("de", "de-si"): 1}


def test_file_over_max_bytes_is_rejected(municipal_units: list[TmxUnit], tmp_path: Path) -> None:
    data = _export(municipal_units)
    path = tmp_path / "big.tmx"
    path.write_bytes(data)

    with pytest.raises(TmxError, match="larger than the limit"):
        list(read_tmx(io.BytesIO(data), max_bytes=100))
    with pytest.raises(TmxError, match="larger than the limit"):
        validate_tmx(path, max_bytes=100)


# ---------------------------------------------------------------- other tools


def test_translate_toolkit_reads_our_export(municipal_units: list[TmxUnit]) -> None:
    store = toolkit_tmx.tmxfile.parsestring(_export(municipal_units))

    assert len(store.units) == len(municipal_units)
    for toolkit_unit, unit in zip(store.units, municipal_units, strict=True):
        assert toolkit_unit.source == unit.source_text
        assert toolkit_unit.target == unit.target_text


def test_translate_toolkit_reads_our_export_from_a_path(
    tmp_path: Path, municipal_units: list[TmxUnit]
) -> None:
    path = tmp_path / "export.tmx"
    path.write_bytes(_export(municipal_units))

    store = toolkit_tmx.tmxfile.parsefile(str(path))

    assert [u.source for u in store.units] == [u.source_text for u in municipal_units]


def test_we_read_a_translate_toolkit_tmx() -> None:
    store = toolkit_tmx.tmxfile(sourcelanguage="de-DE", targetlanguage="en-GB")
    store.addtranslation("Guten Tag", "de-DE", "Good day", "en-GB", comment="greeting")
    store.addtranslation("A & B <c>", "de-DE", "A & B <c> ✓", "en-GB", context="menu")

    units = list(read_tmx(io.BytesIO(bytes(store))))

    assert [(u.source_language, u.target_language) for u in units] == [("de", "en")] * 2
    assert [(u.source_text, u.target_text) for u in units] == [
        ("Guten Tag", "Good day"),
        ("A & B <c>", "A & B <c> ✓"),
    ]
    assert units[0].notes == ("greeting",)
    assert units[1].properties == {"x-context": "menu"}


# OmegaT level-2 segments: formatting tags as bpt/ept/ph around the escaped native HTML.
OMEGAT_TAGGED_SOURCE = (
    'Klicken Sie <bpt i="1" x="1">&lt;b&gt;</bpt>hier<ept i="1">&lt;/b&gt;</ept>.'
    '<ph x="2">&lt;br/&gt;</ph>'
)
OMEGAT_TAGGED_TARGET = (
    'Click <bpt i="1" x="1">&lt;b&gt;</bpt><hi type="bold">here</hi><ept i="1">&lt;/b&gt;</ept>.'
    '<ph x="2">&lt;br/&gt;</ph>'
)
OMEGAT_PROJECT_SAVE = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE tmx SYSTEM "tmx11.dtd">
<tmx version="1.4">
  <header creationtool="OmegaT" o-tmf="OmegaT TMX" adminlang="EN-US" datatype="plaintext"
    creationtoolversion="6.0.1_0_8c22a5c5" segtype="sentence" srclang="DE-DE"/>
  <body>
<!-- Default translations -->
    <tu>
      <tuv lang="DE-DE">
        <seg>Die Tafel verteilt jeden Dienstag Lebensmittel.</seg>
      </tuv>
      <tuv lang="EN-GB" changeid="anna" changedate="20240301T101500Z" creationid="anna"
        creationdate="20240229T083000Z">
        <seg>The food bank hands out groceries every Tuesday.</seg>
      </tuv>
    </tu>
    <tu>
      <tuv xml:lang="DE-DE">
        <seg>{OMEGAT_TAGGED_SOURCE}</seg>
      </tuv>
      <tuv xml:lang="EN-GB" changeid="ben" changedate="20240302T090000Z">
        <seg>{OMEGAT_TAGGED_TARGET}</seg>
      </tuv>
    </tu>
<!-- Alternative translations -->
    <tu>
      <prop type="file">wohnen.html</prop>
      <prop type="prev">Wohnen in Augsburg</prop>
      <tuv lang="DE-DE">
        <seg>Wohnberechtigungsschein</seg>
      </tuv>
      <tuv lang="EN-GB" changeid="anna" changedate="20240303T120000Z">
        <seg>Housing entitlement certificate</seg>
      </tuv>
    </tu>
  </body>
</tmx>
"""


def test_we_read_an_omegat_project_tmx() -> None:
    reader = read_tmx(io.BytesIO(OMEGAT_PROJECT_SAVE.encode()))
    first, tagged, alternative = reader

    assert (first.source_language, first.target_language) == ("de", "en")
    assert first.source_text == "Die Tafel verteilt jeden Dienstag Lebensmittel."
    assert first.target_text == "The food bank hands out groceries every Tuesday."
    assert first.change_id == "anna"
    assert first.change_date == WHEN
    assert first.creation_date == datetime(2024, 2, 29, 8, 30, tzinfo=UTC)
    # Native code of bpt/ept/ph is dropped, <hi> text is kept.
    assert tagged.source_text == "Klicken Sie hier."
    assert tagged.target_text == "Click here."
    assert alternative.properties == {"file": "wohnen.html", "prev": "Wohnen in Augsburg"}
    assert reader.stats.creation_tool == "OmegaT"
    assert reader.stats.source_language == "de"


# ---------------------------------------------------------------- structure


def test_tu_with_several_tuvs_yields_one_unit_per_target_language() -> None:
    data = _tmx(
        """<tu tuid="42"><prop type="x-region">muenchen</prop>
        <tuv xml:lang="en-US"><seg>Welcome</seg></tuv>
        <tuv xml:lang="de-DE"><seg>Willkommen</seg><prop type="x-reviewed">true</prop></tuv>
        <tuv xml:lang="uk"><seg>Ласкаво просимо</seg></tuv>
        <tuv xml:lang="fa"><seg> </seg></tuv>
        <tuv xml:lang="tr"><seg>Hoş geldiniz</seg></tuv></tu>"""
    )
    reader = read_tmx(io.BytesIO(data))
    units = list(reader)

    assert [(u.target_language, u.target_text) for u in units] == [
        ("en", "Welcome"),
        ("uk", "Ласкаво просимо"),
        ("tr", "Hoş geldiniz"),
    ]
    assert {u.source_text for u in units} == {"Willkommen"}
    assert all(u.tuid == "42" for u in units)
    assert units[0].properties == {"x-region": "muenchen", "x-reviewed": "true"}
    assert reader.stats.skipped_segments == 1


def test_srclang_all_pairs_the_first_tuv_with_the_others() -> None:
    data = _tmx(
        """<tu><tuv xml:lang="en"><seg>Hello</seg></tuv>
        <tuv xml:lang="de"><seg>Hallo</seg></tuv><tuv xml:lang="ar"><seg>مرحبا</seg></tuv></tu>
        <tu><tuv xml:lang="de"><seg>Tschüss</seg></tuv>
        <tuv xml:lang="en"><seg>Bye</seg></tuv></tu>""",
        header='srclang="*all*"',
    )

    units = list(read_tmx(io.BytesIO(data)))

    assert [(u.source_language, u.target_language) for u in units] == [
        ("en", "de"),
        ("en", "ar"),
        ("de", "en"),
    ]


def test_unusable_translation_units_are_skipped_and_counted() -> None:
    data = _tmx(
        """<tu><tuv xml:lang="de"><seg>Nur Quelle</seg></tuv></tu>
        <tu><tuv xml:lang="de"><seg></seg></tuv><tuv xml:lang="en"><seg>Empty</seg></tuv></tu>
        <tu><tuv xml:lang="en"><seg>English</seg></tuv><tuv xml:lang="fr"><seg>Non</seg></tuv></tu>
        <tu><tuv xml:lang="de"><seg>Gut</seg></tuv><tuv xml:lang="en"><seg>Good</seg></tuv></tu>"""
    )
    reader = read_tmx(io.BytesIO(data))

    assert [u.source_text for u in reader] == ["Gut"]
    assert reader.stats.translation_units == 4
    assert reader.stats.skipped_translation_units == 3


def test_tmx_11_lang_attribute_is_read() -> None:
    data = _tmx(
        '<tu><tuv lang="DE"><seg>Ja</seg></tuv><tuv lang="EN"><seg>Yes</seg></tuv></tu>',
        version="1.1",
    )

    assert [(u.source_language, u.target_text) for u in read_tmx(io.BytesIO(data))] == [
        ("de", "Yes")
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"Stadt;City\nAmt;Office\n", "not well-formed XML"),
        (b'<?xml version="1.0"?><xliff version="1.2"><file/></xliff>', "not a TMX file"),
        (b"<html><body><tu/></body></html>", "not a TMX file"),
        (_tmx("", version="2.0"), "unsupported TMX version"),
        (b'<tmx><header srclang="de"/><body/></tmx>', "missing TMX version"),
        (b'<tmx version="1.4"><body/></tmx>', "missing <header>"),
        (b'<tmx version="1.4"><header srclang="de"/></tmx>', "missing <body>"),
        (_tmx("", header=""), "missing srclang"),
        (_tmx('<tu><tuv><seg>x</seg></tuv><tuv xml:lang="en"><seg>y</seg></tuv></tu>'), "xml:lang"),
        (_tmx('<tu><tuv xml:lang="de"/><tuv xml:lang="en"><seg>y</seg></tuv></tu>'), "<seg>"),
        (
            _tmx(
                '<tu creationdate="2024-03-01"><tuv xml:lang="de"><seg>x</seg></tuv>'
                '<tuv xml:lang="en"><seg>y</seg></tuv></tu>'
            ),
            "not a TMX date",
        ),
    ],
)
def test_structural_problems_raise_tmx_error(data: bytes, message: str) -> None:
    with pytest.raises(TmxError, match=message):
        list(read_tmx(io.BytesIO(data)))


def test_tmx_error_carries_the_line_number() -> None:
    data = _tmx(
        '<tu><tuv xml:lang="de"><seg>a</seg></tuv><tuv xml:lang="en"><seg>b</seg></tuv></tu>\n'
        '<tu>\n<tuv xml:lang="de"><seg>x</seg></tuv>\n<tuv><seg>y</seg></tuv></tu>'
    )

    with pytest.raises(TmxError) as raised:
        list(read_tmx(io.BytesIO(data)))

    assert raised.value.line == 8


def test_truncated_file_raises_after_yielding_the_units_before_the_cut(tmp_path: Path) -> None:
    units = [TmxUnit("de", "en", f"Satz {i}", f"Sentence {i}") for i in range(5000)]
    data = _export(units)
    path = tmp_path / "truncated.tmx"
    path.write_bytes(data[: len(data) * 3 // 4])
    received: list[TmxUnit] = []

    with pytest.raises(TmxError, match="truncated") as raised:
        for unit in read_tmx(path):
            received.append(unit)

    # A caller that committed per unit would have stored these: the import must be atomic.
    assert 0 < len(received) < len(units)
    assert received == units[: len(received)]
    assert raised.value.line is not None


def test_reader_closes_its_file_when_stopped_early(tmp_path: Path) -> None:
    path = tmp_path / "export.tmx"
    path.write_bytes(_export([TmxUnit("de", "en", "a", "b")] * 3))

    with read_tmx(path) as reader:
        next(reader)
    with pytest.raises(StopIteration):
        next(reader)


# ---------------------------------------------------------------- hostile input


def test_external_entity_is_rejected_and_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-PASSWORD")
    data = (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE tmx [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
        '<tmx version="1.4"><header srclang="de"/><body>'
        '<tu><tuv xml:lang="de"><seg>&xxe;</seg></tuv><tuv xml:lang="en"><seg>&xxe;</seg></tuv>'
        "</tu></body></tmx>"
    ).encode()
    received: list[TmxUnit] = []

    with pytest.raises(TmxError, match="entit") as raised:
        received.extend(read_tmx(io.BytesIO(data)))

    assert received == []
    assert "TOP-SECRET" not in str(raised.value)


def test_etc_passwd_entity_is_rejected() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE tmx [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<tmx version="1.4"><header srclang="de"/><body><tu><tuv xml:lang="de"><seg>&xxe;</seg>'
        b'</tuv><tuv xml:lang="en"><seg>x</seg></tuv></tu></body></tmx>'
    )

    with pytest.raises(TmxError, match="entit") as raised:
        list(read_tmx(io.BytesIO(data)))

    assert "root:" not in str(raised.value)


def _billion_laughs(reference_in: str) -> bytes:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    version = "&lol9;" if reference_in == "attribute" else "1.4"
    segment = "&lol9;" if reference_in == "segment" else "x"
    return (
        f'<?xml version="1.0"?><!DOCTYPE tmx [{entities}]><tmx version="{version}">'
        f'<header srclang="de"/><body><tu><tuv xml:lang="de"><seg>{segment}</seg></tuv>'
        f'<tuv xml:lang="en"><seg>{segment}</seg></tuv></tu></body></tmx>'
    ).encode()


@pytest.mark.parametrize("reference_in", ["segment", "attribute", "nowhere"])
def test_billion_laughs_is_rejected_quickly(reference_in: str) -> None:
    started = time.perf_counter()

    with pytest.raises(TmxError, match="entit"):
        list(read_tmx(io.BytesIO(_billion_laughs(reference_in))))

    assert time.perf_counter() - started < 1.0


def test_undeclared_entity_behind_an_external_dtd_is_rejected() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE tmx SYSTEM "http://example.invalid/tmx14.dtd">'
        b'<tmx version="1.4"><header srclang="de"/><body><tu><tuv xml:lang="de"><seg>a&nbsp;b'
        b'</seg></tuv><tuv xml:lang="en"><seg>x</seg></tuv></tu></body></tmx>'
    )

    with pytest.raises(TmxError, match="entity reference"):
        list(read_tmx(io.BytesIO(data)))


# ---------------------------------------------------------------- streaming


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _many_units(count: int) -> Iterator[TmxUnit]:
    for i in range(count):
        yield TmxUnit(
            source_language="de",
            target_language="en",
            source_text=f"Die Ausländerbehörde im Landratsamt ist am Montag geschlossen ({i}).",
            target_text=f"The immigration office at the district office is closed on Monday ({i}).",
            properties={"x-region": "augsburg", "x-page": str(i // 20), "x-origin": "human"},
            creation_date=WHEN,
            tuid=str(i),
        )


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="RSS is read from /proc")
def test_200k_unit_file_reads_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "large.tmx"
    with path.open("wb") as out:
        assert write_tmx(_many_units(200_000), out, source_language="de") == 200_000
    # ≈ 90 MB on disk: a non-streaming parse would need several times that in memory.
    assert path.stat().st_size > 50_000_000
    baseline = peak = _rss_bytes()
    count = 0
    last_tuid = None

    for unit in read_tmx(path):
        count += 1
        last_tuid = unit.tuid
        if count % 5000 == 0:
            peak = max(peak, _rss_bytes())

    assert count == 200_000
    assert last_tuid == "199999"
    assert peak - baseline < 50_000_000
