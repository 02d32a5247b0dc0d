"""QA checks of a translation against its source: what a CAT tool flags before a decision."""

from __future__ import annotations

import pytest

from matchers.qa_checks import check_translation


def codes(source: str, target: str, **kwargs) -> list[str]:
    return [f.code for f in check_translation(source, target, **kwargs)]


def test_a_faithful_translation_passes_every_check():
    assert (
        codes(
            "Rufen Sie uns an: 0911 231-0 oder schreiben Sie an info@nuernberg.de.",
            "Call us on 0911 231-0 or write to info@nuernberg.de.",
            source_language="de",
            target_language="en",
        )
        == []
    )


def test_an_edit_that_drops_the_phone_number_fails_the_phone_check():
    findings = check_translation(
        "Rufen Sie uns an: 0911 231-0.", "Call us.", source_language="de", target_language="en"
    )
    assert [(f.check, f.code, f.value) for f in findings] == [
        ("phone", "phone_missing", "0911 231-0")
    ]
    assert "0911 231-0" in findings[0].message


def test_a_phone_number_written_internationally_is_the_same_number():
    assert codes("Telefon: 0911 231-0.", "Phone: +49 911 2310.") == []


def test_a_changed_phone_number_is_missing_and_extra():
    assert codes("Telefon: 0911 231-0.", "Phone: 0911 231-1.") == ["phone_missing", "phone_extra"]


def test_numbers_and_amounts_compare_by_their_digits():
    assert (
        codes(
            "Der Kurs kostet 1.234,50 € für 12 Wochen.", "The course costs €1,234.50 for 12 weeks."
        )
        == []
    )
    assert codes("Der Kurs dauert 12 Wochen.", "The course lasts 13 weeks.") == [
        "number_missing",
        "number_extra",
    ]


@pytest.mark.parametrize(
    "target",
    [
        "Registration closes on 01.02.2024.",
        "Registration closes on 1 February 2024.",
        "Registration closes on February 1, 2024.",
        "Registration closes on 2024-02-01.",
    ],
)
def test_a_date_may_be_written_the_way_the_target_language_writes_it(target):
    assert codes("Die Anmeldung endet am 01.02.2024.", target) == []


def test_a_wrong_date_is_missing():
    assert codes("Die Anmeldung endet am 01.02.2024.", "Registration closes on 1 March 2024.") == [
        "date_missing"
    ]


@pytest.mark.parametrize("target", ["Open at 14:00.", "Open at 2 pm.", "Open at 2:00 p.m."])
def test_a_time_may_be_written_on_either_clock(target):
    assert codes("Geöffnet ab 14:00 Uhr.", target) == []


def test_a_wrong_time_is_missing():
    assert codes("Geöffnet ab 14:00 Uhr.", "Open from 3 pm.") == ["time_missing"]


def test_urls_and_emails_missing_or_extra():
    assert (
        codes(
            "Mehr unter https://www.nuernberg.de/anmeldung.",
            "More at https://nuernberg.de/anmeldung/.",
        )
        == []
    )
    assert codes("Mehr unter https://www.nuernberg.de/anmeldung.", "More online.") == [
        "url_missing"
    ]
    assert codes("Schreiben Sie an info@a.de.", "Write to info@b.de.") == [
        "email_missing",
        "email_extra",
    ]


def test_inline_tags_are_checked_when_the_target_carries_markup():
    source = "Termin unter <g1>0821 3102-0</g1> und <x2/> hier."
    assert codes(source, "Appointment at <g1>0821 3102-0</g1> and here.") == ["tag_missing"]
    assert codes(source, "Appointment at 0821 3102-0 and here.") == []  # a plain-text edit
    assert codes(source, "Appointment at 0821 3102-0 and here.", markup=True) == [
        "tag_missing",
        "tag_missing",
        "tag_missing",
    ]


def test_the_source_left_in_the_target_is_untranslated():
    assert codes(
        "Bringen Sie Ihren Pass mit.",
        "Bringen Sie Ihren Pass mit.",
        source_language="de",
        target_language="en",
    ) == ["source_copied"]
    # A single word (a name) is often the same everywhere.
    assert codes("WhatsApp", "WhatsApp", source_language="de", target_language="en") == []


def test_whitespace_and_final_punctuation():
    assert codes("Bringen Sie Ihren Pass mit.", " Bring your  passport") == [
        "leading_space",
        "double_space",
        "end_punctuation",
    ]
    assert codes("Haben Sie Fragen?", "هل لديك أسئلة؟") == []
    assert codes("Haben Sie Fragen?", "Do you have questions.") == ["end_punctuation"]
    assert codes("„Willkommen!“", "“Welcome!”") == []


def test_arabic_indic_digits_count_as_the_same_number():
    assert codes("Die Sprechstunde ist in Raum 12.", "الاستشارة في الغرفة ١٢.") == []


def test_an_abbreviation_at_the_end_is_no_final_stop():
    # Landkreis Augsburg (Integreat, CC BY 4.0): "Montag bis Freitag 08:30 Uhr - 11:45 Uhr".
    assert (
        codes("Montag bis Freitag 08:30 Uhr - 11:45 Uhr", "Monday to Friday 8:30 - 11:45 a.m.")
        == []
    )
    assert (
        codes(
            "Regulärer Unterricht von 17:30 bis 21:05 Uhr,", "Regular lessons from 17:30 to 21:05,"
        )
        == []
    )
    assert codes("Zwischen 14 und 15 Uhr.", "Between 2 and 3 pm.") == []


# A unit of the Landkreis Augsburg corpus (Integreat, Tür an Tür – Digitalfabrik gGmbH and
# Landkreis Augsburg, CC BY 4.0): German page → its published English translation.
CORPUS_DE = (
    "Fa. Alois Strohmayr Am Graben 15, 86391 Stadtbergen 0821 431015 info@strohmayr-architekten.de"
)
CORPUS_EN = (
    "Alois Strohmayr Company Am Graben 15, 86391 Stadtbergen 0821 431015 "
    "info@strohmayr-architekten.de"
)


def test_a_published_corpus_translation_passes_and_dropping_its_phone_fails():
    """Landkreis Augsburg (Integreat dump, CC BY 4.0): the county's own translation passes."""
    assert codes(CORPUS_DE, CORPUS_EN, source_language="de", target_language="en") == []
    dropped = CORPUS_EN.replace(" 0821 431015", "")
    assert codes(CORPUS_DE, dropped, source_language="de", target_language="en") == [
        "phone_missing"
    ]
