"""Alignment of a page's segments with its translation's segments."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memory.alignment import (
    DEFAULT_MIN_CONFIDENCE,
    AlignedPair,
    Bead,
    align_segments,
    align_vectors,
    anchor_agreement,
    join_segments,
    length_plausibility,
)
from memory.segmentation import segment_html

DATA = Path(__file__).resolve().parents[1] / "data" / "alignment"

# Integreat / Tür an Tür – Digitalfabrik gGmbH and Landkreis Augsburg, CC BY 4.0
# (lkaugsburg page "Asylwegweiser - Mehrsprachige Info-Videos", German and English).
VIDEOS_DE = """<div>
<h3>Online-Videos zum Asylverfahren in verschiedenen Sprachen</h3>
<p>Es gibt Erkl&#228;r-Videos zum Asylverfahren. Sie werden vom <a class="link-external"
href="https://www.fluechtlingsrat-bayern.de/projekte/asylwegweiser/">Bayerischen</a>&#160;und
M&#252;nchner Fl&#252;chtlingsrat zur Verf&#252;gung gestellt.</p>
<p>Die Videos sind ein Weg-Weiser im Asylverfahren. Gefl&#252;chtete k&#246;nnen so ihr
Asylverfahren informiert und eigenst&#228;ndig bestreiten.</p>
<p>Die Videos sind eine Informations-Grundlage. Sie ersetzen keine ausf&#252;hrliche Beratung.</p>
<p>Lass Dich auf jeden Fall beraten! So kannst Du gravierende Fehler und Vers&#228;umnisse
vermeiden.</p>
<p><a class="link-external" href="https://www.youtube.com/@asylwegweiser5728/featured">Zu den
Videos</a></p>
<p><em>Schlagworte: Asyl, Asylverfahren, Informationen, Gefl&#252;chtete, Wegweiser</em></p>
</div>"""
VIDEOS_EN = """<div>
<h3>Online videos on the asylum procedure in various languages</h3>
<p>There are videos explaining the asylum procedure. They are provided by the <a
class="link-external" href="https://www.fluechtlingsrat-bayern.de/projekte/asylwegweiser/">
Bavarian</a> and Munich Refugee Councils.</p>
<p>The videos are a guide to the asylum procedure. Refugees can thus complete their asylum
procedure in an informed and independent manner.</p>
<p>The videos provide basic information. They do not replace detailed counselling.</p>
<p>Make sure you get advice! This way you can avoid serious mistakes and omissions.</p>
<p><a class="link-external" href="https://www.youtube.com/@asylwegweiser5728/featured">To the
videos</a></p>
<p><em>Keywords: asylum, asylum procedure, information, refugees, guide</em></p>
</div>"""
# The same English page with paragraphs 3 and 4 merged into one, as translators sometimes do.
VIDEOS_EN_MERGED = VIDEOS_EN.replace("counselling.</p>\n<p>Make sure", "counselling. Make sure")

# Integreat / Tür an Tür – Digitalfabrik gGmbH and Landkreis Augsburg, CC BY 4.0
# (lkaugsburg page "Bundesamt für Migration und Flüchtlinge (BAMF)", German and English).
BAMF_DE = """<p>Das BAMF ist eine Bundesbeh&#246;rde. Das BAMF ist zust&#228;ndig f&#252;r die
Durchf&#252;hrung des Asylverfahrens.</p>
<p>Das bedeutet:</p>
<ul><li>Pr&#252;fung des Asylantrags</li><li>Durchf&#252;hrung der Anh&#246;rung</li></ul>
<p>Au&#223;enstelle Augsburg<br>August-Wessels-Stra&#223;e 27<br>86156 Augsburg</p>"""
BAMF_EN = """<p>The BAMF is a federal authority. The BAMF is responsible for carrying out the
asylum procedure.</p>
<p>This means</p>
<ul><li>Examination of the asylum application</li><li>Conducting the interview</li></ul>
<p>Augsburg branch office<br>August-Wessels-Stra&#223;e 27<br>86156 Augsburg</p>"""


def align(source_html: str, target_html: str, **options: Any) -> list[AlignedPair]:
    return align_segments(
        segment_html(source_html, "de"), segment_html(target_html, "en"), "de", "en", **options
    )


