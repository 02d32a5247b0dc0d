"""How the review UI presents a candidate matched by meaning."""

from __future__ import annotations

from tm_service.ui.presentation import candidate_view

SEMANTIC = {
    "text": "You can bring your spouse and children to Germany.",
    "kind": "semantic",
    "source": "translation_memory",
    "score": 78.0,
    "match_source_text": "Sie können Ihren Ehepartner und Ihre Kinder nach Deutschland holen.",
    "penalties": [],
    "placeholder_mismatches": [],
    "origin": {"region": "lkaugsburg"},
    "similarity": {"cosine": 0.95, "z": 4.8, "percentile": 0.999},
}


def test_a_semantic_candidate_shows_the_diff_of_its_source_and_a_warning_to_check_it():
    view = candidate_view(SEMANTIC, 0, "Ehepartner und Kinder dürfen nach Deutschland nachziehen.")
    assert view.kind == "semantic"
    assert view.diff is not None and "nachziehen" in str(view.diff)
    assert any("matched by meaning" in warning and "4.8" in warning for warning in view.warnings)


def test_a_fuzzy_candidate_gets_no_meaning_warning():
    fuzzy = {**SEMANTIC, "kind": "fuzzy", "similarity": None}
    view = candidate_view(fuzzy, 0, "Sie können Ihren Ehepartner nach Deutschland holen.")
    assert not any("meaning" in warning for warning in view.warnings)


def test_a_donor_local_detail_left_for_review_is_named_in_the_warnings():
    record = {
        **SEMANTIC,
        "text": "Please contact the Augsburg District Office.",
        "local_details": [
            {
                "kind": "office",
                "value": "Landratsamt Augsburg",
                "span": "Augsburg District Office",
                "status": "review",
                "region": "lkaugsburg",
            },
            {
                "kind": "postal_code",
                "value": "86150",
                "span": "86150",
                "status": "replaced",
                "replacement": "80331",
                "region": "lkaugsburg",
            },
        ],
    }
    view = candidate_view(record, 0, "Wenden Sie sich an das Kreisverwaltungsreferat.")
    named = [w for w in view.warnings if w.startswith("local detail")]
    assert named == [
        "local detail of lkaugsburg: 'Augsburg District Office' — replace it with this region's own"
    ]


def test_an_identical_source_shows_100_in_green_and_its_trust_beside_it():
    record = {
        **SEMANTIC,
        "kind": "exact",
        "similarity": None,
        "match": 100.0,
        "score": 98.0,
        "trust": {
            "score": 99.0,
            "status": "approved",
            "outdated": False,
            "other_region": True,
            "pivot": False,
            "rejections": 0,
            "penalties": [{"code": "other_region", "amount": 1.0, "detail": "from another region"}],
        },
        "origin": {
            "region": "lkaugsburg",
            "region_name": "Landkreis Augsburg",
            "page": "5484709",
            "page_title": "Sprachkurse",
            "relation": "other_region",
            "url": "https://integreat.app/lkaugsburg/de/sprachkurse",
        },
    }
    view = candidate_view(record, 0, SEMANTIC["match_source_text"])
    assert (view.score_label, view.band) == ("100 %", "perfect")
    assert view.rank_score == "98 %"
    assert (view.trust_label, view.trust_band) == ("approved · other region", "sure")
    assert "−1 other region" in view.trust_title
    assert view.region_name == "Landkreis Augsburg" and view.page_title == "Sprachkurse"
    assert view.url == "https://integreat.app/lkaugsburg/de/sprachkurse"


def test_a_machine_or_outdated_exact_match_keeps_its_100_and_shows_the_trust():
    machine = {
        **SEMANTIC,
        "kind": "exact",
        "match": 100.0,
        "score": 85.0,
        "trust": {"score": 85.0, "status": "machine", "outdated": True, "penalties": []},
    }
    view = candidate_view(machine, 0, SEMANTIC["match_source_text"])
    assert (view.score_label, view.band) == ("100 %", "perfect")
    assert (view.trust_label, view.trust_band) == ("machine · outdated", "machine")


def test_a_suggestion_stored_before_match_and_trust_shows_its_score():
    view = candidate_view({**SEMANTIC, "score": 97.0}, 0, "Etwas.")
    assert view.score_label == "97 %" and view.trust_label == ""


def test_an_unreviewed_import_is_amber_even_at_high_trust():
    record = {**SEMANTIC, "match": 100.0, "trust": {"score": 98.0, "status": "unreviewed"}}
    assert candidate_view(record, 0, "Etwas.").trust_band == "check"


def test_an_outdated_or_rejected_translation_is_red():
    for trust in (
        {"score": 95.0, "status": "approved", "outdated": True},
        {"score": 96.0, "status": "reviewed", "rejections": 1},
    ):
        record = {**SEMANTIC, "match": 100.0, "trust": trust}
        assert candidate_view(record, 0, "Etwas.").trust_band == "low"


def test_an_assembly_of_fragments_names_its_pieces_and_what_is_left_to_translate():
    source = "Seit 1. März 2020 gilt das neue Fachkräfteeinwanderungsgesetz."
    record = {
        "text": "Seit 1. March 2020 gilt das neue Skilled Labour Immigration Act.",
        "kind": "fragments",
        "source": "translation_memory",
        "match": None,
        "score": None,
        "match_source_text": source,
        "origin": {"region": "lkaugsburg"},
        "fragments": {
            "words": 8,
            "covered_words": 2,
            "share": 0.25,
            "pieces": [
                {"source": "März", "target": "March", "kind": "calendar"},
                {
                    "source": "Fachkräfteeinwanderungsgesetz",
                    "target": "Skilled Labour Immigration Act",
                    "kind": "memory",
                },
            ],
        },
    }
    view = candidate_view(record, 0, source)
    assert view.diff is None  # its source is the segment itself
    (warning,) = [w for w in view.warnings if "assembled" in w]
    assert "2 of 8 words" in warning and "'März' → 'March'" in warning
    assert "still the source text" in warning
