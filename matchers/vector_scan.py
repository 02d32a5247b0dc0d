"""An exact nearest-vector scan that reads half the bytes: int16 copies first, with a proven
error bound, then float32 only for the rows the bound leaves undecided.

A near-duplicate query scans every page vector of a language (`matchers.near_duplicates`);
at 100 000 pages with title vectors that is ≈ 300 MB of float32 a query, and the scan is bound
by memory bandwidth. Each row v (float32) also has an int16 copy: k = round(v / s) with the
row's scale s = max|vᵢ| / 32767, so |vᵢ − s·kᵢ| ≤ s/2. For a query q the int16 product
differs from the float32 cosine by at most

    s · ½ · Σ|qᵢ|                     (the rounding of the copy; Cauchy–Schwarz is looser)
  + 2 · (d + 2) · 2⁻²⁴ · |q| · |v|     (float32 summation in either product, in any order)

(with a small safety factor on both): ≈ 4·10⁻⁵ for 384-wide unit vectors. `BoundedScan` holds
the int16 products with that bound per row; every decision a query makes (the top k, a rank, a
count above a value) is taken from the bounds where they settle it, and from exact float32
products of the few rows where they do not (`resolve`). So every answer equals the float32
scan's, bit for bit: the int16 copy only decides which rows need reading.

int8 copies would read half as much again, but their bound (≈ 0.01) leaves thousands of rows
undecided where a query compares with a cosine in the crowded middle of the distribution (the
rank of a page outside the top list), and reading those rows cost more than the scan saved.

The int16 product is a compiled loop (`matchers.compiled`); until it has loaded, and for
matrices without an int16 copy, `BoundedScan` holds the exact float32 products with a bound of 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from matchers.compiled import BackgroundKernel

CODE_DTYPE = np.int16
CODE_MAX = 32767
# Safety factors on the two error terms: the bound must never be below the true error.
_ROUNDING_FACTOR = 0.5 * (1 + 1e-3)
_SUMMATION_FACTOR = 2.0 * 1.01
# And on their sum, for the float32 arithmetic that evaluates it (and the bound's own use).
_SLACK = 1 + 1e-3
# `BoundedScan.top` finds its floor among every FLOOR_STRIDE-th row first (`_floor`).
FLOOR_STRIDE = 8


def quantize(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int16 codes (rows × d) and per-row (scale, norm) float32 pairs of float32 rows."""
    rows = np.asarray(rows, dtype=np.float32).reshape(-1, rows.shape[-1])
    peak = np.abs(rows).max(axis=1, initial=0.0)
    scale = (peak / CODE_MAX).astype(np.float32)
    safe = np.where(scale > 0, scale, np.float32(1))
    codes = np.clip(np.rint(rows / safe[:, None]), -CODE_MAX, CODE_MAX).astype(CODE_DTYPE)
    norms = np.linalg.norm(rows, axis=1).astype(np.float32)
    return codes, np.stack([scale, norms], axis=1).astype(np.float32)


