"""Row storage of the near-duplicate index: a read-only base (mapped from a snapshot) plus rows
held in memory.

A snapshot's arrays are `np.load(mmap_mode="r")` views: every process on a machine shares one
page-cache copy, and none of them may write to it. Rows added after the snapshot (the delta) go
into small arrays of the process's own, numbered on from the base. Without a base (an index
built in the process) every row is the process's own, as before snapshots existed.

    Rows     a matrix (vectors, title vectors, MinHash signatures): row, gather, `dot`
    Ragged   one variable-length array per row (word hashes, shingles, section vectors)
    Strings  one string per row (titles), the base kept as UTF-8 bytes plus offsets

`Rows.dot` is the exact scan behind every near-duplicate query (all pages of a language against
one vector). Above `PARALLEL_ROWS` rows it splits the rows into one block per core and runs the
blocks on a small thread pool: numpy's einsum releases the GIL, each row's dot product is
computed the same way whatever block it is in, so the cosines are bit-identical to one einsum.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

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


def scan(matrix: np.ndarray, vector: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """`matrix @ vector` by einsum, in blocks on the scan threads when the matrix is large."""
    n = matrix.shape[0]
    if out is None:
        out = np.empty(n, dtype=np.result_type(matrix.dtype, vector.dtype))
    if n < PARALLEL_ROWS or SCAN_THREADS == 1:
        return np.einsum("ij,j->i", matrix, vector, out=out)
    bounds = np.linspace(0, n, SCAN_THREADS + 1).astype(int)
    blocks = list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))
    pool = _scan_pool()
    futures = [
        pool.submit(np.einsum, "ij,j->i", matrix[start:end], vector, out=out[start:end])
        for start, end in blocks[1:]
    ]
    start, end = blocks[0]
    np.einsum("ij,j->i", matrix[start:end], vector, out=out[start:end])
    for future in futures:
        future.result()
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
        while own_row >= self.own.shape[0]:
            grown_rows = max(self.own.shape[0] * 2, _INITIAL_OWN_ROWS)
            grown = np.zeros((grown_rows, self.width), dtype=self.dtype)
            grown[: self.own.shape[0]] = self.own
            self.own = grown
        self.own[own_row] = value

    def dot(self, vector: np.ndarray, n: int) -> np.ndarray:
        """Dot products of the first n rows with `vector` (`scan`, segment by segment)."""
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
