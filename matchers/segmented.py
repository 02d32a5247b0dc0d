"""Row storage of the near-duplicate index: a read-only base (mapped from a snapshot) plus rows
held in memory.

A snapshot's arrays are `np.load(mmap_mode="r")` views: every process on a machine shares one
page-cache copy, and none of them may write to it. Rows added after the snapshot (the delta) go
into small arrays of the process's own, numbered on from the base. Without a base (an index
built in the process) every row is the process's own, as before snapshots existed.

    Rows     a matrix (vectors, title vectors, MinHash signatures): row, gather, `dot`
    Ragged   one variable-length array per row (word hashes, shingles, section vectors)
    Strings  one string per row (titles), the base kept as UTF-8 bytes plus offsets
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

_INITIAL_OWN_ROWS = 256


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
        """Dot products of the first n rows with `vector` (einsum, segment by segment)."""
        b = self.base_rows
        if b == 0:
            return np.einsum("ij,j->i", self.own[:n], vector)
        head = np.einsum("ij,j->i", self.base[: min(n, b)], vector)
        if n <= b:
            return head
        return np.concatenate([head, np.einsum("ij,j->i", self.own[: n - b], vector)])

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
