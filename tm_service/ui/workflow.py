"""What the review queue, the pages view and the job pages show beyond one segment: context,
progress, filters, the batch accept, the last decision to undo, region-wide jobs.

Helpers of `tm_service.ui.views` (the routes stay there); they call the same services as the
API (`memory.services.review_queue`, `tm_service.region_jobs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import request, session
from sqlalchemy import select

from memory.authorization import Actor
from memory.models import Language, Region
from memory.services import review_queue
from memory.services.pages import get_page_or_404
from memory.services.regions import get_language
from memory.similarity_models import Job, JobState
from tm_service.extensions import db
from tm_service.jobs import LEVERAGE, PRETRANSLATE, describe_eta, eta_seconds
from tm_service.ui.presentation import PageRow, TextLanguage, segment_views

QUEUE_PAGE_SIZE = 50
FILTER_LABELS = {
    "all": "all",
    "untranslated": "untranslated",
    "outdated": "outdated",
    "fuzzy": "fuzzy (75–99 %)",
    "exact": "100/101 %",
    "none": "no match",
}
UNDO_KEY = "ui_last_decision"


def queue_context(
    actor: Actor, region: Region, language_code: str, page: str | None, offset: int
) -> dict[str, Any]:
    """The template context of one language's queue: segments with their context, filters,
    progress, the batch accept's count and the last decision (to undo)."""
    target = get_language(db.session, language_code)
    page_obj = get_page_or_404(db.session, region, page) if page else None
    show = request.values.get("show") or "all"
    text = (request.values.get("q") or "").strip()
    items, total, contexts = review_queue.queue(
        db.session,
        actor,
        region,
        target,
        page_id=page_obj.id if page_obj else None,
        show=show,
        text=text or None,
        limit=QUEUE_PAGE_SIZE,
        offset=offset,
    )
    done, all_segments = review_queue.language_progress(db.session, region, target)
    page_title = None
    if page_obj is not None:
        page_title = review_queue.page_titles(db.session, [page_obj.id]).get(page_obj.id)
    batch = review_queue.batch_candidates(
        db.session, actor, region, target, page_id=page_obj.id if page_obj else None
    )
    return {
        "language": TextLanguage.of(target),
        "segments": segment_views(items, offset + 1),
        "contexts": contexts,
        "total": total,
        "page_size": QUEUE_PAGE_SIZE,
        "page_title": page_title,
        "show": show if show in review_queue.FILTERS else "all",
        "q": text,
        "filters": FILTER_LABELS,
        "progress": {"done": done, "total": all_segments},
        "batch": batch,
        "last_decision": last_decision(),
    }


def remember_decision(suggestion_id: int, summary: str) -> None:
    """The decision just made, offered for undo until the next one."""
    session[UNDO_KEY] = {"id": suggestion_id, "summary": summary}


def last_decision() -> dict[str, Any] | None:
    value = session.get(UNDO_KEY)
    return value if isinstance(value, dict) and isinstance(value.get("id"), int) else None


def forget_decision() -> None:
    session.pop(UNDO_KEY, None)


# --------------------------------------------------------------------------- pages view


def filter_rows(
    rows: Sequence[PageRow], *, language: str | None, state: str | None, text: str | None
) -> list[PageRow]:
    """Pages whose title or id contains `text`, and (with `language`) whose state in it is
    `state`: missing (untranslated), outdated, draft, current."""
    needle = " ".join((text or "").split()).casefold()
    out = []
    for row in rows:
        if needle and needle not in f"{row.title} {row.external_id}".casefold():
            continue
        if language and state:
            found = next((s for s in row.languages if s.code == language), None)
            row_state = found.state if found is not None else "missing"
            if row_state != state:
                continue
        out.append(row)
    return out


@dataclass(frozen=True)
class TreeRow:
    row: PageRow
    depth: int


def page_tree(rows: Sequence[PageRow], parents: dict[str, str | None]) -> list[TreeRow]:
    """Rows in tree order (each page under its parent, in the CMS's order), with depth."""
    known = {row.external_id for row in rows}
    children: dict[str | None, list[PageRow]] = {}
    for row in rows:
        parent = parents.get(row.external_id)
        children.setdefault(parent if parent in known else None, []).append(row)
    out: list[TreeRow] = []
    seen: set[str] = set()

    def walk(parent: str | None, depth: int) -> None:
        for row in children.get(parent, []):
            if row.external_id in seen:
                continue
            seen.add(row.external_id)
            out.append(TreeRow(row, depth))
            walk(row.external_id, depth + 1)

    walk(None, 0)
    out.extend(TreeRow(row, 0) for row in rows if row.external_id not in seen)
    return out


# --------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class JobView:
    id: str
    kind: str
    title: str
    state: str
    done: int
    total: int
    percent: int
    message: str
    eta: str
    result: dict[str, Any] | None
    language: str | None
    running: bool
    error: str | None


def _language_name(code: str) -> str:
    language = db.session.scalar(select(Language).where(Language.code == code))
    return TextLanguage.of(language).name if language is not None else code


def job_view(job: Job) -> JobView:
    params = job.params or {}
    languages = params.get("languages") or []
    done, total = job.progress_done or 0, job.progress_total or 0
    names = ", ".join(_language_name(code) for code in languages)
    if job.kind == PRETRANSLATE:
        title = f"Pre-translation into {names}"
    elif job.kind == LEVERAGE:
        title = f"Leverage report ({names or 'every language'})"
    else:
        title = job.kind
    return JobView(
        id=job.id,
        kind=job.kind,
        title=title,
        state=job.state.value,
        done=done,
        total=total,
        percent=100 * done // total if total else (100 if job.state == JobState.FINISHED else 0),
        message=job.message or "",
        eta=describe_eta(eta_seconds(job)),
        result=job.result,
        language=languages[0] if languages else None,
        running=job.state in (JobState.QUEUED, JobState.RUNNING),
        error=job.error.split(":", 1)[0] if job.error else None,
    )
