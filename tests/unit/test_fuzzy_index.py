"""The fuzzy index finds what a full scan finds, without scanning."""

import random

import pytest
from rapidfuzz import fuzz, process

from matchers.fuzzy_index import FuzzyIndex, length_window
from matchers.normalise import normalise_for_matching
from matchers.placeholders import extract_placeholders
from matchers.scoring import similarity

SENTENCES = [
    "Das Bürgerbüro ist montags bis freitags von 8:00 bis 12:00 Uhr geöffnet.",
    "Rufen Sie uns an: 0821 3102-0",
    "Für den Antrag brauchen Sie einen gültigen Reisepass und eine Meldebescheinigung.",
    "Die Ausländerbehörde berät Sie zu Aufenthaltstitel und Arbeitserlaubnis.",
    "Kinder ab drei Jahren haben einen Anspruch auf einen Platz im Kindergarten.",
    "Öffnungszeiten",
    "Kontakt",
    "Beratung für Geflüchtete",
]


def form_of(text: str) -> str:
    return normalise_for_matching(extract_placeholders(text).form, "de")


@pytest.fixture
def index() -> FuzzyIndex:
    fuzzy_index = FuzzyIndex()
    fuzzy_index.add_many((key, form_of(text)) for key, text in enumerate(SENTENCES, start=100))
    return fuzzy_index


def test_finds_variant_with_one_word_changed(index: FuzzyIndex):
    query = form_of("Das Bürgerbüro ist dienstags bis freitags von 8:00 bis 12:00 Uhr geöffnet.")
    (key, score), *_ = index.search(query)
    assert key == 100
    assert score == pytest.approx(similarity(query, form_of(SENTENCES[0])))
    assert 85 < score < 100


def test_finds_variant_with_a_word_dropped(index: FuzzyIndex):
    query = form_of("Für den Antrag brauchen Sie einen Reisepass und eine Meldebescheinigung.")
    assert index.search(query)[0][0] == 102


def test_other_phone_number_is_an_exact_match_of_the_form(index: FuzzyIndex):
    query = form_of("Rufen Sie uns an: 07151 501-0")
    assert index.search(query)[0] == (101, 100.0)
    assert index.exact(query) == [101]


@pytest.mark.parametrize(
    ("query", "key"), [("Öffnungszeit", 105), ("Kontakte", 106), ("kontakt", 106)]
)
def test_finds_one_word_segments_by_characters(index: FuzzyIndex, query: str, key: int):
    assert index.search(form_of(query))[0][0] == key


def test_results_are_best_first_and_respect_limit_and_min_score(index: FuzzyIndex):
    results = index.search(form_of("Beratung für Kinder"), limit=2, min_score=30.0)
    assert len(results) <= 2
    assert [score for _, score in results] == sorted((s for _, s in results), reverse=True)
    assert all(score >= 30.0 for _, score in results)
    assert index.search(form_of("Beratung für Kinder"), min_score=99.0) == []


def test_exact_lookup_returns_all_keys_with_that_form(index: FuzzyIndex):
    index.add(7, form_of("Kontakt"))
    assert index.exact(form_of("Kontakt")) == [106, 7]
    assert index.exact(form_of("Kontakt aufnehmen")) == []


def test_added_segment_is_found_immediately(index: FuzzyIndex):
    index.add(500, form_of("Die Müllabfuhr kommt jeden zweiten Dienstag."))
    assert index.search(form_of("Die Müllabfuhr kommt jeden Dienstag."))[0][0] == 500
    assert len(index) == len(SENTENCES) + 1


def test_discarded_segment_is_no_longer_found(index: FuzzyIndex):
    index.discard(101)
    assert 101 not in index
    assert index.exact(form_of("Rufen Sie uns an: 0821 3102-0")) == []
    assert all(key != 101 for key, _ in index.search(form_of("Rufen Sie uns an: 0821 3102-0")))
    assert len(index) == len(SENTENCES) - 1
    index.discard(101)  # discarding twice is harmless


def test_adding_an_existing_key_replaces_its_form(index: FuzzyIndex):
    index.add(106, form_of("Impressum"))
    assert index.form_of(106) == "impressum"
    assert index.exact(form_of("Kontakt")) == []
    assert index.search(form_of("Impressum"))[0] == (106, 100.0)


def test_empty_index_finds_nothing():
    assert FuzzyIndex().search("kontakt") == []


