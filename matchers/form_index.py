"""Immutable fuzzy index of distinct forms, storable as memory-mappable numpy arrays.

One entry per distinct form (keyed by the caller's hash of it, e.g. the SHA-256 hex of a source
form), shared by every target language: each entry lists the target languages it has units in
and how many. A search for one target language only considers forms with units there, then
picks candidates exactly as `matchers.fuzzy_index.FuzzyIndex` does (rarest word and trigram
postings first, idf-weighted overlap, length bound; every short form for a short query) and
rescores them with `scoring.similarity`, so scores are exact and recall matches the mutable
index.

Storage, one file per array in a directory (`save` / `load`; `load(mmap=True)` maps the files,
so every process reading the same directory shares one copy in the page cache):

- `forms.utf8` + `form_offsets.npy` (int64, n + 1): the forms, UTF-8, in slot order: by
  length, then key (format 2; by key in format 1), so a query's length window is a range of
  slots and each postings list, by slot, is by length too;
- `hashes.npy` (bytes, n, sorted): the caller's keys, found by binary search;
  `hash_slots.npy` / `slot_hashes.npy` (int32, n; format 2): each key's slot, each slot's key;
- `lengths.npy` (int32, n): characters per form, for the length bound;
- `tokens.npy` (uint64, sorted) + `posting_offsets.npy` (int64) + `postings.npy` (int32): CSR
  postings of every word and trigram, tokens as 64-bit BLAKE2b hashes (a collision only merges
  two tokens' candidates; scores stay exact), each list by slot;
- `targets.npy` (int64): target language ids; `presence.npy` (uint8, targets × ⌈n / 8⌉): a bit
  per form and target language; `target_offsets.npy` (int64, n + 1) + `target_rows.npy` (int32)
  + `unit_counts.npy` (int32): per form, its target languages (rows of `targets`) and unit
  counts.

Not thread-safe: a search reuses a scratch buffer; callers hold a lock.
"""

from __future__ import annotations

import hashlib
import mmap
import os
from array import array
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

import numpy as np
from rapidfuzz import process

from matchers.fuzzy_index import (
    POSTINGS_BUDGET,
    RESCORE_CANDIDATES,
    SHORT_FORM_LENGTH,
    SHORT_SCAN_LIMIT,
    _trigrams,
    _words,
    length_window,
    select_candidates,
    short_window,
)
from matchers.scoring import SIMILARITY_SCORER

# 2: slots in order of length (1: of key). Both are read.
FORMAT = 2
READABLE_FORMATS = (1, 2)
# Candidates (the best estimated) scored before the rest are filtered by length (`_scored`).
FIRST_SCORED = 500
# A target language's postings budget grows at most this much (for rare target languages).
MAX_BUDGET_FACTOR = 4
# An index built in this process (no snapshot: the embedded default, one county's memory) with
# at most this many bytes of forms keeps them decoded once it is searched: a search of a small
# index rescores most of its forms, and decoding them again was ≈ 40 % of its time (the demo's
# 4 322 forms). 8 MB of UTF-8 is ≈ 80 000 German forms of the demo's 97 characters on average,
# ≈ 14 MB of str in the process, decoded in ≈ 16 ms on the first search. A mapped snapshot is
# never copied so: its one page-cache copy is shared by every worker.
DECODED_FORMS_BYTES = 8 * 1024 * 1024
_ARRAYS = (
    "form_offsets",
    "hashes",
    "hash_slots",
    "slot_hashes",
    "lengths",
    "tokens",
    "posting_offsets",
    "postings",
    "targets",
    "presence",
    "target_offsets",
    "target_rows",
    "unit_counts",
)
_SLOT_ORDER_ARRAYS = ("hash_slots", "slot_hashes")  # format 2 only
_FORMS_FILE = "forms.utf8"


