"""Near-duplicate pages across regions: embedding cache, the shared index, similar pages, overlap.

Only the latest PUBLIC version of each (page, language) is ever embedded, indexed or returned:
drafts never leave their region.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Row, Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from matchers.embeddings import Encoder
from memory.errors import InvalidInput, NotFound
from memory.models import Language, Page, PageTranslation, Region, TranslationStatus
from memory.segmentation import html_to_text
from memory.services.pages import get_page_or_404
from memory.services.regions import get_language, get_region
from memory.similarity_models import EmbeddingCache
from memory.snapshot_folder import SnapshotRequests

if TYPE_CHECKING:
    # Imported where an index is built: its MinHash library loads scipy (about 0.5 s), which
    # every process importing this module (the CLI, web workers) would pay at start-up.
    from matchers.near_duplicates import Relation, SimilarityReason
    from memory.similarity_snapshot import SimilaritySnapshot, SimilaritySnapshotManifest

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
PAGE_KIND = "page"
# The title alone: relates the titles of pages in two languages (no shared words to compare).
TITLE_KIND = "title"
EMBED_BATCH = 32
_CHUNK = 500  # ids per IN (...) query: well under SQLite's parameter limit
# Pages added since the mapped snapshot beyond this share of it: a warning to build a new one,
# and (from SNAPSHOT_MIN_PAGES pages on) a request for one.
DELTA_WARN_FRACTION = 0.2
# An index of at least this many pages that is built (or grown) in the process asks for a
# snapshot: below it, building in each process costs less than a second.
SNAPSHOT_MIN_PAGES = 1_000
# A holder asks for a snapshot at most this often (the job is recorded once anyway).
SNAPSHOT_REQUEST_INTERVAL_S = 300.0


# ----------------------------------------------------------------------------- page text


def page_text(title: str, content: str) -> str:
    """What a page vector encodes: title, then the plain text (the encoder truncates)."""
    return f"{title}\n{html_to_text(content)}".strip()


def title_text(title: str) -> str:
    """What a title vector encodes: the title, whitespace folded."""
    return " ".join(title.split())


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _chunks(values: Sequence, size: int = _CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def latest_public_query():
    """(page_id, language_id, version) of the latest public version of every page translation."""
    return (
        select(
            PageTranslation.page_id,
            PageTranslation.language_id,
            func.max(PageTranslation.version).label("version"),
        )
        .where(PageTranslation.status == TranslationStatus.PUBLIC)
        .group_by(PageTranslation.page_id, PageTranslation.language_id)
        .subquery()
    )


def latest_public_ids(session: Session, *, region_slug: str | None = None) -> list[int]:
    """Ids of the latest public page translations, of one region or of all."""
    latest = latest_public_query()
    query = (
        select(PageTranslation.id)
        .join(
            latest,
            (PageTranslation.page_id == latest.c.page_id)
            & (PageTranslation.language_id == latest.c.language_id)
            & (PageTranslation.version == latest.c.version),
        )
        .order_by(PageTranslation.id)
    )
    if region_slug is not None:
        region = get_region(session, region_slug)
        query = query.join(Page, Page.id == PageTranslation.page_id).where(
            Page.region_id == region.id
        )
    return list(session.scalars(query))


def _only_latest_public(session: Session, ids: Sequence[int]) -> list[int]:
    """The given ids that are still the latest public version of their page translation."""
    keep: list[int] = []
    for chunk in _chunks(sorted(set(ids))):
        rows = session.execute(
            select(PageTranslation.page_id, PageTranslation.language_id).where(
                PageTranslation.id.in_(chunk)
            )
        ).all()
        page_ids = sorted({row.page_id for row in rows})
        if not page_ids:
            continue
        latest = (
            select(
                PageTranslation.page_id,
                PageTranslation.language_id,
                func.max(PageTranslation.version).label("version"),
            )
            .where(
                PageTranslation.status == TranslationStatus.PUBLIC,
                PageTranslation.page_id.in_(page_ids),
            )
            .group_by(PageTranslation.page_id, PageTranslation.language_id)
            .subquery()
        )
        current = set(
            session.scalars(
                select(PageTranslation.id).join(
                    latest,
                    (PageTranslation.page_id == latest.c.page_id)
                    & (PageTranslation.language_id == latest.c.language_id)
                    & (PageTranslation.version == latest.c.version),
                )
            )
        )
        keep.extend(i for i in chunk if i in current)
    return keep


# ----------------------------------------------------------------------------- embedding cache


@dataclass(frozen=True)
class EmbedReport:
    """What an embedding pass did: translations considered, texts found cached, texts encoded."""

    translations: int
    skipped: int  # not (or no longer) the latest public version
    cached: int
    encoded: int

    def as_dict(self) -> dict[str, int]:
        return {
            "translations": self.translations,
            "skipped": self.skipped,
            "cached": self.cached,
            "encoded": self.encoded,
        }


def cached_vectors(
    session: Session, model: str, hashes: Iterable[str], *, kind: str = PAGE_KIND
) -> dict[str, np.ndarray]:
    """Vectors of the given text hashes found in the cache (float32, L2-normalised)."""
    found: dict[str, np.ndarray] = {}
    for chunk in _chunks(sorted(set(hashes))):
        rows = session.execute(
            _vector_rows(model, kind).where(EmbeddingCache.text_hash.in_(chunk))
        ).all()
        found.update(_decoded(rows))
    return found


def streamed_vectors(
    session: Session,
    model: str,
    wanted: Container[str],
    *,
    kind: str = PAGE_KIND,
    after_id: int | None = None,
) -> dict[str, np.ndarray]:
    """`cached_vectors` of many hashes at once: the model's cache of that kind read in one
    streamed pass (only its rows after id `after_id`, when given)."""
    query = _vector_rows(model, kind)
    if after_id is not None:
        query = query.where(EmbeddingCache.id > after_id)
    rows = session.execute(query.execution_options(yield_per=10_000))
    return dict(_decoded(row for row in rows if row.text_hash in wanted))


def _vector_rows(model: str, kind: str) -> Select:
    return select(EmbeddingCache.text_hash, EmbeddingCache.vector, EmbeddingCache.dim).where(
        EmbeddingCache.model == model, EmbeddingCache.kind == kind
    )


def _decoded(rows: Iterable[Row]) -> Iterator[tuple[str, np.ndarray]]:
    """(text hash, vector) of cache rows whose bytes hold the dimension they name."""
    for row in rows:
        vector = np.frombuffer(row.vector, dtype=np.float32)
        if vector.shape[0] == row.dim:
            yield row.text_hash, vector


def _store_vectors(
    session: Session, model: str, kind: str, hashes: Sequence[str], vectors: np.ndarray
) -> None:
    """Insert cache rows and commit; another process racing on the same text is not an error."""
    rows = [
        EmbeddingCache(
            model=model,
            kind=kind,
            text_hash=h,
            dim=int(vectors.shape[1]),
            vector=np.ascontiguousarray(vectors[i], dtype=np.float32).tobytes(),
        )
        for i, h in enumerate(hashes)
    ]
    session.add_all(rows)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        present = set(cached_vectors(session, model, hashes, kind=kind))
        for i, h in enumerate(hashes):
            if h not in present:
                session.add(
                    EmbeddingCache(
                        model=model,
                        kind=kind,
                        text_hash=h,
                        dim=int(vectors.shape[1]),
                        vector=np.ascontiguousarray(vectors[i], dtype=np.float32).tobytes(),
                    )
                )
        session.commit()


def embed_pages(
    session: Session,
    encoder: Encoder,
    page_translation_ids: Sequence[int],
    progress: Progress | None = None,
    *,
    batch_size: int = EMBED_BATCH,
) -> EmbedReport:
    """Make sure every given (latest public) page translation has a cached page vector.

    Text = title + plain text; symmetric e5 prompt (`encode_queries`) on both sides. The cache
    is looked up by sha256 of the text first; only misses are encoded, in batches, each batch
    committed, so a killed worker loses at most one batch and a re-run encodes nothing twice.
    `progress(done, total)` counts translations.
    """
    requested = sorted(set(page_translation_ids))
    ids = _only_latest_public(session, requested)
    texts: dict[str, str] = {}
    titles: dict[str, str] = {}
    for chunk in _chunks(ids):
        for row in session.execute(
            select(PageTranslation.title, PageTranslation.content).where(
                PageTranslation.id.in_(chunk)
            )
        ):
            text = page_text(row.title, row.content)
            texts.setdefault(text_hash(text), text)
            if title_text(row.title):
                titles.setdefault(text_hash(title_text(row.title)), title_text(row.title))
    # Titles first (short, quick): an indexed page vector then always finds its title's.
    have_titles = set(cached_vectors(session, encoder.name, titles, kind=TITLE_KIND))
    missing_titles = [h for h in titles if h not in have_titles]
    for batch in _chunks(missing_titles, batch_size * 4):
        vectors = encoder.encode_queries([titles[h] for h in batch])
        _store_vectors(session, encoder.name, TITLE_KIND, batch, vectors)
    total = len(ids)
    have = set(cached_vectors(session, encoder.name, texts))
    missing = [h for h in texts if h not in have]
    # Progress in translations: cached ones count as done at once, then batch by batch.
    per_text = total / len(texts) if texts else 0.0
    done = total - round(len(missing) * per_text)
    if progress:
        progress(done, total)
    encoded = 0
    for batch in _chunks(missing, batch_size):
        vectors = encoder.encode_queries([texts[h] for h in batch])
        _store_vectors(session, encoder.name, PAGE_KIND, batch, vectors)
        encoded += len(batch)
        if progress:
            progress(min(total, total - round((len(missing) - encoded) * per_text)), total)
    return EmbedReport(
        translations=total,
        skipped=len(requested) - total,
        cached=len(texts) - len(missing),
        encoded=encoded,
    )


# ----------------------------------------------------------------------------- the index


@dataclass(frozen=True)
class IndexedPage:
    """What the holder knows about an indexed translation (its key is the translation id)."""

    translation_id: int
    page_id: int
    region: str
    external_id: str
    language: str
    title: str
    url: str
    text_hash: str


class SimilarityIndexes:
    """One NearDuplicateIndex over the latest public page translations of every region.

    Built lazily from the database and the embedding cache, refreshed incrementally: a cheap
    change marker (max id and count of page translations, max id of the cache) is read at most
    every `refresh_interval` seconds, so writes of other processes (web workers, rq workers)
    are visible within that delay. Thread-safe: one lock around refreshes and queries.

    With a `snapshot_dir` (`memory.similarity_snapshot`) holding a snapshot of the current
    model, the index is that snapshot mapped read-only (shared by every process of the
    machine) instead of built; the refresh then only adds the pages written since (the delta,
    in memory) and hides the snapshot's rows of pages gone or replaced. A newer snapshot
    (CURRENT changed) is mapped at the next refresh. Without one, the index is built here.
    """

    def __init__(
        self,
        model_name: Callable[[], str],
        *,
        refresh_interval: float = 2.0,
        snapshot_dir: Path | None = None,
        request_snapshot: Callable[[], object] | None = None,
    ) -> None:
        from matchers.near_duplicates import NearDuplicateIndex

        self._model_name = model_name
        self.refresh_interval = refresh_interval
        self.snapshot_dir = snapshot_dir
        self.index = NearDuplicateIndex()
        self.pages: dict[int, IndexedPage] = {}
        self.languages_by_page: dict[int, set[str]] = defaultdict(set)
        self._without_vector: set[int] = set()
        self._marker: tuple | None = None
        self._checked_at = -float("inf")
        self._stale = True
        self.lock = threading.RLock()
        # The mapped snapshot (None: built here) and, until the next refresh has matched them
        # with the database, the text hashes of its pages.
        self.snapshot: SimilaritySnapshotManifest | None = None
        self.snapshot_name: str | None = None
        self._snapshot_pages: SimilaritySnapshot | None = None
        self.delta_pages = 0  # pages added since the snapshot (or since the build)
        # Called (rarely: SNAPSHOT_REQUEST_INTERVAL_S) when a snapshot would save this and
        # every other process work: none of a big index, or a delta past its share.
        self._snapshot_requests = SnapshotRequests(
            request_snapshot, what="similarity", interval_s=SNAPSHOT_REQUEST_INTERVAL_S
        )

    def mark_stale(self) -> None:
        """This process changed something: check the marker at the next query."""
        self._stale = True

    def ensure_fresh(self, session: Session) -> None:
        with self.lock:
            now = time.monotonic()
            if not self._stale and now - self._checked_at < self.refresh_interval:
                return
            self._checked_at = now
            self._stale = False
            if self.snapshot_dir is not None:
                self._map_newer_snapshot()
            marker = self._read_marker(session)
            if marker == self._marker:
                return
            self._refresh(session)
            self._marker = marker

    def _map_newer_snapshot(self) -> None:
        """Map the published snapshot if it is not the one in use (the next refresh then
        matches it with the database); keep the index in use if it is unusable."""
        from memory.similarity_snapshot import current_name, open_snapshot, read_manifest

        assert self.snapshot_dir is not None
        name = current_name(self.snapshot_dir)
        if name is None or name == self.snapshot_name:
            return
        manifest = read_manifest(self.snapshot_dir, name)
        model = self._model_name()
        if manifest is None or manifest.model != model:
            if manifest is not None:
                log.info(
                    "similarity snapshot %s is of model %s, not %s", name, manifest.model, model
                )
            self.snapshot_name = name  # not asked again until CURRENT changes
            return
        started = time.perf_counter()
        opened = open_snapshot(self.snapshot_dir, name)
        if opened is None:
            return
        self._reset()
        self.index = opened.index
        self.snapshot, self.snapshot_name = opened.manifest, name
        self._snapshot_pages = opened
        log.info(
            "similarity snapshot %s mapped: %d pages, %.1f MB, %.3f s",
            name,
            opened.manifest.pages,
            opened.manifest.bytes / 1e6,
            time.perf_counter() - started,
        )

    @staticmethod
    def _read_marker(session: Session) -> tuple:
        pages = session.execute(
            select(func.max(PageTranslation.id), func.count(PageTranslation.id))
        ).one()
        cache = session.scalar(select(func.max(EmbeddingCache.id)))
        return (pages[0], pages[1], cache)

    def _refresh(self, session: Session) -> None:
        started = time.perf_counter()
        latest = latest_public_query()
        rows = session.execute(
            select(
                PageTranslation.id,
                PageTranslation.page_id,
                PageTranslation.title,
                PageTranslation.url,
                Page.external_id,
                Region.slug,
                Language.code,
            )
            .join(
                latest,
                (PageTranslation.page_id == latest.c.page_id)
                & (PageTranslation.language_id == latest.c.language_id)
                & (PageTranslation.version == latest.c.version),
            )
            .join(Page, Page.id == PageTranslation.page_id)
            .join(Region, Region.id == Page.region_id)
            .join(Language, Language.id == PageTranslation.language_id)
        ).all()
        current = {row.id: row for row in rows}
        if self._snapshot_pages is not None:
            self._adopt_snapshot_pages(current)
        gone = [key for key in self.pages if key not in current]
        for key in gone:
            self._discard(key)
        new_ids = [key for key in current if key not in self.pages]
        # Pages indexed before their vector existed: pick the vector up now if it is cached.
        retry_ids = sorted(self._without_vector)
        model = self._model_name()
        added = self._add(session, model, new_ids, current, retry_only=False)
        added += self._add(session, model, retry_ids, current, retry_only=True)
        if self.snapshot is not None:
            limit = DELTA_WARN_FRACTION * max(self.snapshot.pages, 1)
            if self.delta_pages <= limit < self.delta_pages + added:
                log.warning(
                    "similarity index: %d pages written since snapshot %s of %d pages; "
                    "build a new one (flask tm similarity-snapshot)",
                    self.delta_pages + added,
                    self.snapshot_name,
                    self.snapshot.pages,
                )
        self.delta_pages += added
        if self.snapshot_dir is not None:
            if self.snapshot is None and len(self.pages) >= SNAPSHOT_MIN_PAGES:
                self._ask_for_snapshot(f"{len(self.pages)} pages indexed in this process")
            elif (
                self.snapshot is not None
                and self.delta_pages >= SNAPSHOT_MIN_PAGES
                and self.delta_pages > DELTA_WARN_FRACTION * self.snapshot.pages
            ):
                self._ask_for_snapshot(f"{self.delta_pages} pages written since the snapshot")
        log.info(
            "similarity index refreshed: %d added/updated, %d removed, %d pages, %.2f s",
            added,
            len(gone),
            len(self.pages),
            time.perf_counter() - started,
        )

    def _ask_for_snapshot(self, why: str) -> None:
        self._snapshot_requests.ask(why)

    def _adopt_snapshot_pages(self, current: dict) -> None:
        """The snapshot's pages that are still the latest public versions become this
        holder's pages (no text read, no features computed); the rows of the others are
        hidden. Pages indexed without a vector are retried like any other."""
        opened = self._snapshot_pages
        assert opened is not None
        self._snapshot_pages = None
        hidden = 0
        for key, hash_ in opened.text_hashes.items():
            row = current.get(key)
            if row is None:
                self.index.discard(key)
                hidden += 1
                continue
            self.pages[key] = IndexedPage(
                translation_id=key,
                page_id=row.page_id,
                region=row.slug,
                external_id=row.external_id,
                language=row.code,
                title=row.title,
                url=row.url,
                text_hash=hash_,
            )
            self.languages_by_page[row.page_id].add(row.code)
        self._without_vector = opened.without_vector & set(self.pages)
        log.info("similarity snapshot: %d pages in use, %d hidden", len(self.pages), hidden)

    def _discard(self, key: int) -> None:
        page = self.pages.pop(key, None)
        self.index.discard(key)
        self._without_vector.discard(key)
        if page is not None:
            languages = self.languages_by_page.get(page.page_id)
            if languages is not None:
                languages.discard(page.language)
                if not languages:
                    del self.languages_by_page[page.page_id]

    def _add(self, session: Session, model: str, ids, current, *, retry_only: bool) -> int:
        from matchers.near_duplicates import PageDoc

        added = 0
        for chunk in _chunks(ids):
            if retry_only:
                hashes = {key: self.pages[key].text_hash for key in chunk if key in self.pages}
                vectors = cached_vectors(session, model, hashes.values())
                chunk = [key for key in hashes if hashes[key] in vectors]
                if not chunk:
                    continue
            contents = dict(
                session.execute(
                    select(PageTranslation.id, PageTranslation.content).where(
                        PageTranslation.id.in_(chunk)
                    )
                ).all()
            )
            texts = {key: page_text(current[key].title, contents[key]) for key in chunk}
            hashes = {key: text_hash(text) for key, text in texts.items()}
            vectors = cached_vectors(session, model, hashes.values())
            title_hashes = {key: text_hash(title_text(current[key].title)) for key in chunk}
            title_vectors = cached_vectors(session, model, title_hashes.values(), kind=TITLE_KIND)
            docs = []
            for key in chunk:
                row = current[key]
                vector = vectors.get(hashes[key])
                docs.append(
                    PageDoc(
                        key=key,
                        region=row.slug,
                        language=row.code,
                        title=row.title,
                        text=texts[key],
                        vector=vector,
                        title_vector=title_vectors.get(title_hashes[key]),
                    )
                )
                self.pages[key] = IndexedPage(
                    translation_id=key,
                    page_id=row.page_id,
                    region=row.slug,
                    external_id=row.external_id,
                    language=row.code,
                    title=row.title,
                    url=row.url,
                    text_hash=hashes[key],
                )
                self.languages_by_page[row.page_id].add(row.code)
                if vector is None:
                    self._without_vector.add(key)
                else:
                    self._without_vector.discard(key)
            try:
                self.index.add_many(docs)
            except ValueError:
                # Vectors of another dimension (the model changed): rebuild from scratch.
                log.warning("embedding dimension changed; rebuilding the similarity index")
                self._reset()
                raise
            added += len(docs)
        return added

    def _reset(self) -> None:
        from matchers.near_duplicates import NearDuplicateIndex

        self.index = NearDuplicateIndex()
        self.pages.clear()
        self.languages_by_page.clear()
        self._without_vector.clear()
        self._marker = None
        self._stale = True
        self.snapshot = self.snapshot_name = self._snapshot_pages = None
        self.delta_pages = 0


def build_similarity_snapshot(
    session: Session, model: str, root: Path
) -> SimilaritySnapshotManifest:
    """Build the near-duplicate index from the database and the embedding cache (as a process
    without a snapshot does) and publish it as a snapshot in `root`."""
    from memory.similarity_snapshot import write_snapshot

    started = time.perf_counter()
    max_id, _, max_cache_id = SimilarityIndexes._read_marker(session)
    holder = SimilarityIndexes(lambda: model)
    holder._refresh(session)
    manifest = write_snapshot(
        root,
        holder.index,
        {key: page.text_hash for key, page in holder.pages.items()},
        model=model,
        max_translation_id=int(max_id or 0),
        max_cache_id=int(max_cache_id or 0),
        build_seconds=time.perf_counter() - started,
    )
    log.info(
        "similarity snapshot: %d pages, %.1f MB, %.1f s",
        manifest.pages,
        manifest.bytes / 1e6,
        time.perf_counter() - started,
    )
    return manifest


# ----------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class LanguageMatch:
    language: str
    score: float


@dataclass(frozen=True)
class SimilarPageMatch:
    """A page of another region similar to the query page; score 0–1 (best translation)."""

    region: Region
    external_id: str
    language: str  # the other page's translation that matched best
    title: str
    url: str
    score: float
    reason: SimilarityReason
    matched_languages: list[LanguageMatch]
    # Languages the other page has (public) that the query page lacks: the reuse opportunity.
    missing_languages: list[str]


@dataclass(frozen=True)
class SimilarPagesResult:
    region: Region
    external_id: str
    language: str
    title: str
    items: list[SimilarPageMatch]


def _query_translation(
    session: Session, indexes: SimilarityIndexes, region: Region, page: Page, language_code: str
) -> IndexedPage:
    key = session.scalar(
        select(PageTranslation.id)
        .where(
            PageTranslation.page_id == page.id,
            PageTranslation.language.has(code=language_code),
            PageTranslation.status == TranslationStatus.PUBLIC,
        )
        .order_by(PageTranslation.version.desc())
        .limit(1)
    )
    if key is None or key not in indexes.pages:
        raise NotFound(
            f"Page '{page.external_id}' of region '{region.slug}' has no public "
            f"'{language_code}' translation.",
            errors={"language": [f"No public '{language_code}' translation."]},
        )
    return indexes.pages[key]


def find_similar_translations(
    session: Session,
    indexes: SimilarityIndexes,
    translation_id: int,
    *,
    limit: int = 10,
    min_score: float = 0.0,
    regions: set[str] | None = None,
    exclude_region: bool = True,
    cross_lingual: bool = True,
    languages: set[str] | None = None,
    min_relation: Relation = "unrelated",
) -> list[tuple[IndexedPage, float, SimilarityReason]]:
    """Raw index matches of one indexed translation: (page, score 0–1, reason), best first.

    `exclude_region=False` also returns pages of the query's own region (used to measure
    cross-lingual matching inside one region).
    """
    indexes.ensure_fresh(session)
    with indexes.lock:
        if translation_id not in indexes.pages:
            raise NotFound(f"Page translation {translation_id} is not indexed (not public?).")
        found = indexes.index.find_similar(
            translation_id,
            limit=limit,
            min_score=min_score,
            regions=regions,
            exclude_region=exclude_region,
            cross_lingual=cross_lingual,
            languages=languages,
            min_relation=min_relation,
        )
        return [(indexes.pages[m.key], m.score, m.reason) for m in found if m.key in indexes.pages]


def find_similar_pages(
    session: Session,
    indexes: SimilarityIndexes,
    region: str,
    external_id: str,
    *,
    language: str | None = None,
    limit: int = 10,
    min_score: float = 0.0,
    min_relation: Relation = "related",
    regions: Sequence[str] | None = None,
    cross_lingual: bool = True,
) -> SimilarPagesResult:
    """Pages of OTHER regions similar to a page translation, best first; scores 0–1.

    Translations of one other page are folded into one result (its best-scoring translation;
    `matched_languages` lists all that matched). `language` defaults to the page's source
    language; `regions` restricts the other regions. By default every page at least `related`
    is returned (`reason.relation`: same_text, same_topic, related), so pages of other regions
    on the same topic in their own words are found, not only near-copies.
    """
    own_region = get_region(session, region)
    page = get_page_or_404(session, own_region, external_id)
    language_code = language or page.source_language.code
    if language is not None:
        get_language(session, language)
    if regions:
        for slug in regions:
            get_region(session, slug)
    indexes.ensure_fresh(session)
    query = _query_translation(session, indexes, own_region, page, language_code)
    # A page has several translations in the index: ask for enough to fill `limit` pages.
    raw = find_similar_translations(
        session,
        indexes,
        query.translation_id,
        limit=min(limit * 8, 1000),
        min_score=min_score,
        regions=set(regions) if regions else None,
        cross_lingual=cross_lingual,
        min_relation=min_relation,
    )
    by_page: dict[int, list[tuple[IndexedPage, float, SimilarityReason]]] = {}
    for match in raw:
        by_page.setdefault(match[0].page_id, []).append(match)
    own_languages = indexes.languages_by_page.get(page.id, set())
    region_objects = _regions_by_slug(session, {m[0][0].region for m in by_page.values()})
    items = []
    for matches in by_page.values():
        best, score, reason = matches[0]
        other_languages = indexes.languages_by_page.get(best.page_id, set())
        items.append(
            SimilarPageMatch(
                region=region_objects[best.region],
                external_id=best.external_id,
                language=best.language,
                title=best.title,
                url=best.url,
                score=score,
                reason=reason,
                matched_languages=[LanguageMatch(m[0].language, m[1]) for m in matches],
                missing_languages=sorted(other_languages - own_languages),
            )
        )
    items.sort(key=lambda item: (-item.score, item.region.slug, item.external_id))
    return SimilarPagesResult(
        region=own_region,
        external_id=page.external_id,
        language=language_code,
        title=query.title,
        items=items[:limit],
    )


def _regions_by_slug(session: Session, slugs: set[str]) -> dict[str, Region]:
    if not slugs:
        return {}
    return {r.slug: r for r in session.scalars(select(Region).where(Region.slug.in_(slugs)))}


# ----------------------------------------------------------------------------- overlap


@dataclass(frozen=True)
class OverlapPair:
    """A page of region A and its best near-duplicate in region B; score 0–1."""

    external_id_a: str
    title_a: str
    language_a: str
    external_id_b: str
    title_b: str
    language_b: str
    score: float
    signals: tuple[str, ...]
    missing_languages: list[str]  # languages page B has that page A lacks


@dataclass
class OverlapReport:
    region_a: Region
    region_b: Region
    pages_a: int
    pages_b: int
    pairs: list[OverlapPair] = field(default_factory=list)

    @property
    def shared_topics(self) -> list[str]:
        return sorted({pair.title_a for pair in self.pairs})

    @property
    def missing_by_language(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for pair in self.pairs:
            for code in pair.missing_languages:
                counts[code] += 1
        return dict(sorted(counts.items()))

    @property
    def missing_translations_available(self) -> int:
        """How many of region A's missing page translations region B has (on matched pages)."""
        return sum(len(pair.missing_languages) for pair in self.pairs)


