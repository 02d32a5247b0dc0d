"""In-memory candidate index for fuzzy translation-memory lookup, rescored exactly.

A full scan with rapidfuzz costs 180–450 ms a query at 1 M segments. Instead:

1. Postings: every distinct word and every character trigram of a form point to the slots that
   contain it. Trigrams make one-word segments ("Öffnungszeit" / "Öffnungszeiten") and inflected
   or compound words findable; words add a strong signal for rare terms.
2. A query reads the postings of its rarest tokens first, up to `postings_budget` postings
   (twice as many for matches under 70), and sums each slot's inverse document frequency of
   shared tokens (a compiled loop: `matchers.overlap_kernel`).
3. Slots that cannot reach `min_score` by length are dropped; the rest are ranked by an
   estimated ratio (share of the query's weight found, over the combined length; a compiled
   loop: `matchers.estimate_kernel`), and the best `rescore` of them are scored exactly with
   `scoring.similarity` (rapidfuzz `fuzz.ratio`), so every reported score is exact;
   only which segments are looked at is approximate.
4. A query so short that every form it can match has at most `SHORT_FORM_LENGTH` characters
   (`short_window`) is scored against all such forms instead (at most `SHORT_SCAN_LIMIT`):
   "zsi" matches "sie" (66.7) without a shared word or trigram. Exact for those queries.

Storage: forms as one Python list of str, postings as `array('i')` per token (appends keep them
sorted by slot), read through zero-copy numpy views. ≈60 postings a segment: ≈240 MB at 1 M.
Removal marks the slot dead; dead slots are skipped, their postings are not reclaimed.

Not thread-safe: concurrent add/discard and search need a lock in the caller (a per-index scratch
buffer is reused by every search).
"""

import math
import re
from array import array
from collections.abc import Iterable

import numpy as np
from rapidfuzz import process

from matchers import estimate_kernel, overlap_kernel
from matchers.scoring import SIMILARITY_SCORER

# Postings read per query (rarest tokens first); more raises recall and latency (≈6 ns each,
# `overlap_kernel`).
POSTINGS_BUDGET = 100_000
# A query asking for matches under LOW_SCORE reads LOW_SCORE_BUDGET_FACTOR times as many: such
# matches share fewer and commoner tokens with it. At 10 M units the top-5 recall at
# min_score 50 goes from 0.946 to 0.973 so; at 70 the budget alone gives 0.985
# (docs/benchmarks.md).
LOW_SCORE = 70.0
LOW_SCORE_BUDGET_FACTOR = 2
# Candidates rescored exactly per query (≈0.3 µs each for 60-character forms).
RESCORE_CANDIDATES = 3_000
# The largest sum of idf steps a uint16 accumulator takes (weighted_overlap).
UINT16_SUM_LIMIT = 65_000.0
# Forms this short are also kept by length, for queries whose every match is this short.
SHORT_FORM_LENGTH = 12
# The most such forms scored for one query (≈0.5 µs each); past it, the postings as usual.
SHORT_SCAN_LIMIT = 10_000

_TOKEN = re.compile(r"\{[A-Z]+\}|\w+")


def _words(form: str) -> set[str]:
    """Return the distinct word and placeholder tokens of a normalised form."""
    return set(_TOKEN.findall(form))


def _trigrams(form: str) -> set[str]:
    """Return the distinct character trigrams of a form padded with one space on each side."""
    padded = f" {form} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


class _Postings:
    """Token → sorted slot list, as `array('i')` per token (4 bytes a posting)."""

    __slots__ = ("_ids", "_lists")

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._lists: list[array] = []

    def add(self, slot: int, tokens: Iterable[str]) -> None:
        """Append `slot` to the postings of each token; slots must be added in rising order."""
        ids = self._ids
        lists = self._lists
        for token in tokens:
            token_id = ids.get(token)
            if token_id is None:
                ids[token] = len(lists)
                lists.append(array("i", (slot,)))
            else:
                lists[token_id].append(slot)

    def lists_for(self, tokens: Iterable[str]) -> list[array]:
        """Return the postings of the known tokens among `tokens`, shortest first."""
        ids = self._ids
        lists = self._lists
        found = [lists[ids[token]] for token in tokens if token in ids]
        found.sort(key=len)
        return found

    def posting_count(self) -> int:
        """Return the number of stored postings (slots × tokens)."""
        return sum(len(postings) for postings in self._lists)


