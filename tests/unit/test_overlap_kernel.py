"""The overlap sums, compiled or with numpy while the compiled loop loads, are what a plain
numpy computation gives, for the slots that should be kept, in first-touch order, and leave the
scratch buffer as they found it."""

import numpy as np
import pytest

from matchers import overlap_kernel
from matchers.compiled import BackgroundKernel


def fresh_kernel() -> BackgroundKernel:
    """The overlap loop as a process that has not loaded it yet sees it."""
    return BackgroundKernel(overlap_kernel._accumulate, overlap_kernel._KERNEL.thread_name)


def reference(flat, bounds, steps, lengths, window, accepted_bytes):
    """Sum of steps per slot over the lists, by numpy, for accepted slots in the window."""
    sums = np.zeros(lengths.size, dtype=np.int64)
    for index, step in enumerate(steps.tolist()):
        np.add.at(sums, flat[bounds[index] : bounds[index + 1]], step)
    keep = (sums > 0) & (accepted_bytes != 0) & (lengths >= window[0]) & (lengths <= window[1])
    return {int(slot): int(sums[slot]) for slot in np.flatnonzero(keep)}


def run(path: str, *args, by_length: bool = False):
    """`accumulate` by the numpy path (the compiled loop not loaded yet) or the compiled one."""
    if path == "numpy":
        return overlap_kernel._accumulate_numpy(*args)
    overlap_kernel.accumulate(*args, by_length)  # starts the background compile for these types
    overlap_kernel.wait_until_compiled(timeout=120)
    arrays = args[:5] + args[6:7]
    signature = (args[-1], by_length, *((a.dtype.str, a.flags.writeable) for a in arrays))
    assert signature in overlap_kernel._KERNEL._ready
    return overlap_kernel.accumulate(*args, by_length)


@pytest.mark.parametrize("path", ["numpy", "compiled"])
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sums_match_numpy_for_accepted_slots_in_the_window(path: str, packed: bool, seed: int):
    rng = np.random.default_rng(seed)
    total = 5_000
    lists = [
        np.sort(rng.choice(total, size=int(size), replace=False)).astype(np.int32)
        for size in rng.integers(1, 900, size=12)
    ]
    flat = np.concatenate(lists)
    bounds = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum([len(part) for part in lists], out=bounds[1:])
    steps = rng.integers(1, 400, size=len(lists)).astype(np.uint16)
    lengths = rng.integers(1, 200, size=total).astype(np.uint16 if packed else np.int32)
    accepted_bytes = (rng.random(total) < 0.6).astype(np.uint8)
    accepted = np.packbits(accepted_bytes, bitorder="little") if packed else accepted_bytes
    window = (30.4, 120.0)
    scratch = np.zeros(total, dtype=np.uint16)

    slots, sums, kept_lengths = run(
        path, flat, bounds, steps, scratch, lengths, window, accepted, packed
    )

    expected = reference(flat, bounds, steps, lengths, window, accepted_bytes)
    assert dict(zip(slots.tolist(), sums.tolist(), strict=True)) == expected
    assert len(slots) == len(expected)  # each kept slot once
    assert kept_lengths.tolist() == lengths[slots].tolist()
    assert not scratch.any()  # zeroed again for the next query


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lists_ordered_by_length_are_read_only_inside_the_window_with_the_same_result(
    packed: bool, seed: int
):
    # A snapshot orders each list by its slots' lengths (matchers.form_index): the compiled
    # loop then reads only each list's part inside the window. Its slots, in first-touch order,
    # sums and lengths are those of the numpy path, which reads every posting, and of the
    # compiled loop told nothing of the order; windows reaching past both ends included.
    rng = np.random.default_rng(seed)
    total = 5_000
    lengths = rng.integers(1, 200, size=total).astype(np.uint16)
    lists = []
    for size in rng.integers(1, 900, size=12):
        part = np.sort(rng.choice(total, size=int(size), replace=False))
        lists.append(part[np.argsort(lengths[part], kind="stable")].astype(np.int32))
    flat = np.concatenate(lists)
    bounds = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum([len(part) for part in lists], out=bounds[1:])
    steps = rng.integers(1, 400, size=len(lists)).astype(np.uint16)
    accepted_bytes = (rng.random(total) < 0.6).astype(np.uint8)
    accepted = np.packbits(accepted_bytes, bitorder="little") if packed else accepted_bytes
    for window in [(30.4, 120.0), (0.0, 1000.0), (150.2, 150.9), (199.5, 400.0), (0.0, 0.5)]:
        scratch = np.zeros(total, dtype=np.uint16)
        args = (flat, bounds, steps, scratch, lengths, window, accepted, packed)
        expected = [part.tolist() for part in run("numpy", *args)]
        assert [part.tolist() for part in run("compiled", *args, by_length=True)] == expected
        assert [part.tolist() for part in run("compiled", *args)] == expected
        assert not scratch.any()
        reference_sums = reference(flat, bounds, steps, lengths, window, accepted_bytes)
        assert dict(zip(expected[0], expected[1], strict=True)) == reference_sums


