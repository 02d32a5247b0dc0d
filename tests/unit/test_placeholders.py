"""Local specifics become typed placeholders, and the query's values go into stored translations."""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from matchers.normalise import normalise_for_matching
from matchers.placeholders import extract_placeholders, transfer_placeholders


def kinds_and_values(text: str) -> list[tuple[str, str]]:
    return [(p.kind, p.value) for p in extract_placeholders(text).values]


@pytest.mark.parametrize(
    "phone", ["07151 501-0", "0821 3102-0", "+49 821 3102 0", "(0821) 310 20", "0821/3102-0"]
)
def test_german_phone_formats_are_one_phone_placeholder(phone: str):
    form = extract_placeholders(f"Rufen Sie uns an: {phone}.")
    assert form.form == "Rufen Sie uns an: {PHONE}."
    assert [(p.kind, p.value) for p in form.values] == [("PHONE", phone)]


def test_placeholder_offsets_point_into_the_original_text():
    text = "Termin am 01.02.2024 um 8:00 Uhr, Gebühr 12,50 €"
    for placeholder in extract_placeholders(text).values:
        assert text[placeholder.start : placeholder.end] == placeholder.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("am 01.02.2024", [("DATE", "01.02.2024")]),
        ("am 1. Februar 2024", [("DATE", "1. Februar 2024")]),
        ("um 8:00", [("TIME", "8:00")]),
        ("ab 8.30 Uhr", [("TIME", "8.30")]),
        ("von 08:00–12:00 Uhr", [("TIME", "08:00"), ("TIME", "12:00")]),
        ("kostet 12,50 €", [("AMOUNT", "12,50 €")]),
        ("kostet 50 Euro", [("AMOUNT", "50 Euro")]),
        ("für 3 Kinder", [("NUM", "3")]),
        ("in 01067 Dresden", [("NUM", "01067")]),  # too few digits for a phone number
        (
            "siehe https://www.landkreis-augsburg.de/soziales.",
            [("URL", "https://www.landkreis-augsburg.de/soziales")],
        ),
        ("Mail an info@lra-a.bayern.de", [("EMAIL", "info@lra-a.bayern.de")]),
    ],
)
def test_local_specifics_are_recognised_by_kind(text: str, expected: list[tuple[str, str]]):
    assert kinds_and_values(text) == expected


def test_phone_in_eastern_arabic_digits_is_recognised():
    assert kinds_and_values("هاتف ٠٨٢١ ٣١٠٢-٠") == [("PHONE", "٠٨٢١ ٣١٠٢-٠")]


def test_sentences_differing_only_in_local_specifics_share_a_form():
    a = extract_placeholders(
        "Das Bürgerbüro ist am 01.02.2024 ab 8:00 Uhr unter 0821 3102-0 erreichbar."
    )
    b = extract_placeholders(
        "Das Bürgerbüro ist am 3.4.2025 ab 9:30 Uhr unter 07151 501-0 erreichbar."
    )
    assert normalise_for_matching(a.form, "de") == normalise_for_matching(b.form, "de")


def transfer(stored_source: str, stored_target: str, query: str, language: str = "en"):
    return transfer_placeholders(
        extract_placeholders(stored_source).values,
        stored_target,
        extract_placeholders(query).values,
        language,
    )


def test_phone_number_of_the_query_replaces_the_stored_one():
    text, mismatches = transfer(
        "Rufen Sie uns an: 07151 501-0", "Call us: 07151 501-0", "Rufen Sie uns an: 0821 3102-0"
    )
    assert text == "Call us: 0821 3102-0"
    assert mismatches == ()


def test_eastern_arabic_digits_of_the_stored_translation_are_kept():
    text, mismatches = transfer(
        "Rufen Sie uns an: 07151 501-0",
        "اتصل بنا: ٠٧١٥١ ٥٠١-٠",
        "Rufen Sie uns an: 0821 3102-0",
        "ar",
    )
    assert text == "اتصل بنا: ٠٨٢١ ٣١٠٢-٠"
    assert mismatches == ()


def test_persian_digits_of_the_stored_translation_are_kept():
    text, _ = transfer(
        "Ab 8:00 Uhr geöffnet.", "از ساعت ۸:۰۰ باز است.", "Ab 9:30 Uhr geöffnet.", "fa"
    )
    assert text == "از ساعت ۹:۳۰ باز است."