def test_same_structure_pairs_sentences_one_to_one() -> None:
    pairs = align(BAMF_DE, BAMF_EN)
    assert [(p.source_plain, p.target_plain, p.method) for p in pairs] == [
        ("Das BAMF ist eine Bundesbehörde.", "The BAMF is a federal authority.", "sentence"),
        (
            "Das BAMF ist zuständig für die Durchführung des Asylverfahrens.",
            "The BAMF is responsible for carrying out the asylum procedure.",
            "sentence",
        ),
        ("Das bedeutet:", "This means", "block"),
        ("Prüfung des Asylantrags", "Examination of the asylum application", "block"),
        ("Durchführung der Anhörung", "Conducting the interview", "block"),
        ("Außenstelle Augsburg", "Augsburg branch office", "sentence"),
        ("August-Wessels-Straße 27", "August-Wessels-Straße 27", "sentence"),
        ("86156 Augsburg", "86156 Augsburg", "sentence"),
    ]
    assert all(DEFAULT_MIN_CONFIDENCE <= p.confidence <= 1 for p in pairs)
    assert pairs[6].confidence > 0.95  # identical address line: numbers and names agree


def test_pairs_keep_links_as_placeholders() -> None:
    pairs = align(VIDEOS_DE, VIDEOS_EN)
    link_pair = next(p for p in pairs if "Flüchtlingsrat" in p.source_text)
    assert link_pair.source_text == (
        "Sie werden vom <g1>Bayerischen</g1> und Münchner Flüchtlingsrat zur Verfügung gestellt."
    )
    assert link_pair.target_text == (
        "They are provided by the <g1>Bavarian</g1> and Munich Refugee Councils."
    )
    href = 'href="https://www.fluechtlingsrat-bayern.de/projekte/asylwegweiser/"'
    assert href in link_pair.source_markup["<g1>"]
    assert href in link_pair.target_markup["<g1>"]


def test_merged_paragraph_in_translation_still_aligns_the_rest() -> None:
    pairs = align(VIDEOS_DE, VIDEOS_EN_MERGED)
    assert {p.method for p in pairs} == {"length"}
    by_source = {p.source_plain: p for p in pairs}
    merged = by_source[
        "Die Videos sind eine Informations-Grundlage. Sie ersetzen keine ausführliche Beratung. "
        "Lass Dich auf jeden Fall beraten! So kannst Du gravierende Fehler und Versäumnisse "
        "vermeiden."
    ]
    assert merged.target_plain == (
        "The videos provide basic information. They do not replace detailed counselling. "
        "Make sure you get advice! This way you can avoid serious mistakes and omissions."
    )
    assert len(merged.source_indices) == 4 and len(merged.target_indices) == 4
    # The blocks around the merge pair as before, sentence by sentence.
    assert by_source["Es gibt Erklär-Videos zum Asylverfahren."].target_plain == (
        "There are videos explaining the asylum procedure."
    )
    assert by_source["Zu den Videos"].target_plain == "To the videos"
    assert by_source[
        "Schlagworte: Asyl, Asylverfahren, Informationen, Geflüchtete, Wegweiser"
    ].target_plain == ("Keywords: asylum, asylum procedure, information, refugees, guide")


def test_text_on_one_side_only_is_dropped() -> None:
    extra = VIDEOS_EN.replace(
        "<h3>Online", "<p>Note: this page was updated in 2024 for the new year.</p><h3>Online"
    )
    pairs = align(VIDEOS_DE, extra)
    assert all("Note:" not in p.target_text for p in pairs)
    assert any(p.target_plain == "To the videos" for p in pairs)


def test_low_confidence_pairs_are_dropped_by_threshold() -> None:
    source = segment_html("<p>Kurz.</p><h3>Dauer: 3 Jahre</h3>", "de")
    target = segment_html(
        "<p>A very much longer English text that is not a translation at all, really.</p>", "en"
    )
    everything = align_segments(source, target, "de", "en", min_confidence=0.0)
    assert everything
    assert align_segments(source, target, "de", "en", min_confidence=0.99) == []


def test_german_to_arabic_aligns_by_structure() -> None:
    # Integreat / Tür an Tür – Digitalfabrik gGmbH and Stadt Augsburg, CC BY 4.0 (shortened).
    source = segment_html("<h3>Willkommen</h3><p>Rund 500000 Menschen leben hier.</p>", "de")
    target = segment_html("<h3>مرحبًا بكم</h3><p>يعيش بها قرابة ٥٠٠٠٠٠ نسَمة.</p>", "ar")
    pairs = align_segments(source, target, "de", "ar")
    assert [p.target_plain for p in pairs] == ["مرحبًا بكم", "يعيش بها قرابة ٥٠٠٠٠٠ نسَمة."]
    assert anchor_agreement(pairs[1].source_plain, pairs[1].target_plain) == 1.0