@pytest.mark.parametrize("path", ["numpy", "compiled"])
def test_slots_come_in_first_touch_order(path: str):
    # The candidate ranking breaks estimate ties by position: the order must not depend on
    # anything but the lists' order, nor on which path summed them.
    flat = np.array([7, 9, 2, 9, 4], dtype=np.int32)
    bounds = np.array([0, 2, 5], dtype=np.int64)
    lengths = np.full(10, 5, dtype=np.int32)
    slots, sums, _ = run(
        path,
        flat,
        bounds,
        np.array([3, 1], dtype=np.uint16),
        np.zeros(10, dtype=np.uint16),
        lengths,
        (0.0, 10.0),
        np.ones(10, dtype=np.uint8),
        False,
    )
    assert slots.tolist() == [7, 9, 2, 4]
    assert sums.tolist() == [3, 4, 1, 1]


def test_compiles_without_a_disk_cache_where_none_can_be_written(monkeypatch):
    # numba refuses `cache=True` when it finds no writable cache folder (a read-only install
    # without $HOME): the kernel is then compiled in the process instead of failing lookups.
    import numba

    real_njit = numba.njit
    asked = []

    def njit(**options):
        asked.append(options.get("cache"))
        if options.get("cache"):
            raise RuntimeError("cannot cache function '_accumulate': no locator available")
        return real_njit(**options)

    monkeypatch.setattr(numba, "njit", njit)
    monkeypatch.setattr(overlap_kernel, "_KERNEL", fresh_kernel())
    args = (
        np.array([1, 1], dtype=np.int32),
        np.array([0, 1, 2], dtype=np.int64),
        np.array([2, 5], dtype=np.uint16),
        np.zeros(4, dtype=np.uint16),
        np.full(4, 3, dtype=np.int32),
        (1.0, 5.0),
        np.ones(4, dtype=np.uint8),
        False,
    )
    slots, sums, _ = run("compiled", *args)
    assert asked == [True, False]
    assert (slots.tolist(), sums.tolist()) == ([1], [7])


def test_a_search_does_not_wait_for_the_compiler(monkeypatch):
    # A process's first fuzzy searches answer with numpy while the loop loads in the
    # background; a loop that cannot load at all leaves numpy in charge, without retrying.
    import numba

    def njit(**options):
        raise ImportError("numba is broken here")

    monkeypatch.setattr(numba, "njit", njit)
    kernel = fresh_kernel()
    monkeypatch.setattr(overlap_kernel, "_KERNEL", kernel)
    args = (
        np.array([3], dtype=np.int32),
        np.array([0, 1], dtype=np.int64),
        np.array([4], dtype=np.uint16),
        np.zeros(5, dtype=np.uint16),
        np.full(5, 2, dtype=np.int32),
        (1.0, 5.0),
        np.ones(5, dtype=np.uint8),
        False,
    )
    for _ in range(3):
        slots, sums, _ = overlap_kernel.accumulate(*args)
        assert (slots.tolist(), sums.tolist()) == ([3], [4])
        overlap_kernel.wait_until_compiled(timeout=60)
    assert len(kernel._failed) == 1 and not kernel._ready


def test_loading_a_loop_never_swaps_the_process_s_stdout():
    # numba would colour its compile-time messages with colorama, which replaces sys.stdout
    # for a moment: a CLI command's output printed then was lost from a load thread.
    import os
    import subprocess
    import sys

    code = (
        "import matchers.compiled\n"
        "from numba.core import errors\n"
        "print(type(errors.termcolor()).__name__)\n"
    )
    env = dict(os.environ)
    env.pop("NUMBA_DISABLE_ERROR_MESSAGE_HIGHLIGHTING", None)
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert found.stdout.strip() == "NOPColorScheme"
