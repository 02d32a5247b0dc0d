"""Local details of a region (its gazetteer) and the check of another region's candidate, on
real Landkreis Augsburg and München pages."""

from __future__ import annotations

import json
from functools import cache

import pytest

from matchers.local_details import (
    Gazetteer,
    GazetteerEntry,
    RegionTexts,
    check_candidate,
    derive_names,
    detail_key,
    detect_details,
    distinctive,
    gather_entries,
    occurrences,
    phone_key,
)
from memory.segmentation import html_to_text
from tests.conftest import CORPUS


@cache
def pages(region: str, language: str = "de") -> dict[int, dict]:
    with open(CORPUS / region / f"{language}_pages.json", encoding="utf-8") as file:
        return {page["id"]: page for page in json.load(file)}


def text_of(page: dict) -> str:
    return page["title"] + "\n" + html_to_text(page["content"] or "")


@cache
def region_texts(region: str) -> RegionTexts:
    texts = [text_of(page) for page in pages(region).values()]
    return RegionTexts(region, [], texts)


@cache
def gazetteer(region: str) -> Gazetteer:
    """A region's gazetteer as a build makes it: both real regions, each filtered by the other."""
    other = "muenchen" if region == "lkaugsburg" else "lkaugsburg"
    own = region_texts(region)
    found = gather_entries(own)
    shared = occurrences(found, region_texts(other).texts)
    keep = {("place", "augsburg"), ("place", "münchen")}
    others = [(len(region_texts(other).texts), shared)]
    return Gazetteer(region, distinctive(found, len(own.texts), others, keep))


def values(gazetteer: Gazetteer, kind: str) -> set[str]:
    return {entry.value for entry in gazetteer.entries if entry.kind == kind}


def test_augsburg_gazetteer_holds_its_name_towns_postal_codes_offices_and_contacts():
    augsburg = gazetteer("lkaugsburg")
    # The slug spells the region's name; towns come after the county's own postal codes.
    assert {"Augsburg", "Schwabmünchen", "Gersthofen", "Königsbrunn"} <= values(augsburg, "place")
    assert {"86150 Augsburg", "86830 Schwabmünchen"} <= values(augsburg, "postal_code_town")
    assert {"Landratsamt Augsburg", "Jobcenter Augsburg"} <= values(augsburg, "office")
    assert "Prinzregentenplatz 4" in values(augsburg, "address")
    assert "landkreis-augsburg.de" in values(augsburg, "url")
    assert "auslaenderamt@LRA-a.bayern.de" in values(augsburg, "email")
    assert augsburg.has("phone", "+4982131020")  # the district office's switchboard


def test_postal_codes_of_other_areas_are_not_the_region_s_own():
    augsburg = gazetteer("lkaugsburg")
    postal = values(augsburg, "postal_code_town")
    # Landkreis Augsburg's pages also give a federal office in Berlin and one in München.
    assert "10117 Berlin" not in postal
    assert "81673 München" not in postal
    assert not {"Berlin", "München"} & values(augsburg, "place")


def test_details_both_regions_name_are_nobody_s_local_detail():
    augsburg, muenchen = gazetteer("lkaugsburg"), gazetteer("muenchen")
    for shared in ("bamf.de", "hilfetelefon.de"):
        assert not augsburg.has("url", shared)
        assert not muenchen.has("url", shared)
    assert not augsburg.has("email", "service@bamf.bund.de")


def test_muenchen_gazetteer_has_its_name_its_adjective_and_its_offices():
    muenchen = gazetteer("muenchen")
    assert {"München", "Münchner"} <= values(muenchen, "place")
    assert {"Stadt München", "Jobcenter München"} <= values(muenchen, "office")
    assert "80331 München" in values(muenchen, "postal_code_town")


def test_phone_keys_are_equal_in_every_notation():
    assert phone_key("0821 3102-0") == phone_key("+49 821 31020") == "+4982131020"
    assert phone_key("089/480060") == phone_key("+49 (0) 89 48 00 60")
    assert phone_key("86150") is None  # a postal code


def test_query_details_by_form_a_real_muenchen_address_line():
    found = detect_details("Lindenschmitstraße 37, 81371 München, Tel. 089/7676-0")
    assert [(d.kind, d.value) for d in found] == [
        ("address", "Lindenschmitstraße 37"),
        ("postal_code_town", "81371 München"),
        ("phone", "089/7676-0"),
    ]


def test_recipient_address_replaces_the_donor_s_town_and_street():
    # Real lines: an Augsburg hospital address, and München's pro familia address. The memory
    # put the query's numbers in already, so the town was all that still said "Augsburg".
    query = "Lindenschmitstraße 37, 81371 München"
    source = "Weidenhartstraße 35, 86830 Schwabmünchen"
    target = "Weidenhartstraße 37, 81371 Schwabmünchen"
    check = check_candidate(
        query,
        source,
        target,
        gazetteer("lkaugsburg"),
        gazetteer("muenchen"),
        source_language="de",
        target_language="en",
    )
    assert check.text == "Lindenschmitstraße 37, 81371 München"
    assert {(f.kind, f.status) for f in check.findings} == {
        ("address", "replaced"),
        ("postal_code_town", "replaced"),
    }


