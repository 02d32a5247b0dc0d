"""The sentence-vector index: nearest by cosine, replaced and removed keys, calibration."""

from __future__ import annotations

import numpy as np
import pytest

from matchers import semantic_index
from matchers.embeddings import FakeEncoder
from matchers.semantic_index import Neighbour, SegmentVectorIndex, meaning_score

SENTENCES = [
    "Die Ausländerbehörde berät Sie zu Ihrem Aufenthaltstitel.",
    "Für den Familiennachzug brauchen Sie ein Visum.",
    "Kinder ab drei Jahren können in den Kindergarten gehen.",
    "Der Integrationskurs besteht aus einem Sprachkurs und einem Orientierungskurs.",
    "Beim Jobcenter beantragen Sie Bürgergeld.",
    "Eine Wohnung finden Sie über Anzeigen im Internet oder in der Zeitung.",
]


def _random_unit_vectors(n: int, dim: int, seed: int = 1) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_nearest_sentence_by_shared_meaning_comes_first():
    encoder = FakeEncoder(dim=64)
    index = SegmentVectorIndex(64)
    index.add(list(range(1, len(SENTENCES) + 1)), encoder.encode_queries(SENTENCES))
    query = encoder.encode_queries(["Sie brauchen für den Familiennachzug ein Visum."])
    hits = index.search(query, k=3)[0]
    assert hits[0].key == 2
    assert hits[0].cosine > hits[1].cosine
    assert [h.cosine for h in hits] == sorted((h.cosine for h in hits), reverse=True)


def test_added_again_replaces_the_vector_and_removed_keys_are_never_returned():
    vectors = _random_unit_vectors(3, 16)
    index = SegmentVectorIndex(16)
    index.add([1, 2, 3], vectors)
    index.add([1], vectors[2:3])  # key 1 now holds key 3's vector
    assert len(index) == 3
    hits = index.search(vectors[2:3], k=3)[0]
    assert {h.key for h in hits[:2]} == {1, 3}
    assert hits[0].cosine == pytest.approx(1.0, abs=1e-5)
    index.remove([3, 1])
    assert [h.key for h in index.search(vectors[2:3], k=3)[0]] == [2]


def test_a_vector_of_another_dimension_is_refused():
    index = SegmentVectorIndex(16)
    with pytest.raises(ValueError, match="dimension"):
        index.add([1], np.ones((1, 8), dtype=np.float32))


def test_calibration_standardises_against_random_pairs_of_the_index():
    index = SegmentVectorIndex(32)
    index.add(list(range(1500)), _random_unit_vectors(1500, 32))
    calibration = index.calibration()
    # Random unit vectors in 32 dimensions: cosines centred on 0 with std ≈ 1/sqrt(32).
    assert abs(calibration.mean) < 0.02
    assert calibration.std == pytest.approx(1 / np.sqrt(32), rel=0.15)
    assert calibration.z(calibration.mean) == pytest.approx(0.0)
    assert calibration.percentile(0.9) > 0.99
    hit = index.search(_random_unit_vectors(500, 32)[:1], k=1)[0][0]
    assert hit.z == pytest.approx(calibration.z(hit.cosine))


def test_a_small_index_uses_the_prior_calibration():
    index = SegmentVectorIndex(8)
    index.add([1, 2], _random_unit_vectors(2, 8))
    assert index.calibration() is semantic_index.PRIOR


def test_hnsw_above_the_flat_limit_finds_what_the_flat_index_finds(monkeypatch):
    vectors = _random_unit_vectors(3000, 32, seed=3)
    flat = SegmentVectorIndex(32)
    flat.add(list(range(3000)), vectors)
    queries = vectors[:50] + 0.05 * _random_unit_vectors(50, 32, seed=4)
    expected = [hits[0].key for hits in flat.search(queries, k=1)]
    monkeypatch.setattr(semantic_index, "HNSW_ABOVE", 1000)
    approximate = SegmentVectorIndex(32)
    approximate.add(list(range(3000)), vectors)
    # Until prepare() built the graph, a search scans (it never builds one itself).
    assert [hits[0].key for hits in approximate.search(queries, k=1)] == expected
    assert approximate._hnsw is None
    approximate.prepare()
    assert approximate._hnsw is not None
    assert approximate._calibration is not None  # not left for the first search either
    found = [hits[0].key for hits in approximate.search(queries, k=1)]
    assert sum(a == b for a, b in zip(found, expected, strict=True)) >= 49
    # Removed keys are skipped, added ones found, without rebuilding the graph.
    graph = approximate._hnsw
    approximate.remove(expected[:10])
    approximate.add([5000], queries[20:21] / np.linalg.norm(queries[20]))
    again = approximate.search(queries, k=3)
    assert approximate._hnsw is graph
    assert not {hit.key for hits in again for hit in hits} & set(expected[:10])
    assert again[20][0].key == 5000
    assert all(len(hits) == 3 for hits in again)


def test_meaning_score_grows_with_z_is_capped_below_the_exact_band_and_prefers_same_topic():
    def at(z: float) -> Neighbour:
        return Neighbour(key=1, cosine=0.0, z=z, percentile=0.0)

    assert meaning_score(at(2.0)) < meaning_score(at(3.0)) < meaning_score(at(4.0))
    assert meaning_score(at(50.0)) == semantic_index.MEANING_SCORE_MAX < 95
    assert meaning_score(at(-10.0)) == 0.0
    assert meaning_score(at(3.0), same_topic=True) > meaning_score(at(3.0))
