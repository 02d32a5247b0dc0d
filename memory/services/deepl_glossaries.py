"""DeepL glossaries made from the termbase, kept in sync by content hash.

For each language pair a region machine-translates, the glossary holds every source term of
the termbase it sees (preferred, admitted, and deprecated or forbidden ones too, so an old text
saying "Hartz IV" comes out with the new target term) → the concept's first preferred (else
admitted) target term. The entries' SHA-256 is stored with the glossary's id
(`DeeplGlossary`): an unchanged termbase reuses the glossary, a changed one creates a new one
and deletes the old one at DeepL, once. A region without concepts of its own shares the
glossary of the shared termbase. A stored glossary DeepL no longer has (deleted by hand) is made
again. Only pairs DeepL makes glossaries for are synced; for others, and when DeepL's glossary
calls fail, translation goes on without a glossary (logged).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from memory.errors import DomainError
from memory.models import Region
from memory.services.terminology import Termbase, termbase_for
from memory.terminology_models import SHARED_SCOPE, Concept, DeeplGlossary

__all__ = ["glossary_entries", "glossary_for"]

logger = logging.getLogger(__name__)


def _base(code: str) -> str:
    return code.lower().split("-")[0]


def glossary_entries(
    termbase: Termbase, source_language: str, target_language: str
) -> dict[str, str]:
    """Source term → preferred target term for a language pair, concepts in key order (the
    first concept naming a source term wins)."""
    entries: dict[str, str] = {}
    for concept in sorted(termbase.concepts.values(), key=lambda c: (c.scope, c.key)):
        preferred = concept.preferred(target_language) or concept.preferred(_base(target_language))
        if not preferred:
            continue
        terms = concept.terms.get(source_language) or concept.terms.get(_base(source_language), [])
        for text, _status in terms:
            entries.setdefault(text, preferred[0])
    return entries


def content_hash(source_language: str, target_language: str, entries: Mapping[str, str]) -> str:
    payload = json.dumps([source_language, target_language, sorted(entries.items())])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def glossary_for(
    session: Session, translator: Any, region: Region, source_language: str, target_language: str
) -> str | None:
    """The id of the DeepL glossary for a region's language pair, made or remade if the
    termbase changed since; None without terms, for a pair DeepL has no glossaries for, or
    when DeepL's glossary calls fail. Commits nothing itself: the row is written in a savepoint
    of the caller's transaction."""
    if translator is None or not hasattr(translator, "create_glossary"):
        return None
    own = session.scalar(select(Concept.id).where(Concept.scope == region.slug).limit(1))
    scope = region.slug if own is not None else SHARED_SCOPE
    termbase = termbase_for(session, region if own is not None else None)
    if not termbase:
        return None
    try:
        pair = (_base(source_language), _base(target_language))
        if pair not in translator.glossary_language_pairs():
            return None
        entries = glossary_entries(termbase, source_language, target_language)
        if not entries:
            return None
        digest = content_hash(source_language, target_language, entries)
        row = _row(session, scope, source_language, target_language)
        if row is not None and row.content_hash == digest:
            if translator.glossary_exists(row.glossary_id):
                return row.glossary_id
            logger.warning("DeepL glossary %s is gone; making it again", row.glossary_id)
        name = f"tm-service {scope or 'shared'} {source_language}-{target_language} {digest[:8]}"
        glossary_id = translator.create_glossary(name, source_language, target_language, entries)
    except (DomainError, ValueError) as error:
        logger.warning(
            "DeepL glossary for %s %s→%s not available: %s",
            scope or "shared",
            source_language,
            target_language,
            getattr(error, "detail", error),
        )
        return None
    old = row.glossary_id if row is not None and row.content_hash != digest else None
    try:
        with session.begin_nested():
            if row is None:
                session.add(
                    DeeplGlossary(
                        scope=scope,
                        source_language=source_language,
                        target_language=target_language,
                        glossary_id=glossary_id,
                        content_hash=digest,
                        entries=len(entries),
                    )
                )
            else:
                row.glossary_id, row.content_hash, row.entries = glossary_id, digest, len(entries)
    except IntegrityError:
        # Another process made it at the same moment: use theirs, drop ours.
        _delete_quietly(translator, glossary_id)
        winner = _row(session, scope, source_language, target_language)
        return winner.glossary_id if winner is not None else None
    if old is not None:
        _delete_quietly(translator, old)
    return glossary_id


def _row(session: Session, scope: str, source: str, target: str) -> DeeplGlossary | None:
    return session.scalar(
        select(DeeplGlossary).where(
            DeeplGlossary.scope == scope,
            DeeplGlossary.source_language == source,
            DeeplGlossary.target_language == target,
        )
    )


def _delete_quietly(translator: Any, glossary_id: str) -> None:
    try:
        translator.delete_glossary(glossary_id)
    except DomainError as error:
        logger.warning("DeepL glossary %s not deleted: %s", glossary_id, error.detail)