def token_hash(kind: str, token: str) -> int:
    """Stable 64-bit hash of a word (`kind` "w") or trigram ("t"), the same in every process."""
    digest = hashlib.blake2b(f"{kind}\x00{token}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _query_tokens(form: str) -> np.ndarray:
    words = [token_hash("w", word) for word in _words(form)]
    trigrams = [token_hash("t", trigram) for trigram in _trigrams(form)]
    return np.array(words + trigrams, dtype=np.uint64)


class FrozenFormIndex:
    """Fuzzy search over distinct forms for one target language at a time; scores 0–100."""

    def __init__(
        self,
        arrays: Mapping[str, np.ndarray],
        forms: bytes | mmap.mmap,
        *,
        postings_budget: int = POSTINGS_BUDGET,
        rescore: int = RESCORE_CANDIDATES,
    ) -> None:
        self.postings_budget = postings_budget
        self.rescore = rescore
        self._forms = forms
        # Plain ndarray views of mapped files: slicing a np.memmap costs ~1 µs more each.
        arrays = {name: np.asarray(value) for name, value in arrays.items()}
        self._form_offsets = arrays["form_offsets"]
        self._hashes = arrays["hashes"]
        # Format 2: slots in order of length (`build`), keys sorted apart, the two permutations
        # between them; format 1 has neither (slot order = key order).
        self._hash_slots = arrays.get("hash_slots")
        self._slot_hashes = arrays.get("slot_hashes")
        self._lengths = arrays["lengths"]
        self._tokens = arrays["tokens"]
        self._posting_offsets = arrays["posting_offsets"]
        self._postings = arrays["postings"]
        self._targets = arrays["targets"]
        self._presence = arrays["presence"]
        self._target_offsets = arrays["target_offsets"]
        self._target_rows = arrays["target_rows"]
        self._unit_counts = arrays["unit_counts"]
        self._row_of_target = {int(t): row for row, t in enumerate(self._targets.tolist())}
        # Postings read per query, per target language: the budget of a per-pair index, scaled
        # by how many of all forms have units in that language (postings of forms without are
        # read too, then refused), so recall matches an index of that language's forms alone.
        forms_per_target = np.bincount(self._target_rows, minlength=len(self._targets))
        self._budgets = [
            int(postings_budget * len(self) / max(int(forms), 1, len(self) // MAX_BUDGET_FACTOR))
            for forms in forms_per_target.tolist()
        ]
        self._scratch = np.zeros(0, dtype=np.uint16)
        # The lengths the candidate selection reads, one per slot it touches, at random: a
        # private uint16 copy (2.5 MB at 1.25 M forms) is read ≈ 20 % faster than the mapped
        # int32 file. Capped at 65 535, which only lets a longer form be scored needlessly.
        self._window_lengths = np.minimum(self._lengths, np.iinfo(np.uint16).max).astype(np.uint16)
        # Slots in length order: each postings list, by slot, is by length too, and a search
        # reads only its part inside the query's length window (`overlap_kernel.accumulate`).
        self._slots_by_length = self._slot_hashes is not None
        # Slots of the forms ≤ SHORT_FORM_LENGTH characters by length, and their lengths:
        # found on the first short query (one pass over the lengths), then kept.
        self._short: tuple[np.ndarray, np.ndarray] | None = None
        # Every form decoded on the first search, for a small index built in this process.
        self._decodes_all = not isinstance(forms, mmap.mmap) and len(forms) <= DECODED_FORMS_BYTES
        self._decoded_forms: list[str] | None = None

    # ------------------------------------------------------------------ building and storing

    @classmethod
    def build(
        cls,
        entries: Iterable[tuple[str, str, Mapping[int, int]]],
        *,
        postings_budget: int = POSTINGS_BUDGET,
        rescore: int = RESCORE_CANDIDATES,
        slots_by_length: bool = True,
    ) -> FrozenFormIndex:
        """Build from (hash, form, {target language id: units}) with distinct ASCII hashes.
        `slots_by_length=False` lays it out as format 1 did (slots in key order), to compare."""
        by_key = sorted(
            ((key, form, dict(targets)) for key, form, targets in entries if targets),
            key=lambda row: row[0],
        )
        count = len(by_key)
        width = max((len(key) for key, _, _ in by_key), default=1)
        hashes = np.array([key.encode("ascii") for key, _, _ in by_key], dtype=f"S{width}")
        # Slots in order of length, then key: a query's length window is a range of slots.
        slot_hashes = np.arange(count, dtype=np.int32)
        if slots_by_length:
            key_lengths = np.array([len(form) for _, form, _ in by_key], dtype=np.int32)
            slot_hashes = np.argsort(key_lengths, kind="stable").astype(np.int32)
        hash_slots = np.empty(count, dtype=np.int32)
        hash_slots[slot_hashes] = np.arange(count, dtype=np.int32)
        rows = [by_key[row] for row in slot_hashes.tolist()]
        encoded = [form.encode() for _, form, _ in rows]
        form_offsets = np.zeros(count + 1, dtype=np.int64)
        np.cumsum([len(raw) for raw in encoded], out=form_offsets[1:])
        lengths = np.array([len(form) for _, form, _ in rows], dtype=np.int32)

        vocabulary: dict[tuple[str, str], int] = {}
        token_ids = array("q")
        token_slots = array("q")
        for slot, (_, form, _) in enumerate(rows):
            tokens = [("w", word) for word in _words(form)]
            tokens += [("t", trigram) for trigram in _trigrams(form)]
            token_ids.extend([vocabulary.setdefault(token, len(vocabulary)) for token in tokens])
            token_slots.extend([slot] * len(tokens))
        vocabulary_hashes = np.array(
            [token_hash(kind, token) for kind, token in vocabulary], dtype=np.uint64
        )
        tokens_sorted, inverse = np.unique(vocabulary_hashes, return_inverse=True)
        ids = np.frombuffer(token_ids, dtype=np.int64) if token_ids else np.empty(0, np.int64)
        slots = np.frombuffer(token_slots, dtype=np.int64) if token_slots else np.empty(0, np.int64)
        # One posting per (token, slot), sorted by token then slot: a collision merges lists.
        combined = np.sort(inverse[ids].astype(np.int64) * max(count, 1) + slots)
        if combined.size:
            first = np.ones(combined.size, dtype=bool)
            first[1:] = combined[1:] != combined[:-1]
            combined = combined[first]
        posting_tokens = combined // max(count, 1)
        postings = (combined % max(count, 1)).astype(np.int32)
        posting_offsets = np.zeros(len(tokens_sorted) + 1, dtype=np.int64)
        np.cumsum(
            np.bincount(posting_tokens, minlength=len(tokens_sorted)), out=posting_offsets[1:]
        )

        targets = np.array(sorted({t for _, _, ts in rows for t in ts}), dtype=np.int64)
        row_of = {int(t): row for row, t in enumerate(targets.tolist())}
        target_offsets = np.zeros(count + 1, dtype=np.int64)
        np.cumsum([len(ts) for _, _, ts in rows], out=target_offsets[1:])
        target_rows = np.array([row_of[t] for _, _, ts in rows for t in sorted(ts)], dtype=np.int32)
        unit_counts = np.array([ts[t] for _, _, ts in rows for t in sorted(ts)], dtype=np.int32)
        present = np.zeros((len(targets), count), dtype=bool)
        entry_slots = np.repeat(np.arange(count), np.diff(target_offsets))
        present[target_rows, entry_slots] = True
        presence = np.packbits(present, axis=1, bitorder="little")
        arrays = {
            "form_offsets": form_offsets,
            "hashes": hashes,
            "hash_slots": hash_slots,
            "slot_hashes": slot_hashes,
            "lengths": lengths,
            "tokens": tokens_sorted,
            "posting_offsets": posting_offsets,
            "postings": postings,
            "targets": targets,
            "presence": presence,
            "target_offsets": target_offsets,
            "target_rows": target_rows,
            "unit_counts": unit_counts,
        }
        if not slots_by_length:
            for name in _SLOT_ORDER_ARRAYS:
                del arrays[name]
        return cls(arrays, b"".join(encoded), postings_budget=postings_budget, rescore=rescore)

    def save(self, directory: Path) -> None:
        """Write the arrays into `directory` (created) and fsync each file."""
        directory.mkdir(parents=True, exist_ok=True)
        arrays = self._arrays()
        for name in _ARRAYS:
            path = directory / f"{name}.npy"
            with path.open("wb") as out:
                np.save(out, np.ascontiguousarray(arrays[name]), allow_pickle=False)
                out.flush()
                os.fsync(out.fileno())
        with (directory / _FORMS_FILE).open("wb") as out:
            out.write(self._forms[:])
            out.flush()
            os.fsync(out.fileno())

    @classmethod
    def load(
        cls,
        directory: Path,
        *,
        mmap_files: bool = True,
        postings_budget: int = POSTINGS_BUDGET,
        rescore: int = RESCORE_CANDIDATES,
        format: int = FORMAT,
    ) -> FrozenFormIndex:
        """Open an index `save` wrote (in `format`: one of `READABLE_FORMATS`); `mmap_files`
        maps the files instead of reading them."""
        if format not in READABLE_FORMATS:
            raise ValueError(f"unknown form index format {format}")
        mode: Literal["r"] | None = "r" if mmap_files else None
        names = _ARRAYS if format >= 2 else [n for n in _ARRAYS if n not in _SLOT_ORDER_ARRAYS]
        arrays = {
            name: np.load(directory / f"{name}.npy", mmap_mode=mode, allow_pickle=False)
            for name in names
        }
        path = directory / _FORMS_FILE
        forms: bytes | mmap.mmap
        if path.stat().st_size == 0 or not mmap_files:
            forms = path.read_bytes()
        else:
            with path.open("rb") as handle:
                forms = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        return cls(arrays, forms, postings_budget=postings_budget, rescore=rescore)

    def _arrays(self) -> dict[str, np.ndarray]:
        identity = np.arange(len(self), dtype=np.int32)  # format 1: slot order = key order
        return {
            "form_offsets": self._form_offsets,
            "hashes": self._hashes,
            "hash_slots": identity if self._hash_slots is None else self._hash_slots,
            "slot_hashes": identity if self._slot_hashes is None else self._slot_hashes,
            "lengths": self._lengths,
            "tokens": self._tokens,
            "posting_offsets": self._posting_offsets,
            "postings": self._postings,
            "targets": self._targets,
            "presence": self._presence,
            "target_offsets": self._target_offsets,
            "target_rows": self._target_rows,
            "unit_counts": self._unit_counts,
        }

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        """Return the number of distinct forms."""
        return len(self._lengths)

    def nbytes(self) -> int:
        """Return the bytes of all arrays and forms (the size on disk, headers aside)."""
        return int(sum(a.nbytes for a in self._arrays().values())) + len(self._forms)

    def slot_of(self, key: str) -> int | None:
        """Return the slot of the form stored under `key`, or None."""
        if not len(self._hashes):
            return None
        raw = key.encode("ascii")
        position = int(np.searchsorted(self._hashes, raw))
        if position < len(self._hashes) and self._hashes[position] == raw:
            return position if self._hash_slots is None else int(self._hash_slots[position])
        return None

    def key_of(self, slot: int) -> str:
        """Return the key (hash) stored in `slot`."""
        row = slot if self._slot_hashes is None else int(self._slot_hashes[slot])
        return bytes(self._hashes[row]).decode("ascii")

    def form_of(self, slot: int) -> str:
        """Return the form stored in `slot`."""
        start, end = int(self._form_offsets[slot]), int(self._form_offsets[slot + 1])
        return self._forms[start:end].decode()

    def units(self, slot: int, target: int) -> int:
        """Return how many units the form of `slot` has in target language `target`."""
        row = self._row_of_target.get(target)
        if row is None:
            return 0
        start, end = int(self._target_offsets[slot]), int(self._target_offsets[slot + 1])
        rows = self._target_rows[start:end]
        found = np.nonzero(rows == row)[0]
        return int(self._unit_counts[start + int(found[0])]) if found.size else 0

    def target_units(self) -> dict[int, int]:
        """Return units per target language id."""
        totals = np.bincount(
            self._target_rows, weights=self._unit_counts, minlength=len(self._targets)
        )
        return {
            int(t): int(n) for t, n in zip(self._targets.tolist(), totals.tolist(), strict=True)
        }

    def search(
        self,
        form: str,
        target: int,
        limit: int = 5,
        min_score: float = 50.0,
        exclude: np.ndarray | None = None,
    ) -> list[tuple[str, float]]:
        """Return up to `limit` (key, score) pairs of forms with units in `target`, score ≥
        min_score (0–100), best first, ties by key. `exclude`: slots to leave out (sorted)."""
        row = self._row_of_target.get(target)
        if row is None or limit <= 0 or not len(self):
            return []
        candidates = self._short_candidates(form, row, min_score, exclude)
        if candidates is None:
            candidates = self._candidates(form, row, min_score, exclude)
        if candidates.size == 0:
            return []
        candidates, scores = self._scored(form, candidates, limit, min_score)
        passing = np.flatnonzero(scores >= min_score)
        # Best first, ties by key (a key's row in the sorted keys). Only the `limit` kept are
        # turned into keys (hundreds may pass the threshold).
        rows = candidates[passing]
        if self._slot_hashes is not None:
            rows = self._slot_hashes[rows]
        best = passing[np.lexsort((rows, -scores[passing]))[:limit]]
        return [(self.key_of(int(candidates[i])), float(scores[i])) for i in best.tolist()]

    def _scored(
        self, form: str, candidates: np.ndarray, limit: int, min_score: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Score `candidates` (the `FIRST_SCORED` best estimated first) exactly; return the
        candidates scored and their scores.

        Once the first ones are scored, the `limit`-th best score so far is a floor every kept
        match must reach, and a form whose length bound is under it cannot: the rest are only
        decoded and scored where their length allows it. The matches are the same as scoring
        every candidate; what is saved is decoding forms that could not be kept.
        """
        if candidates.size <= FIRST_SCORED:
            return candidates, self._scores(form, candidates, min_score)
        first, rest = candidates[:FIRST_SCORED], candidates[FIRST_SCORED:]
        first_scores = self._scores(form, first, min_score)
        if np.count_nonzero(first_scores >= min_score) >= limit:
            floor = float(np.partition(first_scores, first_scores.size - limit)[-limit])
            shortest, longest = length_window(len(form), floor)
            rest_lengths = self._lengths[rest]
            rest = rest[(rest_lengths >= shortest) & (rest_lengths <= longest)]
        rest_scores = self._scores(form, rest, min_score)
        return np.concatenate((first, rest)), np.concatenate((first_scores, rest_scores))

    def _scores(self, form: str, slots: np.ndarray, min_score: float) -> np.ndarray:
        """`scoring.similarity` of `form` with the forms of `slots` (0 under `min_score`)."""
        if slots.size == 0:
            return np.zeros(0, dtype=np.float64)
        return process.cdist(
            [form],
            self._decoded(slots),
            scorer=SIMILARITY_SCORER,
            score_cutoff=min_score,
            dtype=np.float64,
            workers=1,
        )[0]

    def _decoded(self, slots: np.ndarray) -> list[str]:
        """The forms of `slots`: from the forms decoded once (a small index built here), else sliced
        from the forms buffer and decoded (measured faster than gathering their bytes with numpy
        and decoding once: 0.6 against 1.7 ms for 3 000 forms of a 1 M-form index)."""
        if self._decoded_forms is None and self._decodes_all:
            self._decoded_forms = self._slices(np.arange(len(self)))
        if self._decoded_forms is not None:
            decoded = self._decoded_forms
            return [decoded[slot] for slot in slots.tolist()]
        return self._slices(slots)

    def _slices(self, slots: np.ndarray) -> list[str]:
        forms = self._forms
        starts = self._form_offsets[slots].tolist()
        ends = self._form_offsets[slots + 1].tolist()
        return [forms[start:end].decode() for start, end in zip(starts, ends, strict=True)]

    def _accepted(self, slots: np.ndarray, row: int, exclude: np.ndarray | None) -> np.ndarray:
        """Which of `slots` have units in target row `row` and are not in `exclude`."""
        presence = self._presence[row]
        ok = ((presence[slots >> 3] >> (slots & 7).astype(np.uint8)) & 1).astype(bool)
        if exclude is not None and exclude.size:
            ok &= ~np.isin(slots, exclude)
        return ok

    def _short_candidates(
        self, form: str, row: int, min_score: float, exclude: np.ndarray | None
    ) -> np.ndarray | None:
        """Every form a short query can match (`fuzzy_index.short_window`), or None when the
        query is longer or more than `SHORT_SCAN_LIMIT` forms are in its length window."""
        window = short_window(len(form), min_score)
        if window is None:
            return None
        if self._short is None:
            slots = np.flatnonzero(self._lengths <= SHORT_FORM_LENGTH)
            slots = slots[np.argsort(self._lengths[slots], kind="stable")]
            self._short = (slots, self._lengths[slots])
        slots, lengths = self._short
        start, end = (
            np.searchsorted(lengths, window[0], "left"),
            np.searchsorted(lengths, window[1], "right"),
        )
        if end - start > SHORT_SCAN_LIMIT:
            return None
        slots = slots[start:end]
        return slots[self._accepted(slots, row, exclude)]

    def _candidates(
        self, form: str, row: int, min_score: float, exclude: np.ndarray | None
    ) -> np.ndarray:
        query = _query_tokens(form)
        if not len(self._tokens) or not query.size:
            return np.empty(0, dtype=np.int64)
        positions = np.searchsorted(self._tokens, query)
        inside = positions < len(self._tokens)
        positions, query = positions[inside], query[inside]
        known = positions[self._tokens[positions] == query]
        offsets = self._posting_offsets
        postings = [
            np.asarray(self._postings[int(offsets[p]) : int(offsets[p + 1])])
            for p in np.unique(known).tolist()
        ]
        total = len(self)
        if self._scratch.size < total:
            self._scratch = np.zeros(total, dtype=np.uint16)
        return select_candidates(
            postings,
            total=total,
            lengths=self._window_lengths,
            accepted=self._presence[row],
            packed=True,
            exclude=exclude,
            query_length=len(form),
            min_score=min_score,
            postings_budget=self._budgets[row],
            rescore=self.rescore,
            scratch=self._scratch,
            best_first=FIRST_SCORED,
            by_length=self._slots_by_length,
        )