def test_values_pair_by_order_within_kind():
    text, _ = transfer(
        "Geöffnet von 8:00 bis 12:00 Uhr, Tel. 0821 3102-0",
        "Open from 8:00 to 12:00, phone 0821 3102-0",
        "Geöffnet von 9:00 bis 13:30 Uhr, Tel. 07151 501-0",
    )
    assert text == "Open from 9:00 to 13:30, phone 07151 501-0"


def test_separators_of_the_translation_are_kept_for_a_reformatted_value():
    text, mismatches = transfer(
        "Die Gebühr beträgt 12,50 €.", "The fee is €12.50.", "Die Gebühr beträgt 7,00 €."
    )
    assert text == "The fee is €7.00."
    assert mismatches == ()


def test_value_missing_from_the_translation_is_reported():
    text, mismatches = transfer(
        "Die Gebühr beträgt 12,50 €.", "There is a fee.", "Die Gebühr beträgt 7,00 €."
    )
    assert text == "There is a fee."
    assert [(m.kind, m.reason) for m in mismatches] == [("AMOUNT", "not_in_target")]


def test_extra_and_missing_placeholders_are_reported():
    _, extra = transfer("Rufen Sie uns an.", "Call us.", "Rufen Sie uns an: 0821 3102-0")
    _, missing = transfer(
        "Rufen Sie uns an: 0821 3102-0", "Call us: 0821 3102-0", "Rufen Sie uns an."
    )
    assert [(m.kind, m.reason) for m in extra] == [("PHONE", "extra_in_query")]
    assert [(m.kind, m.reason, m.value) for m in missing] == [
        ("PHONE", "missing_in_query", "0821 3102-0")
    ]


@pytest.mark.parametrize("written", ["08213448411", "+4982131022813", "017647320738"])
def test_unbroken_phone_numbers_are_phones_too(written: str):
    assert [v.kind for v in extract_placeholders(f"Termin unter: {written}").values] == ["PHONE"]


@pytest.mark.parametrize("number", ["01067", "0123", "2024", "0,50"])
def test_short_numbers_and_postcodes_stay_numbers(number: str):
    assert [v.kind for v in extract_placeholders(f"Die Zahl {number} hier").values] == ["NUM"]


def test_a_neighbours_spaced_number_replaces_an_unbroken_one():
    stored = extract_placeholders("Termin unter: 08213448411 oder 017647320738").values
    query = extract_placeholders("Termin unter: 08251 998877 oder 017647320738").values
    text, mismatches = transfer_placeholders(
        stored, "Appointments: <g1>08213448411</g1> or <g2>017647320738</g2>", query, "en"
    )
    assert text == "Appointments: <g1>08251 998877</g1> or <g2>017647320738</g2>"
    assert mismatches == ()


# --- inline markup and longer numbers are never edited ---------------------------


def test_a_number_in_the_inline_markup_is_never_replaced():
    stored = extract_placeholders("Die Kurse dauern zwischen 1 und 15 Wochen.").values
    query = extract_placeholders("Die Kurse dauern zwischen 2 und 15 Wochen.").values
    text, mismatches = transfer_placeholders(
        stored, "The <g1>courses</g1> last between 1 and 15 weeks.", query, "en"
    )
    assert text == "The <g1>courses</g1> last between 2 and 15 weeks."
    assert mismatches == ()


def test_a_value_is_not_found_inside_a_longer_number():
    text, mismatches = transfer(
        "Zwischen 15 und 1 Wochen.", "Between 15 and 1 weeks.", "Zwischen 15 und 2 Wochen."
    )
    assert text == "Between 15 and 2 weeks."
    assert mismatches == ()


# --- times arrive as valid times in the translation's clock, or as mismatches -----