class FuzzyIndex:
    """Fuzzy and exact lookup of normalised placeholder forms by integer key; scores 0–100."""

    def __init__(
        self,
        *,
        postings_budget: int = POSTINGS_BUDGET,
        rescore: int = RESCORE_CANDIDATES,
    ) -> None:
        self.postings_budget = postings_budget
        self.rescore = rescore
        # Per-slot accumulator reused by every search (zeroed again after use).
        self._scratch = np.zeros(0, dtype=np.uint16)
        self._forms: list[str | None] = []
        self._lengths = array("i")  # characters, for the length bound of fuzz.ratio
        self._keys = array("q")
        self._alive = bytearray()
        self._slot_of_key: dict[int, int] = {}
        # hash(form) → slot, or a list of slots when several live forms share the hash.
        self._exact: dict[int, int | list[int]] = {}
        self._words = _Postings()
        self._trigrams = _Postings()
        self._short_slots = array("i")  # slots of forms ≤ SHORT_FORM_LENGTH characters
        self._live = 0

    def __len__(self) -> int:
        """Return the number of keys in the index."""
        return self._live

    def __contains__(self, key: object) -> bool:
        """Return whether `key` is in the index."""
        return key in self._slot_of_key

    def add(self, key: int, form: str) -> None:
        """Add or replace the form stored under `key`; visible to the next search."""
        if key in self._slot_of_key:
            self.discard(key)
        slot = len(self._keys)
        self._forms.append(form)
        self._lengths.append(len(form))
        self._keys.append(key)
        self._alive.append(1)
        self._slot_of_key[key] = slot
        self._remember_exact(hash(form), slot)
        self._words.add(slot, _words(form))
        self._trigrams.add(slot, _trigrams(form))
        if len(form) <= SHORT_FORM_LENGTH:
            self._short_slots.append(slot)
        self._live += 1

    def add_many(self, pairs: Iterable[tuple[int, str]]) -> None:
        """Add (key, form) pairs, as `add` does for each."""
        for key, form in pairs:
            self.add(key, form)

    def discard(self, key: int) -> None:
        """Remove `key` if present; its postings stay but are skipped."""
        slot = self._slot_of_key.pop(key, None)
        if slot is None:
            return
        self._alive[slot] = 0
        self._forget_exact(hash(self._form(slot)), slot)
        self._forms[slot] = None  # the slot stays (postings point to it); its text goes
        self._live -= 1

    def form_of(self, key: int) -> str | None:
        """Return the form stored under `key`, or None."""
        slot = self._slot_of_key.get(key)
        return None if slot is None else self._form(slot)

    def exact(self, form: str) -> list[int]:
        """Return the keys whose form equals `form` exactly, in insertion order."""
        entry = self._exact.get(hash(form))
        if entry is None:
            return []
        slots = entry if isinstance(entry, list) else [entry]
        return [int(self._keys[slot]) for slot in slots if self._form(slot) == form]

    def search(self, form: str, limit: int = 5, min_score: float = 50.0) -> list[tuple[int, float]]:
        """Return up to `limit` (key, score) pairs with score ≥ min_score (0–100), best first.

        Ties are broken by key. Scores are exact `scoring.similarity` values; which segments
        are considered is approximate (see the module docstring).
        """
        if self._live == 0 or limit <= 0:
            return []
        candidates = self._candidates(form, min_score)
        if candidates.size == 0:
            return []
        forms = self._forms
        choices = [forms[slot] for slot in candidates.tolist()]
        scored = process.extract(
            form, choices, scorer=SIMILARITY_SCORER, limit=None, score_cutoff=min_score
        )
        results = [(int(self._keys[int(candidates[index])]), score) for _, score, index in scored]
        results.sort(key=lambda pair: (-pair[1], pair[0]))
        return results[:limit]

    def stats(self) -> dict[str, int]:
        """Return sizes for monitoring: keys, slots, postings and stored text bytes."""
        return {
            "keys": self._live,
            "slots": len(self._keys),
            "word_postings": self._words.posting_count(),
            "trigram_postings": self._trigrams.posting_count(),
            "text_chars": sum(self._lengths),
        }

    def _form(self, slot: int) -> str:
        """Return the form stored in live `slot`."""
        form = self._forms[slot]
        assert form is not None, "dead slots are filtered before their forms are read"
        return form

    def _remember_exact(self, form_hash: int, slot: int) -> None:
        """Record `slot` under the hash of its form."""
        entry = self._exact.get(form_hash)
        if entry is None:
            self._exact[form_hash] = slot
        elif isinstance(entry, list):
            entry.append(slot)
        else:
            self._exact[form_hash] = [entry, slot]

    def _forget_exact(self, form_hash: int, slot: int) -> None:
        """Remove `slot` from the hash table."""
        entry = self._exact.get(form_hash)
        if entry == slot:
            del self._exact[form_hash]
        elif isinstance(entry, list):
            entry.remove(slot)
            if len(entry) == 1:
                self._exact[form_hash] = entry[0]

    def _candidates(self, form: str, min_score: float) -> np.ndarray:
        """Return live slots worth rescoring for `form`: every short form its length allows
        (`short_window`), or at most `rescore` picked through the postings."""
        window = short_window(len(form), min_score)
        if window is not None:
            slots = np.frombuffer(self._short_slots, dtype=np.int32)
            lengths = np.frombuffer(self._lengths, dtype=np.int32)[slots]
            alive = np.frombuffer(self._alive, dtype=np.uint8)[slots] != 0
            slots = slots[alive & (lengths >= window[0]) & (lengths <= window[1])]
            if slots.size <= SHORT_SCAN_LIMIT:
                return slots
        word_lists = self._words.lists_for(_words(form))
        trigram_lists = self._trigrams.lists_for(_trigrams(form))
        postings = [np.frombuffer(plist, dtype=np.int32) for plist in word_lists + trigram_lists]
        total = len(self._keys)
        if self._scratch.size < total:
            self._scratch = np.zeros(max(total, 2 * self._scratch.size), dtype=np.uint16)
        alive = np.frombuffer(self._alive, dtype=np.uint8)
        return select_candidates(
            postings,
            total=total,
            lengths=np.frombuffer(self._lengths, dtype=np.int32),
            accepted=alive,
            packed=False,
            query_length=len(form),
            min_score=min_score,
            postings_budget=self.postings_budget,
            rescore=self.rescore,
            scratch=self._scratch,
        )


