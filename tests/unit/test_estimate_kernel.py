"""The best-estimated candidates, compiled or with numpy while the compiled loop loads, are the
`rescore` highest estimates (the `best_first` highest first), the same positions on both paths."""

import numpy as np
import pytest

from matchers import estimate_kernel
from matchers.compiled import BackgroundKernel


def fresh_kernel() -> BackgroundKernel:
    """The ranking loop as a process that has not loaded it yet sees it."""
    return BackgroundKernel(estimate_kernel._cut_loop, estimate_kernel._KERNEL.thread_name)


def estimates(weights, lengths, query_length, query_weight):
    """The estimate of each slot in float64: share of the query's weight as characters over the
    combined length, capped by the length bound."""
    weights = weights.astype(np.float64)
    lengths = lengths.astype(np.float64)
    found = weights * 200.0 / query_weight * query_length
    return np.minimum(found, 200.0 * np.minimum(lengths, query_length)) / (lengths + query_length)


def run(path: str, monkeypatch, *args, **kwargs):
    """`best_estimated` by the numpy path (the loop not loaded) or by the compiled loop."""
    if path == "numpy":
        monkeypatch.setattr(estimate_kernel._KERNEL, "ready_for", lambda *_: None)
        return estimate_kernel.best_estimated(*args, **kwargs)
    # More candidates than kept: the call that starts the background load of the loop.
    weights, lengths = candidates(9, 40)
    estimate_kernel.best_estimated(weights, lengths, 30, 1_000.0, 10)
    estimate_kernel.wait_until_compiled(timeout=120)
    assert estimate_kernel._KERNEL._ready
    return estimate_kernel.best_estimated(*args, **kwargs)


def candidates(seed: int, count: int):
    rng = np.random.default_rng(seed)
    weights = rng.integers(1, 60_000, size=count).astype(np.uint16)
    lengths = rng.integers(5, 300, size=count).astype(np.int32)
    return weights, lengths


@pytest.mark.parametrize("path", ["numpy", "compiled"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_keeps_the_highest_estimates_and_puts_the_best_first_ahead(path, seed, monkeypatch):
    weights, lengths = candidates(seed, 20_000)
    picked = run(path, monkeypatch, weights, lengths, 60, 65_000.0, 3_000, 500)

    exact = estimates(weights, lengths, 60, 65_000.0)
    assert len(picked) == 3_000 and len(set(picked.tolist())) == 3_000
    # Every kept slot scores at least as high as every slot left out (float32 rounding aside).
    left_out = np.setdiff1d(np.arange(weights.size), picked)
    assert exact[picked].min() >= exact[left_out].max() - 1e-4
    # The first 500 are the 500 best of those kept.
    assert exact[picked[:500]].min() >= exact[picked[500:]].max() - 1e-4


@pytest.mark.parametrize("seed", [3, 4])
def test_both_paths_pick_the_same_positions_in_the_same_order(seed, monkeypatch):
    # Ties at the last place kept go the same way on both paths: a process's answers do not
    # change when its compiled loop becomes ready.
    weights, lengths = candidates(seed, 50_000)
    weights[::7] = 900  # many equal estimates, some of them at the cut
    lengths[::7] = 80
    args = (weights, lengths, 80, 20_000.0, 3_000, 500)

    compiled = run("compiled", monkeypatch, *args)
    with_numpy = run("numpy", monkeypatch, *args)
    assert compiled.tolist() == with_numpy.tolist()


@pytest.mark.parametrize("path", ["numpy", "compiled"])
def test_fewer_candidates_than_rescore_are_all_kept(path, monkeypatch):
    weights, lengths = candidates(5, 1_200)
    unordered = run(path, monkeypatch, weights, lengths, 40, 30_000.0, 3_000)
    assert unordered.tolist() == list(range(1_200))

    ordered = run(path, monkeypatch, weights, lengths, 40, 30_000.0, 3_000, 100)
    exact = estimates(weights, lengths, 40, 30_000.0)
    assert sorted(ordered.tolist()) == list(range(1_200))
    assert exact[ordered[:100]].min() >= exact[ordered[100:]].max() - 1e-4


@pytest.mark.parametrize("path", ["numpy", "compiled"])
@pytest.mark.parametrize("extra", [0, 1])
@pytest.mark.parametrize("best_first", [0, 100, 2_999])
def test_as_many_candidates_as_rescore_or_one_more(path, extra, best_first, monkeypatch):
    weights, lengths = candidates(7, 3_000 + extra)
    picked = run(path, monkeypatch, weights, lengths, 60, 65_000.0, 3_000, best_first)

    exact = estimates(weights, lengths, 60, 65_000.0)
    assert len(picked) == 3_000 and len(set(picked.tolist())) == 3_000
    if extra:
        assert exact[picked].min() >= np.delete(exact, picked).max() - 1e-4
    if best_first:
        assert exact[picked[:best_first]].min() >= exact[picked[best_first:]].max() - 1e-4


def test_a_search_does_not_wait_for_the_compiler(monkeypatch):
    # While the loop loads, or where it cannot load at all, numpy picks the same candidates.
    import numba

    def njit(**options):
        raise ImportError("numba is broken here")

    monkeypatch.setattr(numba, "njit", njit)
    kernel = fresh_kernel()
    monkeypatch.setattr(estimate_kernel, "_KERNEL", kernel)
    weights, lengths = candidates(6, 5_000)
    exact = estimates(weights, lengths, 50, 40_000.0)
    for _ in range(3):
        picked = estimate_kernel.best_estimated(weights, lengths, 50, 40_000.0, 10)
        assert len(picked) == 10
        assert exact[picked].min() >= np.delete(exact, picked).max() - 1e-4
        estimate_kernel.wait_until_compiled(timeout=60)
    assert len(kernel._failed) == 1 and not kernel._ready
