"""The reuse-quality benchmark's own measures: splits, local details, flags, chrF++."""

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("sacrebleu")

_PATH = Path(__file__).resolve().parents[2] / "bench" / "reuse_quality.py"
_SPEC = importlib.util.spec_from_file_location("reuse_quality_bench", _PATH)
bench = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = bench  # dataclasses look their module up
_SPEC.loader.exec_module(bench)

DONOR_PAGE = (
    "Landratsamt Augsburg, Prinzregentenplatz 4, 86150 Augsburg. Telefon 0821 3102-0, "
    "auslaenderamt@lra-a.bayern.de, www.landkreis-augsburg.de/auslaender. "
    "Außenstelle: Bahnhofstraße 12, 86368 Gersthofen."
)


def test_split_is_stable_and_close_to_seventy_percent():
    splits = [bench.split_of("muenchen", str(page)) for page in range(2000)]

    assert splits == [bench.split_of("muenchen", str(page)) for page in range(2000)]
    assert 0.66 < splits.count("dev") / len(splits) < 0.74


def test_plain_text_separates_blocks_and_drops_markup():
    html = "<h2>Termin</h2><p>Rufen Sie <a href='tel:08213102'>uns</a> an.<br>Danke</p>"

    assert bench.plain(html) == "Termin Rufen Sie uns an. Danke"


def test_gazetteer_reads_towns_after_postal_codes_and_every_kind_of_value():
    gazetteer = bench.build_gazetteer("lkaugsburg", [DONOR_PAGE])

    assert {"Augsburg", "Gersthofen", "Landkreis Augsburg"} <= set(gazetteer.names)
    kinds = {kind for kind, _ in gazetteer.values}
    assert kinds == {"postal_code", "phone", "email", "url", "domain", "street_address"}
    assert ("phone", "082131020") in gazetteer.values
    assert ("street_address", "bahnhofstr.") in gazetteer.values


def test_the_tail_of_a_phone_number_is_no_postal_code_and_an_english_word_no_town():
    gazetteer = bench.build_gazetteer(
        "muenchen", ["Telefon 089 233 96010 Montag"], ["Phone 089 233 96010 Monday"]
    )

    assert not {kind for kind, _ in gazetteer.values} & {"postal_code"}
    assert "Monday" not in gazetteer.names and "Montag" not in gazetteer.names


def test_a_donor_phone_and_town_in_the_draft_leak_unless_the_source_has_them():
    gazetteer = bench.build_gazetteer("lkaugsburg", [DONOR_PAGE])
    draft = "Call the immigration office in Gersthofen: 0821 3102-0."

    leaks = bench.leaked_details(draft, "Rufen Sie die Ausländerbehörde an.", gazetteer)
    own = bench.leaked_details(draft, "Ausländerbehörde Gersthofen, Tel. 0821/3102-0", gazetteer)

    assert {(leak.kind, leak.value) for leak in leaks} == {
        ("phone", "082131020"),
        ("name", "Gersthofen"),
    }
    assert own == []


def test_a_mangled_donor_phone_and_a_mangled_donor_address_still_leak():
    gazetteer = bench.build_gazetteer("lkaugsburg", [DONOR_PAGE])

    leaks = bench.leaked_details("0 8213 1020 or a uslaenderamt@lra-a.bayern.de", "Amt", gazetteer)

    assert {(leak.kind, leak.value) for leak in leaks} == {
        ("phone", "082131020"),
        ("domain", "lra-a.bayern.de"),
    }


def test_a_phone_at_the_end_of_a_line_does_not_run_into_the_next_number():
    gazetteer = bench.build_gazetteer("muenchen", ["Notdienst 089/19240"])

    assert bench.leaked_details("089/19240", "Notdienst\n089/19240\n116117", gazetteer) == []


def test_numbers_the_german_segment_lacks_are_reported():
    assert bench.foreign_numbers("Mondays: 6.00 - 7.30 p.m.", "Montag 14:00 - 18:00") == [
        "7",
        "30",
    ]
    assert bench.foreign_numbers("Monday 08:00 - 16:00", "Montag 8:00 - 16:00 Uhr") == []
    assert bench.foreign_numbers("Tuesdays: 12 - 6 p.m.", "Dienstag 12:00 - 18:00") == []


def test_an_english_alias_of_the_donor_town_counts_as_present_in_the_source():
    gazetteer = bench.build_gazetteer("muenchen", ["80331 München", "80331 Munich"])

    leaks = bench.leaked_details("Contact the office in Munich.", "Amt in München.", gazetteer)

    assert leaks == []


def test_a_foreign_local_detail_penalty_naming_the_value_flags_the_leak():
    leak = bench.Leak("phone", "082131020")
    candidate = {
        "text": "Call 0821 3102-0.",
        "penalties": [
            {"code": "unreviewed", "amount": 2, "detail": "not reviewed"},
            {"code": "foreign_local_detail", "amount": 10, "detail": "phone 0821 3102-0"},
        ],
    }
    unflagged = {"text": "Call 0821 3102-0.", "penalties": [{"code": "other_region"}]}

    assert bench.is_flagged(leak, list(bench._flag_texts(candidate)))
    assert not bench.is_flagged(leak, list(bench._flag_texts(unflagged)))


def test_chrf_of_identical_text_is_100_and_of_untranslated_text_low():
    reference = ["You must register your residence within two weeks."]

    assert bench.chrf_corpus(reference, reference) == 100.0
    german = ["Sie müssen Ihren Wohnsitz innerhalb von zwei Wochen anmelden."]
    assert bench.chrf_corpus(german, reference) < 30


def test_a_draft_marker_or_a_listed_span_flags_a_street_however_it_is_spelt():
    leak = bench.Leak("street_address", "wertachstr.")
    candidate = {"local_details": [{"kind": "address", "span": "Wertachstraße 11 a"}]}
    html = '<p>Visit <mark data-local-detail="address">Wertachstraße 11 a</mark>.</p>'

    assert bench.is_flagged(leak, list(bench._flag_texts(candidate)))
    assert bench.is_flagged(leak, bench._marked_html_texts(html))