def select_candidates(
    postings: list[np.ndarray],
    *,
    total: int,
    lengths: np.ndarray,
    accepted: np.ndarray,
    packed: bool,
    query_length: int,
    min_score: float,
    postings_budget: int,
    rescore: int,
    scratch: np.ndarray,
    best_first: int = 0,
    exclude: np.ndarray | None = None,
    by_length: bool = False,
) -> np.ndarray:
    """Return the slots worth rescoring exactly for a query, at most `rescore` of them; with
    `best_first`, the `best_first` highest estimated of them first (in no particular order).

    `postings` are the query's tokens' slot lists (each sorted, a slot once per list) among
    `total` slots of `lengths` characters; `accepted` says which slots may be returned (alive,
    of the asked language …), a byte per slot or with `packed` a bit per slot, and `exclude`
    (sorted) which may not; with `by_length` each list is ordered by `lengths` too (its slots
    are numbered by length: `overlap_kernel.accumulate` then reads only the part of each list
    inside the length window).
    `postings_budget` is for matches ≥ `LOW_SCORE`; under it the search reads
    `LOW_SCORE_BUDGET_FACTOR` times as many. `scratch` is a zeroed uint16 buffer of ≥ `total`
    slots, zeroed again on return. Shared by `FuzzyIndex` and
    `matchers.form_index.FrozenFormIndex`, so both pick candidates the same way.
    """
    postings = sorted((p for p in postings if len(p)), key=len)
    if not postings:
        return np.empty(0, dtype=np.int64)
    if min_score < LOW_SCORE:
        postings_budget *= LOW_SCORE_BUDGET_FACTOR
    # fuzz.ratio = 200·LCS / (la + lb) ≤ 200·min(la, lb) / (la + lb): only slots of a length in
    # [shortest, longest] can reach min_score. Dropping the others while summing (a comparison
    # of integer lengths) spares the estimate and the ranking for them.
    slots, weights, slot_lengths, query_weight = weighted_overlap(
        postings,
        total,
        postings_budget,
        scratch,
        lengths,
        length_window(query_length, min_score),
        accepted,
        packed,
        by_length,
    )
    if exclude is not None and exclude.size:
        kept = np.flatnonzero(~np.isin(slots, exclude))
        slots, weights, slot_lengths = slots[kept], weights[kept], slot_lengths[kept]
    # Estimated ratio: the share of the query's weight found, taken as characters, over the
    # combined length; capped by the length bound. The best `rescore` by it are kept.
    return slots[
        estimate_kernel.best_estimated(
            weights, slot_lengths, query_length, query_weight, rescore, best_first
        )
    ]


