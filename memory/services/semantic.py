"""Semantic segment candidates: sentences of other regions that mean what the query says.

Real neighbouring counties rarely share a sentence's wording, often its meaning. This module
keeps sentence vectors of

- every segment of every page translation in its page's source language (the sentences a
  region asks suggestions for), and
- every translation unit's source text (the sentences the memory can offer),

in the embedding cache (kind ``segment``, keyed by the SHA-256 of the plain text: unchanged text
is never encoded twice), computed in background jobs — never on a request path. A per-process
`SemanticMemory` holds one `SegmentVectorIndex` per source language over the memory's distinct
source texts; a query segment's vector comes from the cache, so a page that has not been
embedded yet simply gets no semantic candidates until its job ran.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from matchers.embeddings import Encoder
from matchers.semantic_index import Calibration, Neighbour, SegmentVectorIndex
from memory.models import Language, Page, PageTranslation
from memory.segmentation import build_template
from memory.services.similarity import (
    _chunks,
    _only_latest_public,
    _store_vectors,
    cached_vectors,
    streamed_vectors,
    text_hash,
)
from memory.services.translation_memory import (
    current_revision,
    memory_id,
    strip_markup,
    units_written_since,
)
from memory.similarity_models import EmbeddingCache
from memory.snapshot_folder import SnapshotRequests
from memory.tm_models import TranslationUnit, TranslationUnitDeletion

if TYPE_CHECKING:
    from memory.semantic_snapshot import SemanticSnapshot, SemanticSnapshotManifest

log = logging.getLogger(__name__)

SEGMENT_KIND = "segment"
EMBED_BATCH = 64
# A web request waits at most this long for the sentence index to load or catch up; past it, it
# is answered without semantic candidates while the load goes on in a background thread.
REQUEST_WAIT_S = 2.0
# From this many texts without a vector (a first load), their vectors come from one streamed
# read of the model's segment cache instead of queries of 500 hashes each.
STREAM_CACHE_FROM = 20_000
# Shorter texts carry too little meaning to match by it ("Adresse:", "Tel.").
MIN_SEMANTIC_WORDS = 3
# With a snapshot folder: from this many sentences held in the process (none mapped), or more
# written since the mapped snapshot than this share of it, a process asks for a new snapshot
# (a job), at most every SNAPSHOT_REQUEST_INTERVAL_S.
SNAPSHOT_MIN_TEXTS = 20_000
SNAPSHOT_DELTA_FRACTION = 0.2
SNAPSHOT_REQUEST_INTERVAL_S = 300.0

Progress = Callable[[int, int], None]


def segment_text(segment: str) -> str:
    """What a segment vector encodes: the plain text (no markup placeholders), trimmed."""
    return " ".join(strip_markup(segment).split())


def worth_embedding(text: str) -> bool:
    return len(text.split()) >= MIN_SEMANTIC_WORDS


# ----------------------------------------------------------------------------- embedding


@dataclass(frozen=True)
class SegmentEmbedReport:
    """What a segment-embedding pass did: distinct texts wanted, found cached, encoded."""

    texts: int
    cached: int
    encoded: int

    def as_dict(self) -> dict[str, int]:
        return {"texts": self.texts, "cached": self.cached, "encoded": self.encoded}


def segment_texts_of_translations(session: Session, translation_ids: Sequence[int]) -> list[str]:
    """Plain segment texts to embed for these translations (latest public ones only).

    The segments (and title) of a translation in its page's source language, and the source
    texts of the units made from any of them.
    """
    ids = _only_latest_public(session, translation_ids)
    codes = {row.id: row.code for row in session.execute(select(Language.id, Language.code))}
    texts: list[str] = []
    for chunk in _chunks(ids):
        rows = session.execute(
            select(
                PageTranslation.id,
                PageTranslation.title,
                PageTranslation.content,
                PageTranslation.language_id,
                Page.source_language_id,
            )
            .join(Page, Page.id == PageTranslation.page_id)
            .where(PageTranslation.id.in_(chunk))
        ).all()
        for row in rows:
            if row.language_id != row.source_language_id:
                continue
            texts.append(" ".join(row.title.split()))
            template = build_template(row.content or "", codes.get(row.language_id, "de"))
            texts.extend(segment_text(s.text) for s in template.segments)
        texts.extend(
            segment_text(source)
            for source in session.scalars(
                select(TranslationUnit.source_text).where(
                    TranslationUnit.source_translation_id.in_(chunk)
                )
            )
        )
    return [t for t in dict.fromkeys(texts) if worth_embedding(t)]


def distinct_unit_texts(
    session: Session, since: int | None = None
) -> Iterator[tuple[int, str, str]]:
    """(source language id, text hash, form hash) of the unit sources worth embedding, of the
    units written since TM revision `since` (None: all), per unit (repeats included)."""
    query = select(
        TranslationUnit.source_language_id,
        TranslationUnit.source_text,
        TranslationUnit.source_hash,
    )
    if since is not None:
        query = query.where(units_written_since(since))
    for language, source_text, form_hash in session.execute(
        query.execution_options(yield_per=10_000)
    ):
        text = segment_text(source_text)
        if worth_embedding(text):
            yield language, text_hash(text), form_hash


def unembedded_unit_sources(session: Session, model: str) -> list[str]:
    """Every unit source text (TMX imports included) that has no cached vector yet."""
    texts = list(
        dict.fromkeys(
            segment_text(source)
            for source in session.scalars(
                select(TranslationUnit.source_text).execution_options(yield_per=10_000)
            )
        )
    )
    texts = [t for t in texts if worth_embedding(t)]
    have = cached_vectors(session, model, (text_hash(t) for t in texts), kind=SEGMENT_KIND)
    return [t for t in texts if text_hash(t) not in have]


def embed_segment_texts(
    session: Session,
    encoder: Encoder,
    texts: Iterable[str],
    progress: Progress | None = None,
    *,
    batch_size: int = EMBED_BATCH,
) -> SegmentEmbedReport:
    """Make sure every text has a cached segment vector; only misses are encoded, per batch
    committed (a killed worker loses one batch). `progress(done, total)` counts texts."""
    by_hash = {text_hash(t): t for t in texts}
    have = set(cached_vectors(session, encoder.name, by_hash, kind=SEGMENT_KIND))
    missing = [h for h in by_hash if h not in have]
    total = len(by_hash)
    if progress:
        progress(total - len(missing), total)
    encoded = 0
    for batch in _chunks(missing, batch_size):
        vectors = encoder.encode_queries([by_hash[h] for h in batch])
        _store_vectors(session, encoder.name, SEGMENT_KIND, batch, vectors)
        encoded += len(batch)
        if progress:
            progress(total - len(missing) + encoded, total)
    return SegmentEmbedReport(texts=total, cached=total - len(missing), encoded=encoded)


class SentenceEmbedder:
    """Sentence vectors for the aligner during a unit refresh: the cache first, then the model.

    Vectors it had to encode are kept here and written by `store()` once the refresh committed
    (the cache commits its own rows; a refresh must not be committed half-way by it).
    """

    def __init__(self, session: Session, encoder: Encoder) -> None:
        self.session = session
        self.encoder = encoder
        self._known: dict[str, np.ndarray] = {}
        self._fresh: dict[str, np.ndarray] = {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        plain = [segment_text(t) for t in texts]
        hashes = [text_hash(t) for t in plain]
        unknown = {h for h in hashes if h not in self._known}
        if unknown:
            self._known.update(
                cached_vectors(self.session, self.encoder.name, unknown, kind=SEGMENT_KIND)
            )
        missing = list(
            dict.fromkeys(h for h, t in zip(hashes, plain, strict=True) if h not in self._known)
        )
        if missing:
            by_hash = dict(zip(hashes, plain, strict=True))
            vectors = self.encoder.encode_queries([by_hash[h] for h in missing])
            for digest, vector in zip(missing, vectors, strict=True):
                self._known[digest] = self._fresh[digest] = vector
        return np.stack([self._known[h] for h in hashes])

    def store(self) -> int:
        """Write the vectors encoded so far to the cache (commits); how many."""
        fresh, self._fresh = self._fresh, {}
        present = set(cached_vectors(self.session, self.encoder.name, fresh, kind=SEGMENT_KIND))
        new = [h for h in fresh if h not in present]
        for batch in _chunks(new, 500):
            _store_vectors(
                self.session,
                self.encoder.name,
                SEGMENT_KIND,
                batch,
                np.stack([fresh[h] for h in batch]),
            )
        return len(new)


def embed_unit_sources(
    session: Session, encoder: Encoder, progress: Progress | None = None
) -> SegmentEmbedReport:
    """Sentence vectors for every unit source without one: TMX imports bring units that no
    page's job embeds. Reads every unit's source once; encodes only the misses."""
    return embed_segment_texts(
        session, encoder, unembedded_unit_sources(session, encoder.name), progress
    )


def embed_segments(
    session: Session,
    encoder: Encoder,
    translation_ids: Sequence[int],
    progress: Progress | None = None,
) -> SegmentEmbedReport:
    """Segment vectors for the given page translations (see `segment_texts_of_translations`)."""
    texts = segment_texts_of_translations(session, translation_ids)
    return embed_segment_texts(session, encoder, texts, progress)


# ----------------------------------------------------------------------------- the index


@dataclass(frozen=True, slots=True)
class _Text:
    """A distinct source text of the memory: its language, the SHA-256 of its plain text (its
    vector's cache key) and of its matching form (`TranslationUnit.source_hash`)."""

    language_id: int
    text_hash: str
    form_hash: str


@dataclass(frozen=True, slots=True)
class SemanticHit:
    """A unit whose source text is near a query segment by meaning."""

    unit_id: int
    page_id: int | None
    source_text: str  # the plain text whose vector matched
    neighbour: Neighbour


class _MappedTexts:
    """The sentences of a mapped snapshot (`memory.semantic_snapshot`) as keys 1 … n of a
    `SemanticMemory`, language after language; the keys of sentences loaded later follow."""

    def __init__(self, snapshot: SemanticSnapshot) -> None:
        self.name = snapshot.name
        self.manifest: SemanticSnapshotManifest = snapshot.manifest
        self.languages = snapshot.languages
        self.waiting = snapshot.waiting
        self._first: dict[int, int] = {}
        self._ranges: list[tuple[int, int]] = []  # (first key, language id), ascending
        key = 1
        for language_id in sorted(snapshot.languages):
            self._first[language_id] = key
            self._ranges.append((key, language_id))
            key += len(snapshot.languages[language_id])
        self.end_key = key

    def key_of(self, language_id: int, text_hash: str) -> int | None:
        texts = self.languages.get(language_id)
        row = texts.row_of_text(text_hash) if texts is not None else None
        return None if row is None else self._first[language_id] + row

    def keys_of_form(self, language_id: int, form_hash: str) -> list[int]:
        texts = self.languages.get(language_id)
        if texts is None:
            return []
        return [self._first[language_id] + row for row in texts.rows_of_form(form_hash)]

    def text_of(self, key: int) -> _Text:
        first, language_id = self._ranges[bisect.bisect_right(self._ranges, (key, 1 << 62)) - 1]
        texts = self.languages[language_id]
        row = key - first
        return _Text(
            language_id,
            texts.text_hashes[row].decode("ascii"),
            texts.form_hashes[row].decode("ascii"),
        )

    def calibration(self, language_id: int) -> Calibration | None:
        texts = self.languages.get(language_id)
        return texts.vectors.calibration if texts is not None else None

    def search(
        self, language_id: int, queries: np.ndarray, k: int
    ) -> list[list[tuple[float, int]]]:
        """Per query row: (cosine, key) of its k nearest mapped sentences, best first."""
        texts = self.languages.get(language_id)
        if texts is None:
            return [[] for _ in range(len(queries))]
        cosines, rows = texts.vectors.search(queries, k)
        first = self._first[language_id]
        return [
            [(c, first + r) for c, r in zip(row_c.tolist(), row_r.tolist(), strict=True) if r >= 0]
            for row_c, row_r in zip(cosines, rows, strict=True)
        ]


class SemanticMemory:
    """Per-process sentence-vector indexes of the memory's distinct source texts.

    It holds one entry per distinct source text (its hash, its form's hash and its vector),
    none per unit: a query finds the units of its nearest texts by their source form in the
    database (`ix_translation_unit_lookup`), keeping those whose text is the nearest one.

    With a `snapshot_dir` holding a snapshot (`memory.semantic_snapshot`, built by a job) of
    this memory and model, most texts are that snapshot, mapped read-only and shared by every
    process of the machine; the process keeps in memory only the texts of units written since
    (and those still without a vector), and hides the snapshot's texts whose units are gone.
    Without one it holds every text itself (`_load_units` reads every unit; 5.6 s for 300 000
    on PostgreSQL) and, from SNAPSHOT_MIN_TEXTS texts, asks for a snapshot.

    Kept in step with the database like the fuzzy index: `ensure_fresh` reads the TM revision
    and the embedding cache's last id at most every `refresh_seconds`, maps a newer published
    snapshot, loads the texts of units written since, drops the texts of forms left without
    any unit, and picks up vectors cached since. Thread-safe.
    """

    def __init__(
        self,
        model_name: Callable[[], str],
        *,
        refresh_seconds: float = 2.0,
        snapshot_dir: Path | None = None,
        request_snapshot: Callable[[], object] | None = None,
    ) -> None:
        self._model_name = model_name
        self.refresh_seconds = refresh_seconds
        self.snapshot_dir = snapshot_dir
        self._snapshot_requests = SnapshotRequests(
            request_snapshot, what="semantic", interval_s=SNAPSHOT_REQUEST_INTERVAL_S
        )
        self._lock = threading.RLock()
        self._refresher: threading.Thread | None = None
        self._refresher_lock = threading.Lock()
        self._mapped: _MappedTexts | None = None
        self._hidden: set[int] = set()  # mapped keys whose form has no unit any more
        self._snapshot_seen: str | None = None  # the last CURRENT considered
        self._indexes: dict[int, SegmentVectorIndex] = {}
        self._key_of_text: dict[tuple[int, str], int] = {}  # (source language, text hash) → key
        self._text_of_key: dict[int, _Text] = {}
        self._keys_of_form: dict[tuple[int, str], list[int]] = defaultdict(list)
        self._unchecked: set[int] = set()  # keys loaded, not yet looked up in the cache
        # Text hash → keys looked up and not found: only vectors cached later can be theirs.
        self._waiting: dict[str, list[int]] = {}
        self._next_key = 1
        self._revision: tuple[int, int] | None = None
        self._cache_marker: int | None = None
        self._checked_at = -float("inf")

    @property
    def snapshot(self) -> SemanticSnapshotManifest | None:
        """The manifest of the mapped snapshot (None: every text is held here)."""
        mapped = self._mapped
        return mapped.manifest if mapped is not None else None

    # ---- freshness ------------------------------------------------------------------------

    def refresh(self, session: Session, *, wait_s: float | None = None) -> bool:
        """Catch up with the database if `refresh_seconds` passed since the last check: here
        (wait_s None: a job, the CLI), or in a background thread of the process that the
        caller waits for at most wait_s seconds (a web request: a first load without a
        snapshot reads every unit). True when the index is up to date."""
        if time.monotonic() - self._checked_at < self.refresh_seconds:
            return True
        if wait_s is None:
            self.ensure_fresh(session)
            return True
        engine = session.get_bind().engine  # a thread of its own needs its own connection
        if isinstance(engine.pool, StaticPool):  # one shared connection (SQLite in memory)
            self.ensure_fresh(session)
            return True
        with self._refresher_lock:
            refresher = self._refresher
            if refresher is None or not refresher.is_alive():
                refresher = self._refresher = threading.Thread(
                    target=self._refresh_alone,
                    args=(engine,),
                    name="tm-semantic-refresh",
                    daemon=True,
                )
                refresher.start()
        refresher.join(wait_s)
        return not refresher.is_alive()

    def _refresh_alone(self, engine: Engine) -> None:
        try:
            with Session(bind=engine) as session:
                self.ensure_fresh(session)
        except Exception:  # the next request starts another; a job would raise it
            log.exception("semantic index refresh failed")

    @property
    def warming_up(self) -> bool:
        """Nothing loaded yet, or a background refresh still running."""
        refresher = self._refresher
        return self._revision is None or (refresher is not None and refresher.is_alive())

    def mark_stale(self) -> None:
        """Check the database (and the snapshot folder) at the next query."""
        self._checked_at = -float("inf")

    def ensure_fresh(self, session: Session, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked_at < self.refresh_seconds:
            return
        with self._lock:
            revision = current_revision(session)
            cache_marker = session.scalar(
                select(func.max(EmbeddingCache.id)).where(EmbeddingCache.kind == SEGMENT_KIND)
            )
            started = time.perf_counter()
            self._map_newer_snapshot(session, revision)
            if self._revision is None or revision[1] != self._revision[1]:
                self._reset()
                self._load_units(session, None)
            elif revision[0] > self._revision[0]:
                self._load_units(session, self._revision[0])
                self._forget_deleted(session, self._revision[0])
            elif cache_marker == self._cache_marker and not self._unchecked:
                self._checked_at = time.monotonic()
                return
            cached_after = None if cache_marker == self._cache_marker else self._cache_marker or 0
            self._attach_vectors(session, cached_after)
            for index in self._indexes.values():
                index.prepare()  # a graph past HNSW_ABOVE: here, never on a request's search
            self._revision, self._cache_marker = revision, cache_marker
            self._checked_at = time.monotonic()
            log.info(
                "semantic index refreshed: %d texts mapped, %d held, %d without vector, %.2f s",
                self._mapped_count(),
                len(self._text_of_key),
                len(self._waiting),
                time.perf_counter() - started,
            )
            self._ask_for_snapshot_if_due()

    def _map_newer_snapshot(self, session: Session, revision: tuple[int, int]) -> None:
        """Map the published snapshot if it is new to this process and of this memory, model
        and epoch: the index becomes that snapshot as of its revision (the caller then loads
        what was written since)."""
        if self.snapshot_dir is None:
            return
        from memory.semantic_snapshot import current_name, open_snapshot, read_manifest

        name = current_name(self.snapshot_dir)
        if name is None or name == self._snapshot_seen:
            return
        manifest = read_manifest(self.snapshot_dir, name)
        if manifest is None:
            return  # being pruned or replaced: the next check reads CURRENT again
        self._snapshot_seen = name
        model = self._model_name()
        if (
            manifest.model != model
            or manifest.memory_id != memory_id(session)
            or manifest.epoch != revision[1]
            or manifest.revision > revision[0]
        ):
            log.warning(
                "semantic snapshot %s not used: model %s, epoch %d, revision %d "
                "(here: %s, epoch %d, revision %d)",
                name,
                manifest.model,
                manifest.epoch,
                manifest.revision,
                model,
                revision[1],
                revision[0],
            )
            return
        started = time.perf_counter()
        opened = open_snapshot(self.snapshot_dir, name)
        if opened is None:
            self._snapshot_seen = None
            return
        self._reset()
        self._mapped = mapped = _MappedTexts(opened)
        self._next_key = mapped.end_key
        for language_id, digest, form_hash in mapped.waiting:
            self._hold(language_id, digest, form_hash)
        self._revision = (manifest.revision, manifest.epoch)
        self._cache_marker = manifest.max_cache_id
        log.info(
            "semantic snapshot %s mapped: %d texts, %d waiting for a vector, %.3f s",
            name,
            manifest.texts,
            manifest.waiting,
            time.perf_counter() - started,
        )

    def _ask_for_snapshot_if_due(self) -> None:
        if self.snapshot_dir is None:
            return
        held = len(self._text_of_key)
        if self._mapped is None:
            if held >= SNAPSHOT_MIN_TEXTS:
                self._snapshot_requests.ask(f"{held} sentences held in this process")
        elif held + len(self._hidden) > SNAPSHOT_DELTA_FRACTION * max(
            self._mapped.manifest.texts, 1
        ):
            self._snapshot_requests.ask(
                f"{held} sentences written and {len(self._hidden)} gone since the snapshot"
            )

    def _reset(self) -> None:
        self._mapped = None
        self._hidden.clear()
        self._next_key = 1
        self._indexes.clear()
        self._key_of_text.clear()
        self._text_of_key.clear()
        self._keys_of_form.clear()
        self._unchecked.clear()
        self._waiting.clear()

    def _mapped_count(self) -> int:
        return 0 if self._mapped is None else self._mapped.manifest.texts - len(self._hidden)

    def _text(self, key: int) -> _Text | None:
        """The text of a key, None when it is gone (or hidden)."""
        mapped = self._mapped
        if mapped is not None and key < mapped.end_key:
            return None if key in self._hidden else mapped.text_of(key)
        return self._text_of_key.get(key)

    def _load_units(self, session: Session, since: int | None) -> None:
        for language, digest, form_hash in distinct_unit_texts(session, since):
            if (language, digest) in self._key_of_text:
                continue
            mapped = self._mapped.key_of(language, digest) if self._mapped else None
            if mapped is not None:
                self._hidden.discard(mapped)  # its form has a unit (again)
                continue
            self._hold(language, digest, form_hash)

    def _hold(self, language: int, digest: str, form_hash: str) -> None:
        """Keep a text in the process (its vector is looked up at the next attach)."""
        key = self._key_of_text[(language, digest)] = self._next_key
        self._next_key += 1
        self._text_of_key[key] = _Text(language, digest, form_hash)
        self._keys_of_form[(language, form_hash)].append(key)
        self._unchecked.add(key)

    def _forget_deleted(self, session: Session, since: int) -> None:
        """Drop the texts of forms that lost units since and have none left (in any target
        language); a text whose form still has units stays (a query finds no unit of it)."""
        lost: dict[int, set[str]] = defaultdict(set)
        mapped = self._mapped
        for language, form_hash in session.execute(
            select(TranslationUnitDeletion.source_language_id, TranslationUnitDeletion.source_hash)
            .where(TranslationUnitDeletion.revision > since)
            .distinct()
        ):
            # Rows logged before migration 0008 name no form: nothing to drop by them.
            if language is not None and form_hash is not None:
                if (language, form_hash) in self._keys_of_form or (
                    mapped is not None and mapped.keys_of_form(language, form_hash)
                ):
                    lost[language].add(form_hash)
        # Every target language named, so that ix_translation_unit_lookup (source, target,
        # form) is searched by all three columns instead of read through for the source.
        targets = sorted(session.scalars(select(Language.id)))
        for language, forms in lost.items():
            for chunk in _chunks(sorted(forms), 500):
                alive = set(
                    session.scalars(
                        select(TranslationUnit.source_hash)
                        .where(
                            TranslationUnit.source_language_id == language,
                            TranslationUnit.target_language_id.in_(targets),
                            TranslationUnit.source_hash.in_(chunk),
                        )
                        .distinct()
                    )
                )
                for form_hash in chunk:
                    if form_hash not in alive:
                        self._forget_form(language, form_hash)

    def _forget_form(self, language: int, form_hash: str) -> None:
        if self._mapped is not None:
            self._hidden.update(self._mapped.keys_of_form(language, form_hash))
        keys = self._keys_of_form.pop((language, form_hash), [])
        index = self._indexes.get(language)
        if index is not None and keys:
            index.remove(keys)
        for key in keys:
            known = self._text_of_key.pop(key)
            del self._key_of_text[(language, known.text_hash)]
            self._unchecked.discard(key)
            waiting = self._waiting.get(known.text_hash)
            if waiting is not None and key in waiting:
                waiting.remove(key)
                if not waiting:
                    del self._waiting[known.text_hash]

    def _attach_vectors(self, session: Session, cached_after: int | None) -> None:
        """Vectors for the texts loaded since the last call (looked up by hash), and for texts
        still waiting from the vectors cached after id `cached_after` (None: nothing new)."""
        model = self._model_name()
        found: list[tuple[int, np.ndarray]] = []
        # First the texts that waited (the new ones below are looked up in the whole cache).
        if cached_after is not None and self._waiting:
            fresh = streamed_vectors(
                session, model, self._waiting, kind=SEGMENT_KIND, after_id=cached_after
            )
            for digest, vector in fresh.items():
                found += [(key, vector) for key in self._waiting.pop(digest)]
        if self._unchecked:
            by_hash: dict[str, list[int]] = defaultdict(list)
            for key in self._unchecked:
                by_hash[self._text_of_key[key].text_hash].append(key)
            self._unchecked.clear()
            if len(by_hash) >= STREAM_CACHE_FROM:
                vectors = streamed_vectors(session, model, by_hash, kind=SEGMENT_KIND)
            else:
                vectors = cached_vectors(session, model, by_hash, kind=SEGMENT_KIND)
            for digest, keys in by_hash.items():
                if digest in vectors:
                    found += [(key, vectors[digest]) for key in keys]
                else:
                    self._waiting.setdefault(digest, []).extend(keys)
        # In the order of their text hashes, whatever order the units came in: the index's
        # calibration samples its vectors by position, so z does not depend on the load order.
        found.sort(key=lambda item: self._text_of_key[item[0]].text_hash)
        per_language: dict[int, list[tuple[int, np.ndarray]]] = defaultdict(list)
        for key, vector in found:
            per_language[self._text_of_key[key].language_id].append((key, vector))
        for language, items in per_language.items():
            index = self._indexes.get(language)
            if index is None or index.dim != items[0][1].shape[0]:
                index = self._indexes[language] = SegmentVectorIndex(items[0][1].shape[0])
            index.add([k for k, _ in items], np.stack([v for _, v in items]))

    # ---- queries --------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        with self._lock:
            waiting = sum(len(keys) for keys in self._waiting.values())
            return {
                "texts": len(self._text_of_key) + self._mapped_count(),
                "mapped": self._mapped_count(),
                "without_vector": waiting + len(self._unchecked),
            }

    def _nearest(
        self, language_id: int, queries: np.ndarray, k: int
    ) -> list[list[tuple[Neighbour, _Text]]] | None:
        """The k nearest texts of each query row, mapped and held ones together, best first,
        each with its z by the mapped snapshot's calibration (the held texts' own without a
        snapshot); None when the language has no text."""
        index = self._indexes.get(language_id)
        mapped = self._mapped
        calibration = mapped.calibration(language_id) if mapped is not None else None
        found: list[list[tuple[float, int]]] = [[] for _ in range(len(queries))]
        if mapped is not None and calibration is not None:
            # A few more, for the hidden ones dropped below.
            extra = min(len(self._hidden), k)
            for row, hits in zip(
                found, mapped.search(language_id, queries, k + extra), strict=True
            ):
                row += hits
        if index is not None:
            calibration = calibration or index.calibration()
            for row, neighbours in zip(found, index.search(queries, k), strict=True):
                row += [(n.cosine, n.key) for n in neighbours]
        if calibration is None:
            return None
        nearest = []
        for row in found:
            row.sort(key=lambda hit: -hit[0])
            kept: list[tuple[Neighbour, _Text]] = []
            for cosine, key in row:
                text = self._text(key)
                if text is None:
                    continue
                z, percentile = calibration.z(cosine), calibration.percentile(cosine)
                kept.append((Neighbour(key, cosine, z, percentile), text))
                if len(kept) == k:
                    break
            nearest.append(kept)
        return nearest

    def neighbours(
        self,
        session: Session,
        source_language_id: int,
        target_language_id: int,
        texts: Sequence[str],
        *,
        limit: int = 3,
        exclude_page_id: int | None = None,
        wait_s: float | None = None,
    ) -> list[list[SemanticHit]]:
        """Per query text: up to `limit` units (source → target) nearest by meaning, best first.

        A text without a cached vector (not embedded yet) or too short gets no hits; so does
        every text while the index is still loading after `wait_s` seconds (see `refresh`).
        """
        fresh = self.refresh(session, wait_s=wait_s)
        results: list[list[SemanticHit]] = [[] for _ in texts]
        plain = [segment_text(t) for t in texts]
        hashes = [text_hash(t) for t in plain]
        wanted = {h for h, t in zip(hashes, plain, strict=True) if worth_embedding(t)}
        vectors = cached_vectors(session, self._model_name(), wanted, kind=SEGMENT_KIND)
        rows = [i for i, h in enumerate(hashes) if h in vectors]
        if not rows or not self._lock.acquire(blocking=fresh):
            return results  # nothing to ask, or the background load holds the index
        try:
            query = np.stack([vectors[hashes[i]] for i in rows])
            nearest = self._nearest(source_language_id, query, limit * 4 + 4)
        finally:
            self._lock.release()
        if nearest is None:
            return results
        # The units of the first few neighbours of every text first; the further neighbours'
        # only for texts still short of `limit` (their near texts had no unit in the target
        # language, or only on the excluded page).
        units: dict[str, list[tuple[int, int | None, str]]] = defaultdict(list)
        fetched: set[str] = set()
        pending = list(zip(rows, nearest, strict=True))
        for first in (limit + 1, None):
            asked = {
                known.form_hash
                for _, row in pending
                for _, known in row[:first]
                if known.form_hash not in fetched
            }
            fetched |= asked
            for digest, found in _units_by_text(
                session,
                source_language_id,
                target_language_id,
                asked,
                exclude_page_id,
            ).items():
                units[digest] += found
            short = []
            for i, row in pending:
                # Over the neighbours whose units were all read: what a full read would give
                # once `limit` texts gave units among them.
                results[i] = _hits(row[:first], hashes[i], units, limit)
                complete = len({hit.source_text for hit in results[i]}) >= limit
                if first is not None and not complete and len(row) > first:
                    short.append((i, row))
            pending = short
            if not pending:
                break
        return results


def _hits(
    row: list[tuple[Neighbour, _Text]],
    query_hash: str,
    units: Mapping[str, list[tuple[int, int | None, str]]],
    limit: int,
) -> list[SemanticHit]:
    """The units of a text's nearest texts, nearest first, until `limit` texts gave some."""
    hits: list[SemanticHit] = []
    for neighbour, known in row:
        if known.text_hash == query_hash:
            continue  # the same sentence: the exact match's business
        for unit_id, page_id, text in units.get(known.text_hash, ()):
            hits.append(SemanticHit(unit_id, page_id, text, neighbour))
        if len({hit.source_text for hit in hits}) >= limit:
            break
    return hits


def _units_by_text(
    session: Session,
    source_language_id: int,
    target_language_id: int,
    form_hashes: Iterable[str],
    exclude_page_id: int | None,
) -> dict[str, list[tuple[int, int | None, str]]]:
    """(unit id, page id, plain source text) of the units of these source forms in the
    language pair, by the hash of their plain source text (several texts may share a form),
    oldest first."""
    found: dict[str, list[tuple[int, int | None, str]]] = defaultdict(list)
    for chunk in _chunks(sorted(form_hashes), 500):
        query = select(
            TranslationUnit.id, TranslationUnit.page_id, TranslationUnit.source_text
        ).where(
            TranslationUnit.source_language_id == source_language_id,
            TranslationUnit.target_language_id == target_language_id,
            TranslationUnit.source_hash.in_(chunk),
        )
        if exclude_page_id is not None:
            query = query.where(
                or_(TranslationUnit.page_id.is_(None), TranslationUnit.page_id != exclude_page_id)
            )
        for unit_id, page_id, source_text in session.execute(query.order_by(TranslationUnit.id)):
            text = segment_text(source_text)
            found[text_hash(text)].append((unit_id, page_id, text))
    return found


def build_semantic_snapshot(session: Session, model: str, root: Path) -> SemanticSnapshotManifest:
    """Write the memory's distinct source sentences with their cached vectors of `model` as a
    snapshot in `root` (`memory.semantic_snapshot`) and publish it; every `SemanticMemory`
    with that folder maps it at its next refresh. Reads every unit and the segment cache once."""
    from memory.semantic_snapshot import write_snapshot

    started = time.perf_counter()
    revision, epoch = current_revision(session)
    identity = memory_id(session)
    cache_marker = (
        session.scalar(
            select(func.max(EmbeddingCache.id)).where(EmbeddingCache.kind == SEGMENT_KIND)
        )
        or 0
    )
    forms: dict[tuple[int, str], str] = {}
    for language, digest, form_hash in distinct_unit_texts(session):
        forms.setdefault((language, digest), form_hash)
    vectors = streamed_vectors(session, model, {digest for _, digest in forms}, kind=SEGMENT_KIND)
    per_language: dict[int, list[tuple[str, str]]] = defaultdict(list)
    waiting = []
    for (language, digest), form_hash in forms.items():
        if digest in vectors:
            per_language[language].append((digest, form_hash))
        else:
            waiting.append((language, digest, form_hash))
    del forms
    languages = {
        language: (
            np.array([digest for digest, _ in texts], dtype="S64"),
            np.array([form_hash for _, form_hash in texts], dtype="S64"),
            np.stack([vectors[digest] for digest, _ in texts]),
        )
        for language, texts in per_language.items()
    }
    manifest = write_snapshot(
        root,
        languages,
        waiting,
        model=model,
        revision=revision,
        epoch=epoch,
        max_cache_id=cache_marker,
        memory_id=identity,
        build_seconds=time.perf_counter() - started,
    )
    log.info(
        "semantic snapshot of revision %d: %d texts (%d waiting for a vector), %.1f MB, %.1f s",
        revision,
        manifest.texts,
        manifest.waiting,
        manifest.bytes / 1e6,
        time.perf_counter() - started,
    )
    return manifest
