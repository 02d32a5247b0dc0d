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

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from matchers.embeddings import Encoder
from matchers.semantic_index import Neighbour, SegmentVectorIndex
from memory.models import Language, Page, PageTranslation
from memory.segmentation import build_template
from memory.services.similarity import (
    _chunks,
    _only_latest_public,
    _store_vectors,
    cached_vectors,
    text_hash,
)
from memory.services.translation_memory import (
    current_revision,
    strip_markup,
    units_written_since,
)
from memory.similarity_models import EmbeddingCache
from memory.tm_models import TranslationUnit, TranslationUnitDeletion

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
class _UnitRef:
    unit_id: int
    target_language_id: int
    page_id: int | None


@dataclass(frozen=True, slots=True)
class SemanticHit:
    """A unit whose source text is near a query segment by meaning."""

    unit_id: int
    page_id: int | None
    source_text: str  # the plain text whose vector matched
    neighbour: Neighbour


def _streamed_vectors(
    session: Session, model: str, wanted: Container[str]
) -> dict[str, np.ndarray]:
    """`cached_vectors` of many hashes at once: the model's segment cache read in one pass."""
    found: dict[str, np.ndarray] = {}
    rows = session.execute(
        select(EmbeddingCache.text_hash, EmbeddingCache.vector, EmbeddingCache.dim)
        .where(EmbeddingCache.model == model, EmbeddingCache.kind == SEGMENT_KIND)
        .execution_options(yield_per=10_000)
    )
    for digest, blob, dim in rows:
        if digest in wanted:
            vector = np.frombuffer(blob, dtype=np.float32)
            if vector.shape[0] == dim:
                found[digest] = vector
    return found


