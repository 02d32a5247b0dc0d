"""Stored content hashes recomputed after an upgrade that changes how they are computed.

A version records its own content hash, the hash of the source version it was made from
(`source_content_hash`) and, for a reused page, the hash of its origin (`origin_content_hash`).
When `memory.content_hash` changes, the stored values no longer match what a push computes: the
same text pushed again would become a new version and mark every translation outdated. This
rewrites all three with today's function, each old value mapped through the version it was
taken from, so what was current stays current and what was outdated stays outdated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from memory.content_hash import translation_hash
from memory.models import PageTranslation
from memory.review_models import PageDerivation

_BATCH = 500


@dataclass(frozen=True, slots=True)
class RehashReport:
    """How many stored hashes changed (0 everywhere when they were current already)."""

    content_hashes: int
    source_hashes: int
    origin_hashes: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def recompute_content_hashes(session: Session) -> RehashReport:
    """Rewrite stored content hashes with today's `translation_hash`; one transaction,
    idempotent."""
    # (page id, version, old hash) → new hash: a version number is per language, the old hash
    # tells the languages apart.
    renamed: dict[tuple[int, int, str], str] = {}
    changed_rows: list[dict[str, object]] = []
    rows = session.execute(
        select(
            PageTranslation.id,
            PageTranslation.page_id,
            PageTranslation.version,
            PageTranslation.title,
            PageTranslation.content,
            PageTranslation.meta_description,
            PageTranslation.content_hash,
        ).execution_options(yield_per=_BATCH)
    )
    for version in rows:
        rehashed = translation_hash(
            version.title, version.content or "", version.meta_description or ""
        )
        renamed[(version.page_id, version.version, version.content_hash)] = rehashed
        if rehashed != version.content_hash:
            changed_rows.append({"id": version.id, "content_hash": rehashed})

    source_rows: list[dict[str, object]] = []
    made_from = session.execute(
        select(
            PageTranslation.id,
            PageTranslation.page_id,
            PageTranslation.source_version,
            PageTranslation.source_content_hash,
        ).where(
            PageTranslation.source_version.is_not(None),
            PageTranslation.source_content_hash.is_not(None),
        )
    )
    for translation in made_from:
        key = (translation.page_id, translation.source_version, translation.source_content_hash)
        source = renamed.get(key)  # type: ignore[arg-type]  # both filtered to be set
        if source is not None and source != translation.source_content_hash:
            source_rows.append({"id": translation.id, "source_content_hash": source})

    origin_rows: list[dict[str, object]] = []
    derivations = session.execute(
        select(
            PageDerivation.id,
            PageDerivation.origin_version,
            PageDerivation.origin_content_hash,
            PageTranslation.page_id,
        ).join(PageTranslation, PageTranslation.id == PageDerivation.origin_translation_id)
    )
    for derivation in derivations:
        key = (derivation.page_id, derivation.origin_version, derivation.origin_content_hash)
        origin = renamed.get(key)
        if origin is not None and origin != derivation.origin_content_hash:
            origin_rows.append({"id": derivation.id, "origin_content_hash": origin})

    for model, values in (
        (PageTranslation, changed_rows),
        (PageTranslation, source_rows),
        (PageDerivation, origin_rows),
    ):
        for start in range(0, len(values), _BATCH):
            session.execute(update(model), values[start : start + _BATCH])
    session.commit()
    return RehashReport(len(changed_rows), len(source_rows), len(origin_rows))
