"""Term recognition through inflection and compounds (simplemma's dictionaries)."""

from __future__ import annotations

import pytest

from matchers.terms import TermEntry, TermRecognizer

GERMAN = TermRecognizer(
    [
        TermEntry(1, "Bürgergeld", "de"),
        TermEntry(1, "Hartz IV", "de", "deprecated"),
        TermEntry(1, "Arbeitslosengeld II", "de", "deprecated"),
        TermEntry(2, "Jobcenter", "de"),
        TermEntry(3, "Ausländerbehörde", "de"),
        TermEntry(4, "Aufenthaltstitel", "de"),
        TermEntry(5, "Duldung", "de"),
    ],
    "de",
)


def found(recognizer: TermRecognizer, text: str) -> list[tuple[str, str]]:
    return [(hit.term, hit.surface) for hit in recognizer.find(text)]


@pytest.mark.parametrize(
    ("text", "term", "surface"),
    [
        ("Die Höhe des Bürgergeldes richtet sich nach dem Bedarf.", "Bürgergeld", "Bürgergeldes"),
        ("Den Bürgergeldantrag stellen Sie online.", "Bürgergeld", "Bürgergeld"),
        ("Wenden Sie sich an die Ausländerbehörden.", "Ausländerbehörde", "Ausländerbehörden"),
        (
            "Inhaber eines Aufenthaltstitels dürfen arbeiten.",
            "Aufenthaltstitel",
            "Aufenthaltstitels",
        ),
        ("Beim Jobcenters Eingang", "Jobcenter", "Jobcenters"),
        ("Hartz-IV-Empfänger erhalten seit 2023 Bürgergeld.", "Hartz IV", "Hartz-IV"),
        ("Wer Arbeitslosengeld II bezieht, …", "Arbeitslosengeld II", "Arbeitslosengeld II"),
        ("Duldungen werden befristet erteilt.", "Duldung", "Duldungen"),
    ],
)
def test_german_terms_are_found_inflected_and_in_compounds(text, term, surface):
    assert (term, surface) in found(GERMAN, text)


def test_offsets_point_at_what_the_text_says():
    text = "Beantragen Sie Bürgergeld beim Jobcenter."
    for hit in GERMAN.find(text):
        assert text[hit.start : hit.end] == hit.surface


@pytest.mark.parametrize(
    "text",
    [
        "Die Geldbörse liegt im Auto.",  # "geld" is no term; "Bürgergeld" is not in it
        "Hartz ist ein Mittelgebirge.",  # one word of a two-word term is not the term
        "Entschuldung und Schuldnerberatung",  # "Duldung" is not a part of "Entschuldung"
    ],
)
def test_words_that_only_share_letters_with_a_term_are_not_it(text):
    assert found(GERMAN, text) == []


def test_english_terms_are_found_through_plural_and_case():
    english = TermRecognizer(
        [
            TermEntry(1, "citizen's benefit", "en"),
            TermEntry(2, "immigration office", "en", "admitted"),
            TermEntry(1, "unemployment benefit II", "en", "deprecated"),
        ],
        "en",
    )
    hits = english.find("Apply for Citizen's Benefit at one of the immigration offices.")
    assert [(h.term, h.surface) for h in hits] == [
        ("citizen's benefit", "Citizen's Benefit"),
        ("immigration office", "immigration offices"),
    ]
    assert english.find("unemployment benefit II")[0].status == "deprecated"


def test_a_language_simplemma_does_not_know_matches_whole_words():
    recognizer = TermRecognizer([TermEntry(1, "Jobcenter", "xx")], "xx")
    assert found(recognizer, "im Jobcenter heute") == [("Jobcenter", "Jobcenter")]
    assert found(recognizer, "Jobcenterbesuch") == []