@pytest.mark.parametrize(
    ("stored_source", "stored_target", "query", "expected"),
    [
        (
            "Montag - Freitag: 14 Uhr bis 24 Uhr",
            "Monday - Friday: 2pm until midnight",
            "Montag - Freitag: 15 Uhr bis 24 Uhr",
            "Monday - Friday: 3pm until midnight",
        ),
        (
            "Montag - Freitag: 8 Uhr bis 12 Uhr",
            "Monday - Friday: 8 am to 12 pm",
            "Montag - Freitag: 15 Uhr bis 24 Uhr",
            "Monday - Friday: 3 pm to 12 am",
        ),
        ("ab 8:30 Uhr", "from 8:30 a.m.", "ab 13.45 Uhr", "from 1:45 p.m."),
        ("ab 8 Uhr", "from 8 AM", "ab 20:15 Uhr", "from 8:15 PM"),
        ("von 10 bis 12 Uhr", "from 10 am to 12 noon", "von 10 bis 13 Uhr", "from 10 am to 1 pm"),
        ("bis 12 Uhr", "until 12 noon", "bis 24 Uhr", "until midnight"),
        # The first hour of a range shares the second one's marker while the periods agree.
        ("von 15 bis 17 Uhr", "from 3 to 5 pm", "von 16 bis 18 Uhr", "from 4 to 6 pm"),
        ("von 15 bis 17 Uhr", "from 3 to 5 pm", "von 9 bis 17 Uhr", "from 9 am to 5 pm"),
        ("von 15 bis 17 Uhr", "from 3 to 5 pm", "von 15 bis 11 Uhr", "from 3 pm to 11 am"),
        # The 24-hour clock stays a 24-hour clock, leading zero and all.
        ("ab 8 Uhr", "from 08:00", "ab 9.30 Uhr", "from 09:30"),
        ("ab 8 Uhr", "à partir de 8h", "ab 9:30 Uhr", "à partir de 9h30"),
        ("16 - 18 Uhr", "16 - 18 Uhr", "9 - 24 Uhr", "9 - 24 Uhr"),
    ],
)
def test_a_query_time_is_written_in_the_clock_of_the_translation(
    stored_source: str, stored_target: str, query: str, expected: str
):
    text, mismatches = transfer(stored_source, stored_target, query)
    assert text == expected
    assert mismatches == ()


def test_a_query_time_that_is_no_time_is_a_mismatch_and_the_stored_time_stays():
    text, mismatches = transfer("ab 8:00 Uhr", "from 8 am", "ab 25:00 Uhr")
    assert text == "from 8 am"
    assert [(m.kind, m.reason, m.value) for m in mismatches] == [
        ("TIME", "invalid_in_query", "25:00")
    ]


def test_a_stored_time_the_translation_lacks_is_a_mismatch():
    text, mismatches = transfer("ab 14 Uhr", "in the afternoon", "ab 15 Uhr")
    assert text == "in the afternoon"
    assert [(m.kind, m.reason) for m in mismatches] == [("TIME", "not_in_target")]


def test_a_number_is_never_written_into_a_12_hour_time():
    # No "Uhr": the source's hours read as plain numbers, and "15 am" must not come out.
    text, mismatches = transfer("ab 8 bis 12", "from 8 am to 12 pm", "ab 15 bis 24")
    assert text == "from 8 am to 12 pm"
    assert [(m.kind, m.reason) for m in mismatches] == [
        ("NUM", "not_in_target"),
        ("NUM", "not_in_target"),
    ]


@pytest.mark.parametrize("text", ["von 16 bis 19 Uhr", "16-19 Uhr", "16 – 19:30 Uhr"])
def test_both_hours_of_a_range_are_times(text: str):
    assert [kind for kind, _ in kinds_and_values(text)] == ["TIME", "TIME"]


# Pieces of values and words, joined at random: dates, times, amounts, phones, URLs, numbers.
_PIECES = [
    *"0123456789",
    *"٠١٢۰۱۲",
    *" .,:-–/+()",
    "€",
    "Euro",
    "EUR",
    "Uhr",
    "h",
    " bis ",
    "März",
    "Jan.",
    "www.",
    "https://",
    "http://",
    "amt.de",
    "Abc",
    "wohnen",
    "\u00a0",
    "(0821)",
    "+49",
    "0821",
    "3102",
    "12,50",
    "01.02.2024",
    "8:00",
]


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=25).map("".join))
@example("Tel. (0821) 310 20, www.amt.de, 12 EUR, Euro 5, +4982131022813 ab 8 Uhr")
def test_the_fast_pattern_for_texts_without_an_at_sign_finds_what_the_full_one_finds(text: str):
    """A text without "@" is read by a pattern without EMAIL behind a first-character lookahead
    (10× faster); it must match exactly where and what the full pattern matches."""
    from matchers.placeholders import _COMBINED, _WITHOUT_EMAIL

    def spans(pattern):
        return [(m.lastgroup, m.start(), m.end()) for m in pattern.finditer(text)]

    assert spans(_WITHOUT_EMAIL) == spans(_COMBINED)
