"""The int16 first pass of a vector scan: its error bound holds, and every decision taken from
it (top rows, counts, comparisons with candidates) is the one the float32 products give."""

from __future__ import annotations

import numpy as np
import pytest

from matchers import segmented, vector_scan
from matchers.segmented import Rows, VectorRows
from matchers.vector_scan import BoundedScan


def compiled_scan(rows: VectorRows, query: np.ndarray, n: int) -> BoundedScan:
    """`bounded_dot` by the compiled loop (loaded first, as a long-running process has it)."""
    rows.bounded_dot(query, n)  # starts the background load for these arrays
    vector_scan.wait_until_compiled(timeout=120)
    scan = rows.bounded_dot(query, n)
    assert scan.error.any(), "the compiled loop should have answered"
    return scan


def matrices() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(3)
    unit = rng.standard_normal((3000, 64)).astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    # Narrow band of cosines (as the e5 encoder gives) with one dominant component.
    band = rng.standard_normal((3000, 64)).astype(np.float32) * 0.2
    band[:, 0] += 3.0
    band /= np.linalg.norm(band, axis=1, keepdims=True)
    raw = (rng.standard_normal((3000, 64)) * rng.uniform(1e-3, 50, (3000, 1))).astype(np.float32)
    raw[7] = 0.0  # a zero vector
    return [("unit", unit), ("narrow band", band), ("unnormalised", raw)]


def vector_rows(matrix: np.ndarray, base_rows: int) -> VectorRows:
    """Rows as a store over a read-only base (a snapshot's) plus rows added later."""
    base = matrix[:base_rows].copy()
    base.setflags(write=False)
    rows = VectorRows(matrix.shape[1], base)
    for row in range(base_rows, matrix.shape[0]):
        rows[row] = matrix[row]
    return rows


@pytest.mark.parametrize(("name", "matrix"), matrices())
def test_the_bound_holds_and_resolved_rows_are_the_float32_products(name, matrix):
    rows = vector_rows(matrix, 2000)
    exact_rows = Rows(matrix.shape[1], np.float32, matrix)
    for query in (matrix[11], matrix[2500] * 3.5, -matrix[42]):
        exact = exact_rows.dot(query, matrix.shape[0])
        scan = compiled_scan(rows, query, matrix.shape[0])
        assert np.all(np.abs(scan.values - exact) <= scan.error), name
        everything = np.arange(matrix.shape[0])
        scan.resolve(everything)
        assert np.array_equal(scan.values, exact)  # bit for bit


@pytest.mark.parametrize(("name", "matrix"), matrices())
def test_decisions_are_those_of_the_float32_products(name, matrix):
    rng = np.random.default_rng(5)
    matrix = matrix.copy()
    matrix[100:110] = matrix[50]  # copies of one page: ties broken by key
    rows = vector_rows(matrix, 1500)
    n = matrix.shape[0]
    keys = rng.permutation(n).astype(np.int64)
    valid = rng.random(n) < 0.8
    groups = rng.integers(0, 40, n).astype(np.int32)
    for query in (matrix[50], matrix[2999]):
        scan = compiled_scan(rows, query, n)
        exact = BoundedScan.exact_values(Rows(matrix.shape[1], np.float32, matrix).dot(query, n))
        for take in (1, 8, 40):
            assert scan.top(valid, take, keys).tolist() == exact.top(valid, take, keys).tolist()
        for threshold in np.quantile(exact.values, [0.1, 0.5, 0.99]).tolist():
            assert scan.count_above(threshold, valid) == exact.count_above(threshold, valid)
        # Candidates' cosines per group: every valid row compares with them as exactly.
        probe_rows = rng.choice(np.flatnonzero(valid), 30, replace=False)
        scan.resolve(probe_rows)
        probes = exact.values[probe_rows]
        probe_groups = groups[probe_rows]
        scan.resolve_near(groups, probe_groups, probes, valid)
        for group, probe in zip(probe_groups.tolist(), probes.tolist(), strict=True):
            members = valid & (groups == group)
            for compare in (np.greater, np.equal):
                assert np.array_equal(
                    compare(scan.values[members], np.float32(probe)),
                    compare(exact.values[members], np.float32(probe)),
                )


@pytest.mark.parametrize("n", [5, 40, 41, 400, 3001])
def test_the_floor_of_a_top_list_is_the_take_th_highest_lower_bound(n):
    # Found from every FLOOR_STRIDE-th row first; it must be the full partition's value, also
    # with many rows that may not be taken (-inf), ties, and fewer sampled rows than `take`.
    rng = np.random.default_rng(n)
    for refused in (0.0, 0.5, 0.97):
        lower = rng.integers(0, 50, n).astype(np.float32)  # many equal values
        lower[rng.random(n) < refused] = -np.inf
        for take in sorted({1, 3, 8, 40, n} & set(range(1, n + 1))):
            expected = np.partition(lower, n - take)[n - take]
            assert vector_scan._floor(lower, take) == expected


def test_without_the_compiled_loop_the_scan_is_the_float32_one(monkeypatch):
    matrix = matrices()[0][1]
    rows = vector_rows(matrix, 1000)
    monkeypatch.setattr(segmented, "code_products", lambda codes, bounds: None)
    scan = rows.bounded_dot(matrix[3], matrix.shape[0])
    assert not scan.error.any()
    assert np.array_equal(scan.values, rows.dot(matrix[3], matrix.shape[0]))


def test_a_store_without_codes_makes_them_and_gathered_rows_keep_them():
    matrix = matrices()[1][1]
    with_codes = vector_rows(matrix, 3000)
    codes, bounds = vector_scan.quantize(matrix)
    assert np.array_equal(with_codes.codes.base, codes)
    assert np.array_equal(with_codes.bounds.base, bounds)
    picked = np.array([5, 2999, 17])
    gathered = with_codes.gathered(picked)
    assert np.array_equal(gathered[np.arange(3)], matrix[picked])
    assert np.array_equal(gathered.codes[np.arange(3)], codes[picked])