class SemanticMemory:
    """Per-process sentence-vector indexes of the memory's distinct source texts.

    Kept in step with the database like the fuzzy index: `ensure_fresh` reads the TM revision
    and the embedding cache's last id at most every `refresh_seconds`, then loads only units
    written (and forgets units deleted) since, and picks up vectors cached since. Thread-safe.
    """

    def __init__(self, model_name: Callable[[], str], *, refresh_seconds: float = 2.0) -> None:
        self._model_name = model_name
        self.refresh_seconds = refresh_seconds
        self._lock = threading.RLock()
        self._refresher: threading.Thread | None = None
        self._refresher_lock = threading.Lock()
        self._indexes: dict[int, SegmentVectorIndex] = {}
        self._key_of_text: dict[tuple[int, str], int] = {}  # (source language id, hash) → key
        self._text_of_key: dict[int, tuple[int, str, str]] = {}  # key → (language, hash, text)
        self._units_of_key: dict[int, dict[int, _UnitRef]] = defaultdict(dict)
        self._key_of_unit: dict[int, int] = {}
        self._without_vector: set[int] = set()
        self._revision: tuple[int, int] | None = None
        self._cache_marker: int | None = None
        self._checked_at = -float("inf")

    # ---- freshness ------------------------------------------------------------------------

    def refresh(self, session: Session, *, wait_s: float | None = None) -> bool:
        """Catch up with the database if `refresh_seconds` passed since the last check: here
        (wait_s None: a job, the CLI), or in a background thread of the process that the
        caller waits for at most wait_s seconds (a web request: the first load reads every
        unit, 5.6 s for 300 000 on PostgreSQL). True when the index is up to date."""
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
            if self._revision is None or revision[1] != self._revision[1]:
                self._reset()
                self._load_units(session, None)
            elif revision[0] > self._revision[0]:
                self._forget_deleted(session, self._revision[0])
                self._load_units(session, self._revision[0])
            elif cache_marker == self._cache_marker:
                self._checked_at = time.monotonic()
                return
            self._attach_vectors(session)
            self._revision, self._cache_marker = revision, cache_marker
            self._checked_at = time.monotonic()
            log.info(
                "semantic index refreshed: %d texts, %d without vector, %.2f s",
                len(self._text_of_key),
                len(self._without_vector),
                time.perf_counter() - started,
            )

    def _reset(self) -> None:
        self._indexes.clear()
        self._key_of_text.clear()
        self._text_of_key.clear()
        self._units_of_key.clear()
        self._key_of_unit.clear()
        self._without_vector.clear()

    def _load_units(self, session: Session, since: int | None) -> None:
        query = select(
            TranslationUnit.id,
            TranslationUnit.source_language_id,
            TranslationUnit.target_language_id,
            TranslationUnit.source_text,
            TranslationUnit.page_id,
        )
        if since is not None:
            query = query.where(units_written_since(since))
        for row in session.execute(query.execution_options(yield_per=10_000)):
            text = segment_text(row.source_text)
            self._forget_unit(row.id)
            if not worth_embedding(text):
                continue
            identity = (row.source_language_id, text_hash(text))
            key = self._key_of_text.get(identity)
            if key is None:
                key = self._key_of_text[identity] = len(self._text_of_key) + 1
                self._text_of_key[key] = (row.source_language_id, identity[1], text)
                self._without_vector.add(key)
            self._units_of_key[key][row.id] = _UnitRef(row.id, row.target_language_id, row.page_id)
            self._key_of_unit[row.id] = key

    def _forget_deleted(self, session: Session, since: int) -> None:
        for unit_id in session.scalars(
            select(TranslationUnitDeletion.unit_id).where(TranslationUnitDeletion.revision > since)
        ):
            self._forget_unit(unit_id)

    def _forget_unit(self, unit_id: int) -> None:
        key = self._key_of_unit.pop(unit_id, None)
        if key is None:
            return
        units = self._units_of_key.get(key)
        if units is not None:
            units.pop(unit_id, None)
            if not units:
                # No unit offers this text any more: drop its vector (its key stays reserved).
                del self._units_of_key[key]
                language = self._text_of_key[key][0]
                index = self._indexes.get(language)
                if index is not None:
                    index.remove([key])
                self._without_vector.add(key)

    def _attach_vectors(self, session: Session) -> None:
        wanted = [k for k in self._without_vector if k in self._units_of_key]
        if not wanted:
            return
        by_hash = {self._text_of_key[k][1]: k for k in wanted}
        if len(by_hash) >= STREAM_CACHE_FROM:
            vectors = _streamed_vectors(session, self._model_name(), by_hash)
        else:
            vectors = cached_vectors(session, self._model_name(), by_hash, kind=SEGMENT_KIND)
        per_language: dict[int, list[tuple[int, np.ndarray]]] = defaultdict(list)
        for digest, vector in vectors.items():
            key = by_hash[digest]
            per_language[self._text_of_key[key][0]].append((key, vector))
            self._without_vector.discard(key)
        for language, items in per_language.items():
            index = self._indexes.get(language)
            if index is None or index.dim != items[0][1].shape[0]:
                index = self._indexes[language] = SegmentVectorIndex(items[0][1].shape[0])
            index.add([k for k, _ in items], np.stack([v for _, v in items]))

    # ---- queries --------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "texts": len(self._units_of_key),
                "without_vector": len([k for k in self._without_vector if k in self._units_of_key]),
                "units": len(self._key_of_unit),
            }

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
            index = self._indexes.get(source_language_id)
            if index is None:
                return results
            query = np.stack([vectors[hashes[i]] for i in rows])
            found = index.search(query, k=limit * 4 + 4)
            for i, neighbours in zip(rows, found, strict=True):
                for neighbour in neighbours:
                    language, digest, text = self._text_of_key[neighbour.key]
                    if digest == hashes[i]:
                        continue  # the same sentence: the exact match's business
                    units = [
                        ref
                        for ref in self._units_of_key.get(neighbour.key, {}).values()
                        if ref.target_language_id == target_language_id
                        and (exclude_page_id is None or ref.page_id != exclude_page_id)
                    ]
                    for ref in units:
                        results[i].append(SemanticHit(ref.unit_id, ref.page_id, text, neighbour))
                    if len({h.source_text for h in results[i]}) >= limit:
                        break
        finally:
            self._lock.release()
        return results
