"""Normalisation for matching: variants a translator would call "the same text" compare equal."""

import pytest

from matchers.normalise import digits_to_ascii, normalise_for_matching


@pytest.mark.parametrize(
    ("variant_a", "variant_b", "language"),
    [
        ("علي", "على", "ar"),  # yeh vs alef maksura
        ("کتاب", "كتاب", "fa"),  # keheh vs Arabic kaf
        ("ایران", "ايران", "fa"),  # Farsi yeh vs Arabic yeh
        ("أحمد", "احمد", "ar"),  # alef with hamza
        ("إسلام", "اسلام", "ar"),
        ("مدرسة", "مدرسه", "ar"),  # teh marbuta vs heh
        ("مُدَرِّسَة", "مدرسة", "ar"),  # harakat
        ("مـــدرسة", "مدرسة", "ar"),  # tatweel
        ("می‌خواهم", "میخواهم", "fa"),  # zero-width non-joiner
    ],
)
def test_arabic_and_persian_letter_variants_match(variant_a: str, variant_b: str, language: str):
    assert normalise_for_matching(variant_a, language) == normalise_for_matching(
        variant_b, language
    )


def test_teh_marbuta_stays_distinct_where_heh_letters_are_not_variants():
    # Sorani Kurdish distinguishes the heh family, so no unification there.
    assert normalise_for_matching("ة", "ckb") != normalise_for_matching("ه", "ckb")


@pytest.mark.parametrize("spelling", ["İstanbul", "ISTANBUL", "istanbul", "Istanbul", "ıstanbul"])
def test_turkish_dotted_and_dotless_i_match_in_every_case(spelling: str):
    assert normalise_for_matching(spelling, "tr") == "istanbul"


def test_turkish_capital_dotted_i_does_not_leave_a_combining_dot():
    assert "\u0307" not in normalise_for_matching("İZMİR", "de")


def test_decomposed_umlaut_equals_composed():
    assert normalise_for_matching("Mu\u0308nchen", "de") == normalise_for_matching("München", "de")


def test_typographic_quotes_apostrophes_and_dashes_become_ascii():
    text = "„Bürgerbüro“ – Öffnungszeiten ‚heute‘ — Anna’s Termin"
    assert (
        normalise_for_matching(text, "de")
        == "\"bürgerbüro\" - öffnungszeiten 'heute' - anna's termin"
    )


def test_whitespace_and_soft_hyphens_collapse():
    assert normalise_for_matching("  Kinder\u00adgarten \u00a0 und\n\tSchule ", "de") == (
        "kindergarten und schule"
    )


def test_casefold_handles_sharp_s():
    assert normalise_for_matching("STRASSE", "de") == normalise_for_matching("Straße", "de")


def test_placeholder_tokens_survive_normalisation():
    assert normalise_for_matching("Rufen Sie uns an: {PHONE} ab {TIME} Uhr", "tr") == (
        "rufen sie uns an: {PHONE} ab {TIME} uhr"
    )


def test_digits_are_left_alone_by_normalisation():
    assert normalise_for_matching("٠٨٢١", "ar") == "٠٨٢١"


def test_eastern_arabic_and_persian_digits_to_ascii():
    assert digits_to_ascii("٠٨٢١ ٣١٠٢-٠ / ۰۸۲۱ ۴۵۶") == "0821 3102-0 / 0821 456"
