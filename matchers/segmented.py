"""Row storage of the near-duplicate index: a read-only base (mapped from a snapshot) plus rows
held in memory.

A snapshot's arrays are `np.load(mmap_mode="r")` views: every process on a machine shares one
page-cache copy, and none of them may write to it. Rows added after the snapshot (the delta) go
into small arrays of the process's own, numbered on from the base. Without a base (an index
built in the process) every row is the process's own, as before snapshots existed.

    Rows        a matrix (MinHash signatures, …): row, gather, `dot`
    VectorRows  page or title vectors: Rows plus int16 copies, for `bounded_dot`
    Ragged      one variable-length array per row (word hashes, shingles, section vectors)
    Strings     one string per row (titles), the base kept as UTF-8 bytes plus offsets

`VectorRows.bounded_dot` is the scan behind every near-duplicate query (all pages of a language
against one vector): the int16 copies with an error bound, float32 where a decision needs it
(`matchers.vector_scan`); `Rows.dot` is the float32 scan. Above `PARALLEL_ROWS` rows either
splits the rows into one block per core and runs the blocks on a small thread pool (`in_blocks`):
numpy's einsum and the compiled loop release the GIL, and each row's product is computed the same
way whatever block it is in, so the values are bit-identical to one pass.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from matchers.vector_scan import CODE_DTYPE, BoundedScan, bound_terms, code_products, quantize

_INITIAL_OWN_ROWS = 256

# Rows from which a scan is split over threads: below it the hand-off (≈ 50 µs) is not worth it.
PARALLEL_ROWS = 16_384


def _scan_threads() -> int:
    """Threads per process for a scan: TM_SCAN_THREADS, else the cores, at most 4 (a 384-wide
    float32 scan is bound by memory bandwidth beyond that); 1 turns the threads off."""
    setting = os.environ.get("TM_SCAN_THREADS", "").strip()
    if not setting:
        return min(os.cpu_count() or 1, 4)
    if not setting.isdigit() or int(setting) < 1:
        raise ValueError(f"TM_SCAN_THREADS must be a whole number ≥ 1, not {setting!r}")
    return int(setting)


SCAN_THREADS = _scan_threads()

_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_pool_lock = threading.Lock()


def _scan_pool() -> ThreadPoolExecutor:
    """The process's scan threads, made on first use (and again in a forked child: a pool's
    threads do not survive fork)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(SCAN_THREADS, thread_name_prefix="tm-scan")
            _pool_pid = os.getpid()
        return _pool


def in_blocks(n: int, work: Callable[[int, int], object]) -> None:
    """Run `work(start, end)` over rows 0…n: in one block per scan thread when n is large
    (`work` must release the GIL to gain from it), else in one call."""
    if n < PARALLEL_ROWS or SCAN_THREADS == 1:
        work(0, n)
        return
    bounds = np.linspace(0, n, SCAN_THREADS + 1).astype(int)
    blocks = list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))
    pool = _scan_pool()
    futures = [pool.submit(work, start, end) for start, end in blocks[1:]]
    work(*blocks[0])
    for future in futures:
        future.result()