def test_empty_side_gives_no_pairs() -> None:
    assert align_segments(segment_html(BAMF_DE, "de"), [], "de", "en") == []


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        (
            "Tel. 0821 3102-0, www.landkreis-augsburg.de",
            "Phone 0821 3102-0, www.landkreis-augsburg.de",
            1.0,
        ),
        ("Am 1.6.2022", "On 1 June 2022", 2 / 3),
        ("Ohne Zahlen", "Without numbers", None),
    ],
)
def test_anchor_agreement(source: str, target: str, expected: float | None) -> None:
    assert anchor_agreement(source, target) == expected


def test_length_plausibility_prefers_similar_lengths() -> None:
    assert length_plausibility("a" * 50, "b" * 50) == pytest.approx(1.0)
    assert length_plausibility("a" * 50, "b" * 150) < 0.1


def test_join_segments_renumbers_placeholders() -> None:
    segments = segment_html(
        '<p><a href="1">Eins</a> ist da. Zwei <b>fett</b> <img src="i"> hier.</p>', "de"
    )
    text, markup = join_segments(segments)
    assert text == "<g1>Eins</g1> ist da. Zwei <g2>fett</g2> <x3/> hier."
    assert markup == {
        "<g1>": '<a href="1">',
        "</g1>": "</a>",
        "<g2>": "<b>",
        "</g2>": "</b>",
        "<x3/>": '<img src="i">',
    }


# --------------------------------------------------------------------------- by embeddings


def unit(*axes: int, dim: int = 16) -> np.ndarray:
    """The normalised sum of the given basis vectors: a sentence "about" those topics."""
    vector = np.zeros(dim)
    vector[list(axes)] = 1.0
    return vector / np.linalg.norm(vector)


def sides(bead: Bead) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return bead.source, bead.target


def test_vectors_of_a_faithful_translation_align_one_to_one() -> None:
    vectors = np.vstack([unit(i) for i in range(5)])

    beads = align_vectors(vectors, vectors)

    assert [sides(b) for b in beads] == [((i,), (i,)) for i in range(5)]
    assert all(b.similarity == pytest.approx(1.0) and b.margin == pytest.approx(1.0) for b in beads)


def test_two_sentences_joined_in_translation_make_a_two_to_one_bead() -> None:
    source = np.vstack([unit(0), unit(1), unit(2), unit(3)])
    target = np.vstack([unit(0), unit(1, 2), unit(3)])

    beads = align_vectors(source, target)

    assert [sides(b) for b in beads] == [((0,), (0,)), ((1, 2), (1,)), ((3,), (2,))]


def test_a_sentence_split_in_translation_makes_a_one_to_two_bead() -> None:
    source = np.vstack([unit(0), unit(1, 2), unit(3)])
    target = np.vstack([unit(0), unit(1), unit(2), unit(3)])

    beads = align_vectors(source, target)

    assert [sides(b) for b in beads] == [((0,), (0,)), ((1,), (1, 2)), ((2,), (3,))]


def test_a_list_joined_into_one_sentence_makes_a_three_to_one_bead() -> None:
    source = np.vstack([unit(0), unit(1), unit(2), unit(3), unit(4)])
    target = np.vstack([unit(0), unit(1, 2, 3), unit(4)])

    beads = align_vectors(source, target)

    assert [sides(b) for b in beads] == [((0,), (0,)), ((1, 2, 3), (1,)), ((4,), (2,))]


def test_sentences_on_one_side_only_are_left_out() -> None:
    source = np.vstack([unit(0), unit(1), unit(7), unit(2)])  # 7: not translated
    target = np.vstack([unit(8), unit(0), unit(1), unit(2)])  # 8: added in translation

    beads = align_vectors(source, target)

    assert [sides(b) for b in beads] == [
        ((), (0,)),
        ((0,), (1,)),
        ((1,), (2,)),
        ((2,), ()),
        ((3,), (3,)),
    ]
    assert [b.margin for b in beads if not (b.source and b.target)] == [0.0, 0.0]


def test_alignment_stays_monotone_when_the_translation_swaps_two_sentences() -> None:
    source = np.vstack([unit(0), unit(1), unit(2), unit(3)])
    target = np.vstack([unit(0), unit(2), unit(1), unit(3)])

    beads = align_vectors(source, target)

    paired = [sides(b) for b in beads if b.source and b.target]
    assert ((0,), (0,)) in paired and ((3,), (3,)) in paired
    assert len([p for p in paired if p[0] in {(1,), (2,)}]) == 1  # one of the swapped pair


