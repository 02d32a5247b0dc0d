"""Fragment assembly (matchers.fragments): phrases of a segment, calendar names from CLDR, and
the longest pieces put in without overlaps."""

from __future__ import annotations

from matchers.fragments import Piece, assemble, calendar_pieces, fitted, phrases

# From München's page on opening hours of an advice centre (Integreat, CC BY 4.0).
HOURS = "Öffnungszeiten: Montag bis Freitag 9:00 - 12:00 Uhr, Mi. 14-16 Uhr"


def test_phrases_stay_within_a_stretch_between_inline_tags():
    texts = {p.text for p in phrases("Termin unter <g1>0821 3102</g1> vereinbaren")}
    assert "Termin unter" in texts and "vereinbaren" in texts
    assert not any("unter 0821" in t or "3102 vereinbaren" in t for t in texts)


def test_a_phrase_is_also_offered_with_the_colon_that_follows_it():
    texts = {p.text for p in phrases(HOURS)}
    assert {"Öffnungszeiten", "Öffnungszeiten:"} <= texts


def test_phrases_are_at_most_four_words():
    # Longer units are found through the segment's clauses.
    text = " ".join(f"w{i}" for i in range(20))
    assert max(p.words for p in phrases(text)) == 4


def test_day_names_come_from_cldr_in_the_target_language():
    pieces = calendar_pieces(HOURS, "de", "en")
    assert [(p.source, p.target) for p in pieces] == [
        ("Montag", "Monday"),
        ("Freitag", "Friday"),
        ("Mi.", "Wed"),
    ]
    arabic = calendar_pieces("Montag", "de", "ar")
    assert arabic[0].target == "الاثنين"


def test_a_word_spelt_like_an_abbreviation_is_left_alone():
    assert calendar_pieces("So können Sie uns erreichen.", "de", "en") == []
    assert [p.target for p in calendar_pieces("So. geschlossen", "de", "en")] == ["Sun"]


def test_month_names_and_unknown_languages():
    assert [p.target for p in calendar_pieces("ab 1. Januar 2023", "de", "en")] == ["January"]
    assert calendar_pieces("Montag", "de", "xx-nonsense") == []


def test_longest_pieces_win_and_none_overlap():
    text = "Kosten: Die Beratung ist kostenlos"
    pieces = [
        Piece(0, 7, "Kosten:", "Costs:", 1),
        Piece(8, 34, "Die Beratung ist kostenlos", "The counselling is free", 4),
        Piece(12, 20, "Beratung", "advice", 1),
    ]
    assembly = assemble(text, pieces)
    assert assembly is not None
    assert assembly.text == "Costs: The counselling is free"
    assert assembly.covered == 5 and assembly.words == 5 and assembly.share == 1.0


def test_nothing_changed_is_no_assembly():
    assert assemble("Augsburg", [Piece(0, 8, "Augsburg", "Augsburg", 1)]) is None


def test_a_translation_is_fitted_to_its_place_in_the_sentence():
    text = "Die Beratung ist kostenlos und vertraulich."
    phrase = next(p for p in phrases(text) if p.text == "kostenlos und vertraulich")
    # Mid-sentence and lower case in the query: the unit's sentence start is not kept, nor
    # its full stop.
    assert fitted("Free and confidential.", phrase, text) == "free and confidential"
    with_stop = next(p for p in phrases(text) if p.text == "kostenlos und vertraulich.")
    assert fitted("Free and confidential.", with_stop, text) == "free and confidential."
    # An acronym keeps its capitals; a German noun says nothing of the English case.
    assert fitted("EU citizens", phrase, text) == "EU citizens"
    noun = next(p for p in phrases(text) if p.text == "Beratung")
    assert fitted("Counselling", noun, text) == "Counselling"
    first = next(p for p in phrases("Bitte kommen Sie") if p.text == "Bitte")
    assert fitted("please", first, "Bitte kommen Sie") == "Please"
