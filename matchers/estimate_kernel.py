"""The compiled ranking step of the fuzzy indexes' candidate selection: of the ≈ 100 000 slots
that share a token with a query, the `rescore` with the best estimated ratio
(`fuzzy_index.select_candidates`).

Ranking every touched slot with `np.argpartition` took ≈ 0.6 ms a lookup at 1 M units, more than
summing the overlap. A compiled loop computes each estimate and counts it into a histogram of
0.01-point bins in one pass; a second pass keeps the slots in the bins that hold the best
`rescore`, and only those (a few thousand, unless most estimates share a bin) are partitioned
exactly. Until the loop is loaded (`matchers.compiled`) numpy takes the same two steps, so both
give the same candidates.
"""

from __future__ import annotations

import numpy as np

from matchers.compiled import BackgroundKernel, sample_like

# Histogram bins per point of estimated ratio (0–100).
BINS_PER_POINT = 100
_BINS = 100 * BINS_PER_POINT + 1


def best_estimated(
    weights: np.ndarray,
    slot_lengths: np.ndarray,
    query_length: int,
    query_weight: float,
    rescore: int,
    best_first: int = 0,
) -> np.ndarray:
    """Positions of the `rescore` slots with the highest estimated ratio (all when there are
    fewer), and with `best_first` (0 < best_first < what is returned) the `best_first` highest
    of them first, in no particular order within either group.

    A slot's estimate: the share of the query's weight (`query_weight`) it holds (`weights`,
    uint16 overlap sums) taken as characters of the query, over the combined length
    (`slot_lengths`, int32), capped by the length bound 200·min / sum of `fuzz.ratio`; in
    float32. Ties at the last place kept are broken the same way on both paths."""
    count = weights.size
    ordered = 0 < best_first < min(count, rescore)
    if count <= rescore and not ordered:
        return np.arange(count)
    query_chars = np.float32(query_length)
    factor = np.float32(200.0 / query_weight) * query_chars
    if count <= rescore:  # a few thousand at most: ranked as they are
        estimate = _estimate(weights, slot_lengths, query_chars, factor)
        return np.argpartition(-estimate, best_first)
    chosen, estimate = _at_or_above_the_cut(weights, slot_lengths, query_chars, factor, rescore)
    top = -estimate[chosen]
    if chosen.size > rescore:
        kth = (best_first, rescore) if ordered else rescore
        return chosen[np.argpartition(top, kth)[:rescore]]
    return chosen[np.argpartition(top, best_first)] if ordered else chosen


def wait_until_compiled(timeout: float | None = None) -> None:
    """Wait for the background loads started so far (tests, benchmarks)."""
    _KERNEL.wait(timeout)


def _at_or_above_the_cut(
    weights: np.ndarray,
    slot_lengths: np.ndarray,
    query_chars: np.float32,
    factor: np.float32,
    keep: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(positions of every slot in the histogram bins that hold the best `keep`, in order;
    every slot's estimate): at least `keep` positions, a bin's worth more at most."""
    arrays = (weights, slot_lengths)
    signature = tuple((a.dtype.str, a.flags.writeable) for a in arrays)
    compiled = _KERNEL.ready_for(signature, lambda kernel: _warm_up(kernel, arrays))
    if compiled is None:
        estimate = _estimate(weights, slot_lengths, query_chars, factor)
        bins = _bins(estimate)
        from_top = np.cumsum(np.bincount(bins, minlength=_BINS)[::-1])
        cut = _BINS - 1 - int(np.searchsorted(from_top, keep))
        return np.flatnonzero(bins >= cut), estimate
    estimate = np.empty(weights.size, dtype=np.float32)
    chosen = np.empty(weights.size, dtype=np.int64)
    found = compiled(weights, slot_lengths, query_chars, factor, keep, estimate, chosen)
    return chosen[:found], estimate


def _estimate(
    weights: np.ndarray, slot_lengths: np.ndarray, query_chars: np.float32, factor: np.float32
) -> np.ndarray:
    """The estimates with numpy, in place, in float32 (the same operations as the loop's)."""
    lengths = slot_lengths.astype(np.float32)
    estimate = weights.astype(np.float32)
    estimate *= factor
    np.minimum(estimate, np.float32(200.0) * np.minimum(lengths, query_chars), out=estimate)
    lengths += query_chars
    estimate /= lengths
    return estimate


def _bins(estimate: np.ndarray) -> np.ndarray:
    return np.minimum((estimate * np.float32(BINS_PER_POINT)).astype(np.int64), _BINS - 1)


def _warm_up(kernel, arrays: tuple[np.ndarray, ...]) -> None:
    # Arrays of the same types holding one slot.
    weights, slot_lengths = arrays
    kernel(
        sample_like(weights, [1]),
        sample_like(slot_lengths, [1]),
        np.float32(1.0),
        np.float32(1.0),
        1,
        np.empty(1, dtype=np.float32),
        np.empty(1, dtype=np.int64),
    )


def _cut_loop(
    weights: np.ndarray,
    slot_lengths: np.ndarray,
    query_chars: np.float32,
    factor: np.float32,
    keep: int,
    estimate: np.ndarray,
    chosen: np.ndarray,
) -> int:
    # The same float32 operations as `_estimate`, in the same order, so both paths give the
    # same estimates to the bit (no fastmath: no fused multiply-add).
    top = np.float32(200.0)
    scale = np.float32(BINS_PER_POINT)
    counts = np.zeros(_BINS, dtype=np.int64)
    for position in range(weights.size):
        length = np.float32(slot_lengths[position])
        value = np.float32(weights[position]) * factor
        bound = top * min(length, query_chars)
        if bound < value:
            value = bound
        value = value / (length + query_chars)
        estimate[position] = value
        bin_ = np.int64(value * scale)
        counts[bin_ if bin_ < _BINS else _BINS - 1] += 1
    cut = 0
    total = 0
    for level in range(_BINS - 1, -1, -1):
        total += counts[level]
        if total >= keep:
            cut = level
            break
    found = 0
    for position in range(weights.size):
        bin_ = np.int64(estimate[position] * scale)
        if (bin_ if bin_ < _BINS else _BINS - 1) >= cut:
            chosen[found] = position
            found += 1
    return found


_KERNEL = BackgroundKernel(_cut_loop, "tm-estimate-kernel")
