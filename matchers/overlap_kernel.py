"""The compiled inner loop of the fuzzy indexes' candidate selection: summing each slot's
token weights over the query's postings lists (`fuzzy_index.weighted_overlap`).

numpy needs a gather, a comparison, a mask, an add and a scatter per postings list (five passes
and as many temporary arrays); one compiled loop reads each posting once. It is loaded in a
background thread started by a process's first fuzzy search (`matchers.compiled`); until then
the same sums come from numpy.
"""

from __future__ import annotations

import numpy as np

from matchers.compiled import BackgroundKernel, sample_like


def accumulate(
    flat: np.ndarray,
    bounds: np.ndarray,
    steps: np.ndarray,
    scratch: np.ndarray,
    lengths: np.ndarray,
    window: tuple[float, float],
    accepted: np.ndarray,
    packed: bool,
    by_length: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add `steps[i]` to `scratch[slot]` for each accepted slot of postings list i, the lists
    laid end to end in `flat` (int32) with list i at `flat[bounds[i]:bounds[i + 1]]` (each list
    holding a slot at most once). Return the slots touched whose length (`lengths[slot]`) lies
    in `window` (shortest, longest), in first-touch order, with their sums and lengths; leave
    `scratch` (uint16, zeroed, ≥ every slot) zeroed again.

    `by_length`: each list is ordered by `lengths[slot]` too (`matchers.form_index` numbers its
    slots by length), and the compiled loop reads only the part of each list inside the window,
    found by binary search: about half of a query's postings at min_score 70 lie outside it.
    The result is the same as reading every posting.

    `accepted` says which slots count: a byte per slot (non-zero: yes), or with `packed` a bit
    per slot (`np.packbits(…, bitorder="little")`). It is read first, so a refused slot costs
    no access to the larger `scratch`. Every step must be ≥ 1 (a slot still at 0 has not been
    touched) and the steps' total must fit 16 bits (the caller scales them so).

    Until the compiled loop is ready for these argument types, a background thread loads it
    (numba's import and the disk cache: ≈ 0.7 s, a compile ≈ 1 s) and this call, and those
    before it is done, take the same sums with numpy: no request waits for the compiler."""
    arrays = (flat, bounds, steps, scratch, lengths, accepted)
    signature = (packed, by_length, *((a.dtype.str, a.flags.writeable) for a in arrays))
    compiled = _KERNEL.ready_for(
        signature, lambda kernel: _warm_up(kernel, arrays, packed, by_length)
    )
    if compiled is None:
        return _accumulate_numpy(flat, bounds, steps, scratch, lengths, window, accepted, packed)
    touched = np.empty(flat.size, dtype=np.int32)
    count, sums, kept_lengths = compiled(
        flat,
        bounds,
        steps,
        scratch,
        lengths,
        float(window[0]),
        float(window[1]),
        accepted,
        packed,
        by_length,
        touched,
    )
    return touched[:count], sums, kept_lengths


def wait_until_compiled(timeout: float | None = None) -> None:
    """Wait for the background loads started so far (tests, benchmarks)."""
    _KERNEL.wait(timeout)


def _warm_up(kernel, arrays: tuple[np.ndarray, ...], packed: bool, by_length: bool) -> None:
    # Arrays of the same types holding one list of slot 0.
    flat, bounds, steps, scratch, lengths, accepted = (
        sample_like(array, values)
        for array, values in zip(arrays, ([0], [0, 1], [1], [0], [1], [1]), strict=True)
    )
    touched = np.empty(1, np.int32)
    kernel(flat, bounds, steps, scratch, lengths, 0.0, 1.0, accepted, packed, by_length, touched)


def _accumulate_numpy(
    flat: np.ndarray,
    bounds: np.ndarray,
    steps: np.ndarray,
    scratch: np.ndarray,
    lengths: np.ndarray,
    window: tuple[float, float],
    accepted: np.ndarray,
    packed: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`accumulate` with numpy: a gather and a scatter per list, then the same filters."""
    parts = []
    for index in range(steps.size):
        view = flat[bounds[index] : bounds[index + 1]]
        values = scratch[view]
        parts.append(view[values == 0])  # still 0: touched first by this list
        scratch[view] = values + steps[index]
    slots = np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)
    sums = scratch[slots]
    scratch[slots] = 0
    slot_lengths = lengths[slots]
    if packed:
        ok = ((accepted[slots >> 3] >> (slots & 7).astype(np.uint8)) & 1).astype(bool)
    else:
        ok = accepted[slots] != 0
    ok &= (slot_lengths >= window[0]) & (slot_lengths <= window[1])
    return slots[ok], sums[ok], slot_lengths[ok].astype(np.int32)


def _accumulate(
    flat: np.ndarray,
    bounds: np.ndarray,
    steps: np.ndarray,
    scratch: np.ndarray,
    lengths: np.ndarray,
    shortest: float,
    longest: float,
    accepted: np.ndarray,
    packed: bool,
    by_length: bool,
    touched: np.ndarray,
) -> tuple[int, np.ndarray, np.ndarray]:
    # Without branches on the data: whether a slot is accepted, in the window or touched for
    # the first time is random from one posting to the next, and a mispredicted branch cost
    # more than the work it would skip (measured ≈ 45 % faster on a 10 M-unit snapshot). A
    # refused slot gets a step of 0, and its entry in `touched` is overwritten by the next.
    lowest = np.int64(np.ceil(shortest))
    highest = np.int64(np.floor(longest))
    kept_lengths = np.empty(flat.size, dtype=np.int32)
    count = 0
    for index in range(steps.size):
        step = np.int64(steps[index])
        start, end = bounds[index], bounds[index + 1]
        if by_length:  # the list's part inside the window: two binary searches
            low, high = start, end
            while low < high:
                middle = (low + high) >> 1
                if lengths[flat[middle]] < lowest:
                    low = middle + 1
                else:
                    high = middle
            start = low
            high = end
            while low < high:
                middle = (low + high) >> 1
                if lengths[flat[middle]] <= highest:
                    low = middle + 1
                else:
                    high = middle
            end = low
        for position in range(start, end):
            slot = flat[position]
            if packed:
                ok = np.int64((accepted[slot >> 3] >> (slot & 7)) & 1)
            else:
                ok = np.int64(accepted[slot] != 0)
            length = np.int64(lengths[slot])
            ok &= (length >= lowest) & (length <= highest)
            value = scratch[slot]
            scratch[slot] = value + step * ok
            touched[count] = slot
            kept_lengths[count] = length
            count += ok & (value == 0)
    sums = np.empty(count, dtype=np.uint16)
    for index in range(count):
        slot = touched[index]
        sums[index] = scratch[slot]
        scratch[slot] = 0
    return count, sums, kept_lengths[:count]


_KERNEL = BackgroundKernel(_accumulate, "tm-overlap-kernel")