def overlap_report(
    session: Session,
    indexes: SimilarityIndexes,
    region_a: str,
    region_b: str,
    *,
    min_score: float = 0.5,
    progress: Progress | None = None,
) -> OverlapReport:
    """Which pages of region A have a near-duplicate in region B, and what B could give A.

    Every public translation of every page of A is matched against B (cross-lingual); each
    page of A keeps its best page of B.
    """
    a, b = get_region(session, region_a), get_region(session, region_b)
    if a.id == b.id:
        raise InvalidInput(
            "Compare two different regions.", errors={"region_b": ["Same as region_a."]}
        )
    indexes.ensure_fresh(session)
    with indexes.lock:
        of_a = [p for p in indexes.pages.values() if p.region == a.slug]
        pages_b = len({p.page_id for p in indexes.pages.values() if p.region == b.slug})
    best: dict[int, tuple[IndexedPage, IndexedPage, float, SimilarityReason]] = {}
    for done, page in enumerate(sorted(of_a, key=lambda p: p.translation_id), start=1):
        for other, score, reason in find_similar_translations(
            session, indexes, page.translation_id, limit=5, min_score=min_score, regions={b.slug}
        )[:1]:
            held = best.get(page.page_id)
            if held is None or score > held[2]:
                best[page.page_id] = (page, other, score, reason)
        if progress:
            progress(done, len(of_a))
    report = OverlapReport(
        region_a=a, region_b=b, pages_a=len({p.page_id for p in of_a}), pages_b=pages_b
    )
    for page_a, page_b, score, reason in best.values():
        have = indexes.languages_by_page.get(page_a.page_id, set())
        theirs = indexes.languages_by_page.get(page_b.page_id, set())
        report.pairs.append(
            OverlapPair(
                external_id_a=page_a.external_id,
                title_a=page_a.title,
                language_a=page_a.language,
                external_id_b=page_b.external_id,
                title_b=page_b.title,
                language_b=page_b.language,
                score=score,
                signals=tuple(reason.signals),
                missing_languages=sorted(theirs - have),
            )
        )
    report.pairs.sort(key=lambda pair: (-pair.score, pair.external_id_a))
    return report
