"""The near-duplicate index's row storage: the exact scan gives the same cosines however it is
split (over threads, over the snapshot's base and the in-memory rows)."""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest

from matchers import segmented
from matchers.segmented import Rows, scan


@pytest.fixture
def matrix() -> np.ndarray:
    rng = np.random.default_rng(7)
    rows = rng.standard_normal((segmented.PARALLEL_ROWS * 2 + 13, 384), dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.parametrize("threads", [1, 2, 3, 4])
def test_a_threaded_scan_is_bit_identical_to_one_einsum(
    matrix: np.ndarray, threads: int, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(segmented, "SCAN_THREADS", threads)
    vector = matrix[5]
    expected = np.einsum("ij,j->i", matrix, vector)
    got = scan(matrix, vector)
    assert got.dtype == np.float32
    assert np.array_equal(got, expected)  # every block written, none with another's rows
    assert got[5] == pytest.approx(1.0, abs=1e-5)


def test_dot_over_base_and_own_rows_equals_a_scan_of_all_of_them(matrix: np.ndarray):
    base_rows = segmented.PARALLEL_ROWS + 100
    rows = Rows(384, np.float32, base=matrix[:base_rows])
    for i, row in enumerate(matrix[base_rows:]):
        rows[base_rows + i] = row
    vector = matrix[-1]
    expected = np.einsum("ij,j->i", matrix, vector)
    assert np.array_equal(rows.dot(vector, matrix.shape[0]), expected)
    assert np.array_equal(rows.dot(vector, 1000), expected[:1000])
    assert np.array_equal(rows.dot(vector, base_rows + 5), expected[: base_rows + 5])


def _scan_in_child(matrix: np.ndarray, queue) -> None:
    queue.put(np.array_equal(scan(matrix, matrix[0]), np.einsum("ij,j->i", matrix, matrix[0])))


def test_a_forked_worker_scans_on_threads_of_its_own(
    matrix: np.ndarray, monkeypatch: pytest.MonkeyPatch
):
    # rq forks a work horse per job, gunicorn forks its workers: the parent's pool threads do
    # not exist in the child, so a child that reused the pool would wait for ever.
    monkeypatch.setattr(segmented, "SCAN_THREADS", 2)
    scan(matrix, matrix[0])  # the parent's pool exists
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_scan_in_child, args=(matrix, queue))
    child.start()
    child.join(timeout=30)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child's scan never finished")
    assert queue.get(timeout=5) is True


@pytest.mark.parametrize("setting", ["0", "two", "-1", "1.5"])
def test_a_bad_scan_threads_setting_is_refused_by_name(
    setting: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TM_SCAN_THREADS", setting)
    with pytest.raises(ValueError, match="TM_SCAN_THREADS must be a whole number"):
        segmented._scan_threads()


def test_scan_threads_default_to_the_cores_at_most_four(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("TM_SCAN_THREADS", raising=False)
    assert segmented._scan_threads() == min(os.cpu_count() or 1, 4)
    monkeypatch.setenv("TM_SCAN_THREADS", "3")
    assert segmented._scan_threads() == 3