def test_a_donor_place_the_query_lacks_is_left_for_review_in_the_target():
    # Real segments: München's "Staatlich anerkannte Beratungsstellen für Schwangerschaftsfragen"
    # and Landkreis Augsburg's sentence naming its own pro familia.
    augsburg = pages("lkaugsburg")[5600130]
    assert "pro familia Augsburg" in augsburg["content"]
    check = check_candidate(
        "Staatlich anerkannte Beratungsstellen für Schwangerschaftsfragen",
        "Staatlich anerkannte Beratungsstelle für Schwangerschafts-Fragen "
        "pro familia Augsburg e.V.",
        "State-approved counselling centre for pregnancy issues pro familia Augsburg e.V.",
        gazetteer("lkaugsburg"),
        gazetteer("muenchen"),
        source_language="de",
        target_language="en",
    )
    assert check.text.endswith("pro familia Augsburg e.V.")
    [finding] = check.findings
    assert (finding.kind, finding.value, finding.span, finding.status) == (
        "place",
        "Augsburg",
        "Augsburg",
        "review",
    )
    assert check.text[finding.start : finding.end] == "Augsburg"


def test_the_query_s_own_place_goes_into_a_sentence_about_the_donor():
    # Real: München's "Über integreat" and Landkreis Augsburg's "Zur Integreat-App".
    query = "Dieser Leitfaden unterstützt Sie in Ihrem Alltag in München."
    assert query in html_to_text(pages("muenchen")[261520]["content"])
    munich = Gazetteer(
        "muenchen",
        [
            GazetteerEntry(e.kind, e.value, e.key, {"en": "Munich"}, e.frequency)
            if e.value == "München"
            else e
            for e in gazetteer("muenchen").entries
        ],
    )
    check = check_candidate(
        query,
        "Dieser Leitfaden unterstützt Dich in Deinem Alltag im Landkreis Augsburg.",
        "This guide supports you in your everyday life in the district of Augsburg.",
        gazetteer("lkaugsburg"),
        munich,
        source_language="de",
        target_language="en",
    )
    assert check.text == "This guide supports you in your everyday life in the district of Munich."
    assert [f.status for f in check.findings] == ["replaced"]


def test_a_translated_office_name_takes_the_query_s_office_of_the_same_type():
    check = check_candidate(
        "Wenden Sie sich an das Jobcenter München.",
        "Wende Dich an das Jobcenter Augsburg.",
        "Contact the Augsburg Job Centre.",
        gazetteer("lkaugsburg"),
        gazetteer("muenchen"),
        source_language="de",
        target_language="en",
    )
    assert check.text == "Contact the München Job Centre."
    [finding] = check.findings
    assert (finding.kind, finding.status, finding.replacement) == (
        "office",
        "replaced",
        "München Job Centre",
    )


def test_another_type_of_office_is_not_put_in_but_marked():
    check = check_candidate(
        "Wenden Sie sich an das Jobcenter München.",
        "Wende Dich an das Landratsamt Augsburg.",
        "Contact the District Office of Augsburg.",
        gazetteer("lkaugsburg"),
        gazetteer("muenchen"),
        source_language="de",
        target_language="en",
    )
    assert check.text == "Contact the District Office of Augsburg."
    [finding] = check.findings
    assert (finding.span, finding.status) == ("District Office of Augsburg", "review")


def test_donor_phone_and_web_address_the_query_lacks_are_marked():
    check = check_candidate(
        "Weitere Informationen erhalten Sie bei der Beratungsstelle.",
        "Weitere Informationen unter 0821 3102-0 oder www.landkreis-augsburg.de",
        "More information at 0821 3102-0 or www.landkreis-augsburg.de/integration",
        gazetteer("lkaugsburg"),
        gazetteer("muenchen"),
        source_language="de",
        target_language="en",
    )
    assert [(f.kind, f.span, f.status) for f in check.findings] == [
        ("phone", "0821 3102-0", "review"),
        ("url", "www.landkreis-augsburg.de/integration", "review"),
    ]


def test_a_detail_the_query_has_too_is_no_leak():
    # München's page on Faire Integration names the Augsburg office that serves it.
    query = "Wertachstraße 29 a, 86153 Augsburg"
    assert query in html_to_text(pages("muenchen")[2090284]["content"])
    check = check_candidate(
        query,
        "Wertachstraße 29, 86153 Augsburg",
        "Wertachstraße 29 a, 86153 Augsburg",
        gazetteer("lkaugsburg"),
        gazetteer("muenchen"),
    )
    assert check.findings == ()
    assert check.text == "Wertachstraße 29 a, 86153 Augsburg"


def test_place_names_in_english_are_learnt_from_aligned_pages():
    # German and English München pages linked with high confidence (no sentence alignment).
    with open(CORPUS / "muenchen" / "de_en_links.json", encoding="utf-8") as file:
        links = json.load(file)
    english = pages("muenchen", "en")
    pairs = [
        (text_of(pages("muenchen")[link["de_id"]]), text_of(english[link["en_id"]]))
        for link in links
        if link["confidence"] == "high"
        and link["de_id"] in pages("muenchen")
        and link["en_id"] in english
    ]
    assert len(pairs) > 100
    assert derive_names(["München", "Münchner"], pairs)["München"] == "Munich"


@pytest.mark.parametrize(
    ("kind", "a", "b"),
    [
        ("address", "Volkhartstr. 4", "Volkhartstraße 4"),
        ("url", "https://www.landkreis-augsburg.de/x", "landkreis-augsburg.de"),
        ("email", "Auslaenderamt@LRA-a.bayern.de", "auslaenderamt@lra-a.bayern.de"),
        ("office", "Landratsamt  Augsburg", "landratsamt augsburg"),
    ],
)
def test_detail_keys_compare_spellings(kind, a, b):
    assert detail_key(kind, a) == detail_key(kind, b)