class BoundedScan:
    """The dot products of n rows with a query: `values` within `error` of the float32 ones
    (error 0 where a row has been resolved), and `resolve` to make rows exact."""

    def __init__(
        self,
        values: np.ndarray,
        error: np.ndarray | None,
        exact: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        self.values = values
        self.error = np.zeros(values.size, dtype=np.float32) if error is None else error
        self._exact = exact

    @classmethod
    def exact_values(cls, values: np.ndarray) -> BoundedScan:
        """Products known exactly already (the float32 scan): nothing is ever resolved."""

        def already_exact(rows: np.ndarray) -> np.ndarray:
            return values[rows]

        return cls(values, None, already_exact)

    def resolve(self, rows: np.ndarray) -> None:
        """Make these rows' values the float32 products."""
        rows = np.asarray(rows, dtype=np.int64)
        rows = rows[self.error[rows] > 0]
        if rows.size:
            self.values[rows] = self._exact(rows)
            self.error[rows] = 0

    def value(self, row: int) -> float:
        """One row's float32 product."""
        if self.error[row] > 0:
            self.resolve(np.array([row]))
        return float(self.values[row])

    def top(self, valid: np.ndarray, take: int, keys: np.ndarray) -> np.ndarray:
        """The `take` valid rows of highest product, highest first, resolved; equal products
        go by key (so the answer does not depend on where a row sits). `take` ≤ valid rows."""
        n = valid.size
        values, error = self.values[:n], self.error[:n]
        lower = np.where(valid, values - error, -np.inf)
        # The take-th highest lower bound: every row of the true top has a product ≥ it, and
        # a row whose upper bound is below it is neither in the top nor tied with its last.
        possible = np.flatnonzero(valid & (values + error >= _floor(lower, take)))
        self.resolve(possible)
        cosines = self.values[possible]
        best = np.argpartition(-cosines, take - 1)[:take]
        weakest = cosines[best].min()
        above = np.flatnonzero(cosines > weakest)
        tied = np.flatnonzero(cosines == weakest)
        if above.size + tied.size > take:
            tied = tied[np.argsort(keys[possible[tied]], kind="stable")][: take - above.size]
            best = np.concatenate([above, tied])
        top = possible[best]
        return top[np.lexsort((keys[top], -self.values[top]))]

    def count_above(self, threshold: float, valid: np.ndarray) -> int:
        """How many valid rows have a product > threshold."""
        n = valid.size
        values, error = self.values[:n], self.error[:n]
        undecided = valid & (values - error <= threshold) & (values + error > threshold)
        self.resolve(np.flatnonzero(undecided))
        return int(np.count_nonzero(valid & (self.values[:n] > threshold)))

    def resolve_near(
        self, groups: np.ndarray, probe_groups: np.ndarray, probes: np.ndarray, valid: np.ndarray
    ) -> None:
        """Resolve each valid row whose bounds hold one of its group's probe values: row r is
        in group `groups[r]`, probe i is `probes[i]` (float32) of group `probe_groups[i]`.
        Afterwards every valid row's value compares with every probe of its group (>, ==, <)
        as its float32 product does: a row left unresolved lies wholly above or below each."""
        n = valid.size
        values, error, groups = self.values[:n], self.error[:n], groups[:n]
        probes = np.asarray(probes, dtype=np.float32)
        lowest = np.full(int(groups.max(initial=0)) + 1, np.inf, np.float32)
        np.minimum.at(lowest, probe_groups, probes)
        highest = np.full(lowest.size, -np.inf, np.float32)
        np.maximum.at(highest, probe_groups, probes)
        # A cheap pass first: the rows whose bounds meet their group's range of probes.
        near = np.flatnonzero(
            valid & (values + error > lowest[groups]) & (values - error <= highest[groups])
        )
        if not near.size:
            return
        # Then exactly: is there a probe p of the row's group with lower ≤ p < upper?
        probe_keys = np.sort(ordered_keys(probe_groups, probes))
        low = ordered_keys(groups[near], values[near] - error[near])
        high = ordered_keys(groups[near], values[near] + error[near])
        first = np.searchsorted(probe_keys, low, side="left")
        inside = first < probe_keys.size
        inside[inside] = probe_keys[first[inside]] < high[inside]
        self.resolve(near[inside])


def _floor(lower: np.ndarray, take: int) -> float:
    """The take-th highest of `lower` (-inf where a row may not be taken), partitioning
    ≈ 1/FLOOR_STRIDE of it instead of all of it.

    The take-th highest of every FLOOR_STRIDE-th row is at most the true one (its rows are
    rows of the whole), so every row at or above the true one is at or above it too: the true
    one is the take-th highest among those rows, a few times `take` of them."""
    n = lower.size
    sample = lower[::FLOOR_STRIDE]
    if sample.size <= take:
        return float(np.partition(lower, n - take)[n - take])
    rough = np.partition(sample, sample.size - take)[sample.size - take]
    if rough == -np.inf:  # fewer than take rows of the sample may be taken
        return float(np.partition(lower, n - take)[n - take])
    above = lower[lower >= rough]
    return float(np.partition(above, above.size - take)[above.size - take])


def ordered_keys(groups: np.ndarray, values: np.ndarray) -> np.ndarray:
    """One int64 per (group, float32 value), ordered as the pairs are (group first): the group
    in the high 32 bits, the value's order-preserving bit pattern in the low 32."""
    return (np.asarray(groups).astype(np.int64) << 32) | ordered_bits(values)


def ordered_bits(values: np.ndarray) -> np.ndarray:
    """float32 → int64 in [0, 2³²) with the same order (IEEE bits, negatives flipped); -0.0
    becomes +0.0 first (adding 0), so equal values get equal keys."""
    values = np.asarray(values, dtype=np.float32)
    bits = (values + np.float32(0.0)).astype(np.float32).view(np.uint32).astype(np.int64)
    return np.where(bits & 0x80000000, 0xFFFFFFFF - bits, bits | 0x80000000)


def _dot_codes(
    codes: np.ndarray,
    bounds: np.ndarray,
    query: np.ndarray,
    per_scale: float,
    per_norm: float,
    out: np.ndarray,
    error: np.ndarray,
) -> None:
    # out[r] = scale[r] · Σ codes[r, i] · query[i], error[r] = its bound (`bound_terms`);
    # fastmath lets the sum be vectorised (the bound holds for any summation order).
    rows, width = codes.shape
    for row in range(rows):
        total = np.float32(0.0)
        for i in range(width):
            total += np.float32(codes[row, i]) * query[i]
        out[row] = total * bounds[row, 0]
        error[row] = bounds[row, 0] * per_scale + bounds[row, 1] * per_norm


_KERNEL = BackgroundKernel(_dot_codes, "tm-vector-scan", fastmath=True)


def code_products(codes: np.ndarray, bounds: np.ndarray) -> Callable[..., None] | None:
    """The compiled loop for arrays like these, None while it loads:
    `kernel(codes, bounds, query, *bound_terms(query), out, error)` writes each row's scale
    times its codes' product with the float32 query into `out`, and its bound into `error`."""
    signature = (codes.flags.writeable, bounds.flags.writeable)

    def warm_up(kernel) -> None:
        sample_codes = np.zeros((1, 1), dtype=CODE_DTYPE)
        sample_codes.setflags(write=codes.flags.writeable)
        sample_bounds = np.zeros((1, 2), dtype=np.float32)
        sample_bounds.setflags(write=bounds.flags.writeable)
        one = np.zeros(1, np.float32)
        kernel(sample_codes, sample_bounds, one, 0.0, 0.0, np.empty(1, np.float32), one.copy())

    return _KERNEL.ready_for(signature, warm_up)


def bound_terms(query: np.ndarray) -> tuple[float, float]:
    """(per scale, per norm): a row's bound is scale · the first + norm · the second, for this
    query (see the module's docstring; the row's int16 copy may be longer than the row by
    s/2 per component, and both terms carry a safety factor)."""
    width = query.shape[0]
    l1 = float(np.abs(query).sum(dtype=np.float64))
    l2 = float(np.linalg.norm(query.astype(np.float64)))
    summation = _SUMMATION_FACTOR * (width + 2) * 2.0**-24 * l2
    per_scale = _ROUNDING_FACTOR * l1 + summation * 0.5 * float(np.sqrt(width))
    return per_scale * _SLACK, summation * _SLACK


def wait_until_compiled(timeout: float | None = None) -> None:
    """Wait for the background loads started so far (tests, benchmarks)."""
    _KERNEL.wait(timeout)