def length_window(query_length: int, min_score: float) -> tuple[float, float]:
    """Return the (shortest, longest) form lengths whose `fuzz.ratio` bound reaches `min_score`.

    The bound 200·min(la, lb) / (la + lb) is ≥ m for lb in [m·la / (200 − m), la·(200 − m) / m].
    A small tolerance keeps forms exactly at the bound.
    """
    score = min(max(min_score - 1e-3, 1e-6), 100.0)
    return score * query_length / (200.0 - score), query_length * (200.0 - score) / score


def short_window(query_length: int, min_score: float) -> tuple[float, float] | None:
    """The `length_window` of a query whose every possible match has at most
    `SHORT_FORM_LENGTH` characters, else None."""
    shortest, longest = length_window(query_length, min_score)
    return (shortest, longest) if longest < SHORT_FORM_LENGTH + 1 else None


def weighted_overlap(
    postings: list[np.ndarray],
    total: int,
    postings_budget: int,
    scratch: np.ndarray,
    lengths: np.ndarray,
    window: tuple[float, float],
    accepted: np.ndarray,
    packed: bool,
    by_length: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Return (slots, summed idf of shared tokens, lengths, idf of all query tokens read) of the
    accepted slots (`overlap_kernel.accumulate`) sharing a token whose length lies in `window`,
    the sums in integer steps of idf (uint16 per slot).

    Reads the shortest (rarest) postings first, up to `postings_budget` postings in all; idf
    is ln(1 + total / postings of the token). The sums are accumulated in `scratch` (uint16,
    zeroed) as integer steps of idf: a 2-byte accumulator keeps more of it in the CPU caches
    than float32 (≈25 % faster at 1 M slots); the ranking it feeds is an estimate anyway. The
    loop over the postings is compiled (`matchers.overlap_kernel`).
    """
    selected: list[np.ndarray] = []
    weights: list[float] = []
    read = 0
    for index, view in enumerate(postings):
        if index > 0 and read + len(view) > postings_budget:
            break
        weights.append(math.log(1.0 + total / len(view)))
        selected.append(view)
        read += len(view)
    # Steps per unit of idf: fine enough (≥ 64) unless the sum could overflow 16 bits.
    scale = min(64.0, UINT16_SUM_LIMIT / sum(weights))
    steps = np.array([max(1, round(weight * scale)) for weight in weights], dtype=np.uint16)
    bounds = np.zeros(len(selected) + 1, dtype=np.int64)
    np.cumsum([len(view) for view in selected], out=bounds[1:])
    flat = np.concatenate(selected, dtype=np.int32)
    slots, found, slot_lengths = overlap_kernel.accumulate(
        flat, bounds, steps, scratch, lengths, window, accepted, packed, by_length
    )
    return slots, found, slot_lengths, float(steps.sum())