MUNICIPAL_SENTENCES = [
    "Die Anmeldung für den Kindergarten erfolgt direkt bei der Gemeinde.",
    "Bitte bringen Sie zum Termin Ihren Ausweis und die Geburtsurkunde mit.",
    "Das Jobcenter unterstützt Sie bei der Suche nach einer Arbeitsstelle.",
    "In der Volkshochschule gibt es Deutschkurse für Anfänger und Fortgeschrittene.",
    "Wenn Sie krank sind, gehen Sie zuerst zu Ihrer Hausärztin oder Ihrem Hausarzt.",
    "Der Wertstoffhof ist am Samstag von 9:00 bis 13:00 Uhr geöffnet.",
    "Für Fragen zur Aufenthaltserlaubnis ist die Ausländerbehörde zuständig.",
    "Die Beratung ist kostenlos, vertraulich und auf Wunsch anonym.",
    "Schulpflichtige Kinder müssen an einer Schule angemeldet werden.",
    "Mit dem Bus kommen Sie schnell in die Stadt und zurück.",
    "Eine Wohnung finden Sie über Zeitungsanzeigen oder im Internet.",
    "Der Integrationskurs besteht aus einem Sprachkurs und einem Orientierungskurs.",
]


def varied(rng: random.Random, sentence: str, vocabulary: list[str], edits: int) -> str:
    """Return the sentence with `edits` random word replacements, drops or insertions."""
    words = sentence.split()
    for _ in range(edits):
        action = rng.randrange(3)
        position = rng.randrange(len(words))
        if action == 0:
            words[position] = rng.choice(vocabulary)
        elif action == 1 and len(words) > 2:
            del words[position]
        else:
            words.insert(position, rng.choice(vocabulary))
    return " ".join(words)


def test_top5_recall_against_full_scan_on_generated_memory():
    rng = random.Random(7)
    vocabulary = sorted({w for s in MUNICIPAL_SENTENCES + SENTENCES for w in s.split()})
    bases = MUNICIPAL_SENTENCES + SENTENCES
    forms = [
        form_of(varied(rng, rng.choice(bases), vocabulary, rng.randint(0, 5))) for _ in range(3000)
    ]
    # Rescoring a tenth of the memory: the candidate selection, not a disguised full scan.
    index = FuzzyIndex(rescore=300)
    index.add_many(enumerate(forms))
    found = expected = 0
    for _ in range(100):
        query = form_of(varied(rng, rng.choice(forms), vocabulary, 1))
        reference = process.extract(query, forms, scorer=fuzz.ratio, limit=5, score_cutoff=50)
        got = [score for _, score in index.search(query, limit=5, min_score=50)]
        # Ties are interchangeable: rank i counts when the index scores at least as high there.
        found += sum(
            1
            for rank, (_, score, _) in enumerate(reference)
            if rank < len(got) and got[rank] >= score
        )
        expected += len(reference)
    assert found / expected >= 0.98


@pytest.mark.parametrize("min_score", [0.0, 33.3, 50.0, 70.0, 85.0, 100.0])
def test_length_window_keeps_exactly_the_lengths_whose_bound_reaches_min_score(min_score: float):
    # Candidates outside the window are dropped before the estimate: a length the window
    # wrongly refuses would be a match no lookup can find.
    for query_length in range(1, 120):
        shortest, longest = length_window(query_length, min_score)
        for length in range(1, 400):
            bound = 200 * min(length, query_length) / (length + query_length)
            assert (shortest <= length <= longest) == (bound >= min_score - 1e-3), (
                query_length,
                length,
            )


SHORT_FORMS = ["sie", "sei", "sik", "stil", "netz", "mo.", "do.", "kita", "tel.", "fax", "uhr"]


def _short_index() -> FuzzyIndex:
    index = FuzzyIndex()
    index.add_many(enumerate(SHORT_FORMS))
    index.add(99, "die sprechstunde ist am montag")
    return index


@pytest.mark.parametrize("query", ["zsi", "setz", "di.", "kiga", "fak"])
def test_a_short_query_is_scored_against_every_short_form(query: str):
    # "zsi" shares no word and no padded trigram with "sie" (66.7): only a scan finds it.
    expected = process.extract(
        query,
        [*SHORT_FORMS, "die sprechstunde ist am montag"],
        scorer=fuzz.ratio,
        limit=5,
        score_cutoff=50,
    )
    found = _short_index().search(query, limit=5, min_score=50)
    assert [score for _, score in found] == [score for _, score, _ in expected]
    assert found  # every query above has a match ≥ 50


def test_the_short_form_scan_skips_removed_forms_and_long_windows(monkeypatch):
    index = _short_index()
    assert [key for key, _ in index.search("zsi", min_score=60)][:1] == [0]  # "sie"
    index.discard(0)
    assert 0 not in [key for key, _ in index.search("zsi", min_score=60)]
    # A window with more short forms than the limit goes through the postings instead.
    monkeypatch.setattr("matchers.fuzzy_index.SHORT_SCAN_LIMIT", 2)
    assert index.search("zsi", min_score=60) == []
