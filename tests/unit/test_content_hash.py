"""Content hashes: the same text, however it is written, hashes equal; a visible change does not."""

import pytest

from memory.content_hash import content_hash


@pytest.mark.parametrize(
    ("stored", "resaved"),
    [
        ("<p>Gebühr für Kinder</p>", "<p>Geb&#252;hr f&uuml;r Kinder</p>"),
        ("<p>Schön</p>", "<p>Sch&#xf6;n</p>"),
        ("<p>8:00\u00a0Uhr</p>", "<p>8:00&#160;Uhr</p>"),
        ("<p>8:00\u00a0Uhr</p>", "<p>8:00&nbsp;Uhr</p>"),
        ("<p>Anmeldung im Bürgerbüro</p>", "<p> Anmeldung im Bürgerbüro</p>"),
        ("<p>Anmeldung</p>", "<p>\n  Anmeldung\n</p>"),
        ("<p>Anmeldung</p><p>Termin</p>", "<p>Anmeldung </p>\n\n<p> Termin</p>"),
        ("<li>Pass</li>", "<li>&#160;Pass&#160;</li>"),
        ("Zeile eins<br>Zeile zwei", "Zeile eins <br/> Zeile zwei"),
        ('<a href="https://a.de" title="A">A</a>', "<a title='A' href='https://a.de'>A</a>"),
        ('<a href="https://a.de/?a=1&amp;b=2">A</a>', '<a href="https://a.de/?a=1&b=2">A</a>'),
        ("<p>Öffnungszeiten</p>", "<p>O\u0308ffnungszeiten</p>"),  # decomposed umlaut
        ("<p>Eltern <b>und</b> Kinder</p>", "<p>Eltern  <b>und</b>  Kinder</p>"),
        ("<p>1 &lt; 2</p>", "<p>1 &#60; 2</p>"),
    ],
)
def test_the_same_text_written_differently_hashes_equal(stored: str, resaved: str):
    assert content_hash("Titel", stored) == content_hash("Titel", resaved)


def test_a_title_with_a_character_reference_hashes_as_the_plain_title():
    assert content_hash("Kita &amp; Schule", "") == content_hash("Kita & Schule", "")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("<p>Gebühr</p>", "<p>Gebuhr</p>"),
        ("<p><b>Eltern</b> Kinder</p>", "<p><b>Eltern</b>Kinder</p>"),  # a visible space
        ("<p>Eltern</p><p>Kinder</p>", "<p>Eltern Kinder</p>"),
        ('<a href="https://a.de">A</a>', '<a href="https://b.de">A</a>'),
        ("<p>1 &lt; 2</p>", "<p>1 &gt; 2</p>"),
        ("<p>&lt;b&gt;x</p>", "<p><b>x</b></p>"),  # escaped markup is text, not a tag
    ],
)
def test_a_change_a_reader_sees_changes_the_hash(before: str, after: str):
    assert content_hash("Titel", before) != content_hash("Titel", after)


def test_title_and_content_do_not_run_into_each_other():
    assert content_hash("Ab", "<p>c</p>") != content_hash("A", "b<p>c</p>")


def test_deeply_nested_content_hashes_without_recursion():
    depth = 10_000
    deep = "<div>" * depth + "Anmeldung" + "</div>" * depth
    assert content_hash("T", deep) != content_hash("T", deep.replace("Anmeldung", "Abmeldung"))