def test_every_position_is_covered_once_and_in_order() -> None:
    rng = np.random.default_rng(3)
    source = rng.normal(size=(23, 16))
    target = rng.normal(size=(17, 16))
    source /= np.linalg.norm(source, axis=1, keepdims=True)
    target /= np.linalg.norm(target, axis=1, keepdims=True)

    beads = align_vectors(source, target, [40] * 23, [35] * 17)

    assert [i for b in beads for i in b.source] == list(range(23))
    assert [j for b in beads for j in b.target] == list(range(17))
    assert all(
        (len(b.source), len(b.target)) in {(0, 1), (1, 0), (1, 1), (1, 2), (2, 1), (1, 3), (3, 1)}
        for b in beads
    )


def test_numbers_decide_between_contact_lines_that_look_alike() -> None:
    # The model finds two phone lines alike; only their numbers tell which one is the same.
    source = np.vstack([unit(0), unit(1)])
    target = np.vstack([unit(0), unit(1, 3, 5), unit(1, 4, 6)])
    office = [frozenset(), frozenset({"0821", "31020"})]
    other_first = [frozenset(), frozenset({"0821", "4711"}), frozenset({"0821", "31020"})]
    same_first = [frozenset(), frozenset({"0821", "31020"}), frozenset({"0821", "4711"})]

    def paired(target_anchors: list[frozenset[str]]) -> list[tuple]:
        beads = align_vectors(source, target, source_anchors=office, target_anchors=target_anchors)
        return [sides(b) for b in beads if b.source and b.target]

    assert paired(other_first) == [((0,), (0,)), ((1,), (2,))]
    assert paired(same_first) == [((0,), (0,)), ((1,), (1,))]
    # Vectors alone take both lines as one translation.
    assert [sides(b) for b in align_vectors(source, target)][1] == ((1,), (1, 2))


def test_an_empty_side_leaves_everything_out() -> None:
    assert [sides(b) for b in align_vectors(np.vstack([unit(0)]), np.zeros((0, 16)))] == [
        ((0,), ())
    ]


def e_scooter() -> tuple[list, list, np.ndarray, np.ndarray]:
    """The E-Scooter page pair, segmented, with its stored real sentence vectors."""
    page = json.loads((DATA / "e_scooter.json").read_text(encoding="utf-8"))
    source = segment_html(page["de_html"], "de")
    target = segment_html(page["en_html"], "en")
    vectors = np.load(DATA / "e_scooter_vectors.npy")
    return source, target, vectors[: len(source)], vectors[len(source) :]


def test_real_page_whose_structure_differs_aligns_by_embeddings() -> None:
    source, target, source_vectors, target_vectors = e_scooter()

    pairs = align_segments(
        source,
        target,
        "de",
        "en",
        source_vectors=source_vectors,
        target_vectors=target_vectors,
    )

    assert [(p.source_indices, p.target_indices) for p in pairs] == [
        ((0,), (0,)),
        ((1,), (1,)),
        ((2, 3), (2,)),  # the list's first item ends the English sentence before it
        ((4,), (3,)),
    ]  # the German keywords line has no translation
    assert {p.method for p in pairs} == {"embedding"}
    assert all(DEFAULT_MIN_CONFIDENCE <= p.confidence <= 1 for p in pairs)
    merged = pairs[2]
    # The German link is the whole list item, so it stays in the page template.
    assert merged.source_text == "Hier findest du wichtige Regeln und einige Tipps: ADAC"
    assert merged.target_text.endswith("compiled by the <g1>ADAC</g1>")
    assert 'href="https://www.adac.de/' in merged.target_markup["<g1>"]


def test_embed_gets_the_plain_texts_of_both_sides_in_one_call() -> None:
    source, target, source_vectors, target_vectors = e_scooter()
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return np.vstack([source_vectors, target_vectors])

    by_embed = align_segments(source, target, "de", "en", embed=embed)
    by_vectors = align_segments(
        source, target, "de", "en", source_vectors=source_vectors, target_vectors=target_vectors
    )

    assert calls == [[s.plain for s in source] + [t.plain for t in target]]
    assert by_embed == by_vectors


def test_embed_is_not_called_where_block_structure_decides() -> None:
    def embed(texts: list[str]) -> np.ndarray:
        raise AssertionError("structure decides, no vectors needed")

    assert align(BAMF_DE, BAMF_EN, embed=embed) == align(BAMF_DE, BAMF_EN)


def test_without_vectors_the_length_fallback_is_unchanged() -> None:
    source, target, _, _ = e_scooter()

    pairs = align_segments(source, target, "de", "en")

    assert {p.method for p in pairs} == {"length"}


def test_vectors_must_match_the_segments() -> None:
    source, target, source_vectors, target_vectors = e_scooter()

    with pytest.raises(ValueError, match="one vector per segment"):
        align_segments(
            source,
            target,
            "de",
            "en",
            source_vectors=source_vectors[:-1],
            target_vectors=target_vectors,
        )