def scan(matrix: np.ndarray, vector: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """`matrix @ vector` by einsum, in blocks on the scan threads when the matrix is large."""
    n = matrix.shape[0]
    if out is None:
        out = np.empty(n, dtype=np.result_type(matrix.dtype, vector.dtype))
    result = out

    def block(start: int, end: int) -> None:
        np.einsum("ij,j->i", matrix[start:end], vector, out=result[start:end])

    in_blocks(n, block)
    return out


class Rows:
    """A matrix of `width` columns: base rows (read-only) then own rows (grown in chunks)."""

    def __init__(self, width: int, dtype: np.dtype | type, base: np.ndarray | None = None) -> None:
        self.width = width
        self.dtype = np.dtype(dtype)
        self.base = (
            np.zeros((0, width), dtype=self.dtype) if base is None else base.reshape(-1, width)
        )
        self.base_rows = int(self.base.shape[0])
        self.own = np.zeros((_INITIAL_OWN_ROWS, width), dtype=self.dtype)

    def __getitem__(self, index: int | np.integer | np.ndarray) -> np.ndarray:
        """One row (a view) for an int; gathered rows (a copy) for an array of rows."""
        b = self.base_rows
        if isinstance(index, int | np.integer):
            row = int(index)
            return self.base[row] if row < b else self.own[row - b]
        rows = np.asarray(index)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        if b == 0:
            return self.own[rows]
        out = np.empty((rows.size, self.width), dtype=self.dtype)
        in_base = rows < b
        out[in_base] = self.base[rows[in_base]]
        out[~in_base] = self.own[rows[~in_base] - b]
        return out.reshape((*rows.shape, self.width))

    def __setitem__(self, row: int, value: np.ndarray) -> None:
        own_row = row - self.base_rows
        if own_row < 0:
            raise ValueError("rows of a snapshot are read-only")
        self.reserve(row + 1)
        self.own[own_row] = value

    def reserve(self, n: int) -> None:
        """Room for n rows in all (own rows grown by doubling): rows never written (a page
        without a vector, after the last with one) read as zeros."""
        own_rows = n - self.base_rows
        if own_rows > self.own.shape[0]:
            grown_rows = max(own_rows, self.own.shape[0] * 2, _INITIAL_OWN_ROWS)
            grown = np.zeros((grown_rows, self.width), dtype=self.dtype)
            grown[: self.own.shape[0]] = self.own
            self.own = grown

    def dot(self, vector: np.ndarray, n: int) -> np.ndarray:
        """Dot products of the first n rows with `vector` (`scan`, segment by segment)."""
        self.reserve(n)
        b = self.base_rows
        if b == 0:
            return scan(self.own[:n], vector)
        if n <= b:
            return scan(self.base[:n], vector)
        out = np.empty(n, dtype=np.result_type(self.dtype, vector.dtype))
        scan(self.base, vector, out=out[:b])
        scan(self.own[: n - b], vector, out=out[b:])
        return out

    def head(self, n: int) -> np.ndarray:
        """The first n rows as one array (a copy when they span base and own rows)."""
        if self.base_rows == 0:
            return self.own[:n]
        if n <= self.base_rows:
            return self.base[:n]
        return np.concatenate([self.base, self.own[: n - self.base_rows]])


class VectorRows(Rows):
    """float32 vectors (one per row) plus their int16 copies and (scale, norm) per row, which
    `bounded_dot` reads first (`matchers.vector_scan`). A snapshot stores the copies too;
    given a base without them (an older snapshot), they are made here, in this process. Rows
    added in the process get theirs in one batch when next needed (a build adds pages one by
    one, and quantizing each alone cost more than the rest of an add)."""

    def __init__(
        self,
        width: int,
        base: np.ndarray | None = None,
        codes: np.ndarray | None = None,
        bounds: np.ndarray | None = None,
    ) -> None:
        super().__init__(width, np.float32, base)
        if base is not None and (codes is None or bounds is None):
            codes, bounds = quantize(self.base)
        self._codes = Rows(width, CODE_DTYPE, codes)
        self._bounds = Rows(2, np.float32, bounds)
        self._own_rows = 0  # own rows written so far
        self._coded_rows = 0  # own rows with their copies made

    def __setitem__(self, row: int, value: np.ndarray) -> None:
        super().__setitem__(row, value)
        own_row = row - self.base_rows
        if own_row < self._coded_rows:  # a row rewritten: its copy is stale
            self._coded_rows = own_row
        self._own_rows = max(self._own_rows, own_row + 1)

    @property
    def codes(self) -> Rows:
        """The int16 copies (`matchers.vector_scan.quantize`), every row's."""
        self._code_own_rows()
        return self._codes

    @property
    def bounds(self) -> Rows:
        """(scale, norm) per row, every row's."""
        self._code_own_rows()
        return self._bounds

    def _code_own_rows(self) -> None:
        start, end = self._coded_rows, self._own_rows
        if end <= start:
            return
        codes, bounds = quantize(self.own[start:end])
        for rows, values in ((self._codes, codes), (self._bounds, bounds)):
            rows.reserve(self.base_rows + end)
            rows.own[start:end] = values
        self._coded_rows = end

    def gathered(self, rows: np.ndarray) -> VectorRows:
        """These rows (renumbered 0…) as a store of this process's own."""
        taken = VectorRows(self.width)
        taken.own = self[rows]
        taken._codes.own = self.codes[rows]
        taken._bounds.own = self.bounds[rows]
        taken._own_rows = taken._coded_rows = int(np.asarray(rows).size)
        return taken

    def bounded_dot(self, vector: np.ndarray, n: int) -> BoundedScan:
        """Products of the first n rows with `vector` within a proven bound (int16 copies),
        exact for any rows `BoundedScan.resolve` is asked for; exact throughout while the
        compiled loop is not loaded yet."""
        query = np.array(vector, dtype=np.float32)  # a writable copy: one compiled signature
        b = self.base_rows
        all_codes, all_bounds = self.codes, self.bounds
        for rows in (self, all_codes, all_bounds):
            rows.reserve(n)
        segments = [
            (codes[:rows], bounds[:rows], start)
            for codes, bounds, start, rows in (
                (all_codes.base, all_bounds.base, 0, min(n, b)),
                (all_codes.own, all_bounds.own, b, max(n - b, 0)),
            )
            if rows > 0
        ]
        kernels = [code_products(codes, bounds) for codes, bounds, _ in segments]
        if any(kernel is None for kernel in kernels):
            return BoundedScan.exact_values(self.dot(query, n))
        values = np.empty(n, dtype=np.float32)
        error = np.empty(n, dtype=np.float32)
        per_scale, per_norm = bound_terms(query)
        for (codes, bounds, start), kernel in zip(segments, kernels, strict=True):
            end = start + codes.shape[0]
            part, part_error = values[start:end], error[start:end]

            def block(lo, hi, codes=codes, bounds=bounds, kernel=kernel, part=part, err=part_error):
                kernel(
                    codes[lo:hi], bounds[lo:hi], query, per_scale, per_norm, part[lo:hi], err[lo:hi]
                )

            in_blocks(codes.shape[0], block)

        def exact(rows: np.ndarray) -> np.ndarray:
            return np.einsum("ij,j->i", self[rows], query)

        return BoundedScan(values, error, exact)


class Ragged:
    """One array per row: base rows as a flat array plus offsets, own rows in a list.

    Rows may be None (no section vectors) where `present` says so."""

    def __init__(
        self,
        flat: np.ndarray | None = None,
        offsets: np.ndarray | None = None,
        present: np.ndarray | None = None,
    ) -> None:
        self.flat = flat
        self.offsets = offsets
        self.present = present
        self.base_rows = 0 if offsets is None else int(offsets.shape[0]) - 1
        self.own: list[np.ndarray | None] = []

    def __len__(self) -> int:
        return self.base_rows + len(self.own)

    def __getitem__(self, row: int) -> np.ndarray:
        return self.get(row)  # type: ignore[return-value]

    def get(self, row: int) -> np.ndarray | None:
        if row >= self.base_rows:
            return self.own[row - self.base_rows]
        if self.present is not None and not self.present[row]:
            return None
        assert self.flat is not None and self.offsets is not None
        return self.flat[int(self.offsets[row]) : int(self.offsets[row + 1])]

    def append(self, value: np.ndarray | None) -> None:
        self.own.append(value)

    def rows(self, n: int) -> Iterator[np.ndarray | None]:
        for row in range(n):
            yield self.get(row)

    @staticmethod
    def pack(
        values: list[np.ndarray | None], dtype: np.dtype | type, width: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(flat, offsets, present) of the given rows: what a snapshot stores."""
        shape = (0,) if width is None else (0, width)
        parts = [np.zeros(shape, dtype=dtype) if v is None else np.asarray(v) for v in values]
        sizes = np.array([p.shape[0] for p in parts], dtype=np.int64)
        offsets = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        flat = np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(shape, dtype)
        present = np.array([v is not None for v in values], dtype=bool)
        return flat, offsets, present


class Strings:
    """One string per row: base rows as UTF-8 bytes plus offsets, own rows in a list."""

    def __init__(self, data: np.ndarray | None = None, offsets: np.ndarray | None = None) -> None:
        self.data = data
        self.offsets = offsets
        self.base_rows = 0 if offsets is None else int(offsets.shape[0]) - 1
        self.own: list[str] = []

    def __len__(self) -> int:
        return self.base_rows + len(self.own)

    def __getitem__(self, row: int) -> str:
        if row >= self.base_rows:
            return self.own[row - self.base_rows]
        assert self.data is not None and self.offsets is not None
        start, end = int(self.offsets[row]), int(self.offsets[row + 1])
        return bytes(self.data[start:end]).decode("utf-8")

    def append(self, value: str) -> None:
        self.own.append(value)

    @staticmethod
    def pack(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(data, offsets) of the given strings: what a snapshot stores."""
        encoded = [value.encode("utf-8") for value in values]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), offsets


__all__ = ["Ragged", "Rows", "Strings"]
