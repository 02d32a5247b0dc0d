"""Background work: what happens after content changes (in-process or on rq workers)."""

from __future__ import annotations

from collections.abc import Sequence


def translation_changed(translation_id: int) -> None:
    """Hook called after a page translation version is stored."""
    translations_changed([translation_id])


def translations_changed(translation_ids: Sequence[int]) -> None:
    """Hook called after versions are stored in bulk (imports)."""
    # Translation-memory and near-duplicate updates are enqueued here.
    return None
