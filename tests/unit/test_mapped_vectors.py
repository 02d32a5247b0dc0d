"""The mapped sentence-vector index: exact below FLAT_UP_TO, an HNSW graph above whose
candidates are re-scored exactly; the same calibration as the in-memory index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from matchers import mapped_vectors
from matchers.mapped_vectors import MappedVectorIndex
from matchers.semantic_index import SegmentVectorIndex, estimate_calibration


def clustered(rows: int, dim: int = 32, seed: int = 1) -> np.ndarray:
    """Unit vectors around 50 topics, like sentences of a few dozen subjects."""
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((50, dim))
    vectors = topics[rng.integers(0, 50, rows)] + 0.6 * rng.standard_normal((rows, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_a_graph_finds_what_a_scan_finds_and_reports_exact_cosines(tmp_path: Path, monkeypatch):
    vectors, queries = clustered(3000), clustered(60, seed=2)
    mapped_vectors.write(vectors, tmp_path / "flat")
    monkeypatch.setattr(mapped_vectors, "FLAT_UP_TO", 1000)
    mapped_vectors.write(vectors, tmp_path / "graph")
    flat = MappedVectorIndex.open(tmp_path / "flat")
    graph = MappedVectorIndex.open(tmp_path / "graph")
    assert flat.graph is None and graph.graph is not None
    exact_cosines, exact_rows = flat.search(queries, 10)
    cosines, rows = graph.search(queries, 10)
    found = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows, exact_rows, strict=True)])
    assert found >= 0.95
    for query, row_cosines, row_ids in zip(queries, cosines, rows, strict=True):
        assert np.all(np.diff(row_cosines) <= 1e-6)  # best first
        assert np.allclose(row_cosines, vectors[row_ids] @ query, atol=1e-5)  # not half floats
    assert np.allclose(exact_cosines[:, 0], (queries @ vectors.T).max(axis=1), atol=1e-5)
    one_cosines, one_rows = graph.search(queries[:1], 10)  # one query: usearch's other answer
    assert one_rows.shape == (1, 10) and np.array_equal(one_rows[0], rows[0])


def test_the_calibration_is_the_in_memory_index_s(tmp_path: Path):
    vectors = clustered(2000)
    mapped_vectors.write(vectors, tmp_path / "v")
    opened = MappedVectorIndex.open(tmp_path / "v")
    held = SegmentVectorIndex(32)
    held.add(list(range(1, 2001)), vectors)
    assert opened.calibration.mean == pytest.approx(held.calibration().mean)
    assert opened.calibration.std == pytest.approx(held.calibration().std)
    assert np.array_equal(opened.calibration.sample, estimate_calibration(vectors).sample)


def test_another_format_is_refused(tmp_path: Path):
    mapped_vectors.write(clustered(10), tmp_path / "v")
    meta = json.loads((tmp_path / "v" / "index.json").read_text())
    (tmp_path / "v" / "index.json").write_text(json.dumps({**meta, "format": 99}))
    with pytest.raises(ValueError, match="format 99"):
        MappedVectorIndex.open(tmp_path / "v")
