"""Region-wide background jobs: pre-translation and the leverage report of a whole region.

Both are Job rows like the content pipeline's (`tm_service.jobs`): recorded here after the
caller's rights were checked, then run the way every job runs — an rq job for `flask tm
worker` when TM_REDIS_URL is set, this process's job thread otherwise (synchronously under
TESTING without Redis). The row holds the state, the progress (pages, or pages × languages for
leverage) and, when finished, the result: the pre-translation report or the leverage report as
the API answers it.

- **pretranslate** (`start_pretranslation`): every page of the region whose translation into
  the language is missing or outdated gets its segments queued for review and a draft version
  (`memory.services.pretranslate`); machine translation only within the region's budget and
  only if asked for.
- **leverage** (`start_leverage`): `memory.services.leverage.leverage_report` for the region's
  languages (or those asked for), stored as the job's result.

A job of the same kind for the same region and languages that is still queued or running is
answered instead of recording a second one. The job acts as the token that started it (its
role, region and name are kept in the row's parameters; never the secret).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import func, select

from memory.authorization import Action, Actor, authorize
from memory.models import Page, Role, utcnow
from memory.services import pretranslate as pretranslate_service
from memory.services.leverage import _target_languages
from memory.services.regions import get_region
from memory.similarity_models import Job, JobState
from tm_service.extensions import db
from tm_service.jobs import LEVERAGE, PRETRANSLATE, dispatch

# A queued or running region job older than this is taken for lost: a new one is recorded.
REGION_JOB_STALE_S = 3 * 3600
# Progress rows are written at most this often (each write is a commit).
PROGRESS_EVERY_S = 1.0


def start_pretranslation(
    actor: Actor | None,
    region_slug: str,
    language: str,
    *,
    machine_translation: bool = True,
    min_score: float = 70.0,
    dispatch_job: bool = True,
) -> tuple[Job, bool]:
    """Record (or find) the pre-translation job of a region and language and dispatch it
    (`dispatch_job` False: the caller runs it, `tm_service.jobs.run_recorded_here`).

    Returns (row, created). NotFound / InvalidInput / Forbidden as `check_pretranslation`.
    """
    session = db.session
    region, target = pretranslate_service.check_pretranslation(
        session, actor, region_slug, language
    )
    assert actor is not None  # checked above
    pages = pretranslate_service.pages_to_pretranslate(session, region, target)
    params = {
        "region": region.slug,
        "languages": [target.code],
        "machine_translation": machine_translation,
        "min_score": min_score,
        "actor": _actor_params(actor),
    }
    return _start(PRETRANSLATE, params, total=len(pages), dispatch_job=dispatch_job)


def start_leverage(
    actor: Actor | None, region_slug: str, languages: list[str] | None = None
) -> tuple[Job, bool]:
    """Record (or find) the leverage job of a region (its languages, or those asked for)."""
    actor = authorize(actor, Action.SUGGEST, region_slug)
    session = db.session
    region = get_region(session, region_slug)
    chosen = [language.code for language, _ in _target_languages(session, region, languages)]
    pages = session.scalar(select(func.count(Page.id)).where(Page.region_id == region.id)) or 0
    params = {
        "region": region.slug,
        "languages": chosen,
        "actor": _actor_params(actor),
    }
    return _start(LEVERAGE, params, total=max(1, pages * len(chosen)))


def latest_region_job(kind: str, region_slug: str) -> Job | None:
    """The newest job of this kind for the region (the UI shows its state)."""
    rows = db.session.scalars(
        select(Job).where(Job.kind == kind).order_by(Job.created_at.desc()).limit(50)
    )
    return next((job for job in rows if (job.params or {}).get("region") == region_slug), None)


def _actor_params(actor: Actor) -> dict[str, Any]:
    return {
        "role": actor.role.value,
        "region": actor.region_slug,
        "token_id": actor.token_id,
        "name": actor.name,
    }


def _actor_of(params: dict[str, Any]) -> Actor:
    stored = params.get("actor") or {}
    return Actor(
        role=Role(stored.get("role", Role.ADMIN.value)),
        region_slug=stored.get("region"),
        token_id=stored.get("token_id"),
        name=stored.get("name") or "",
    )


def _start(
    kind: str, params: dict[str, Any], *, total: int, dispatch_job: bool = True
) -> tuple[Job, bool]:
    session = db.session
    scope = f"{kind}|{params['region']}|{','.join(params['languages'])}"
    for pending in session.scalars(
        select(Job)
        .where(
            Job.kind == kind,
            Job.state.in_([JobState.QUEUED, JobState.RUNNING]),
            Job.created_at >= utcnow() - timedelta(seconds=REGION_JOB_STALE_S),
        )
        .order_by(Job.created_at.desc())
    ):
        known = pending.params or {}
        if f"{kind}|{known.get('region')}|{','.join(known.get('languages') or [])}" == scope:
            return pending, False
    job_id = str(uuid.uuid4())
    job = Job(
        id=job_id,
        kind=kind,
        state=JobState.QUEUED,
        params=params,
        idempotency_key=hashlib.sha256(f"{scope}|{job_id}".encode()).hexdigest(),
        progress_total=total,
        message="queued",
    )
    session.add(job)
    session.commit()
    if dispatch_job:
        dispatch(current_app._get_current_object(), job_id)  # type: ignore[attr-defined]
    return session.get(Job, job_id) or job, True


def run_region_job(app: Flask, job: Job, progress) -> dict[str, Any]:
    """Run a pretranslate or leverage job (called by `tm_service.jobs.execute_job`)."""
    params = dict(job.params or {})
    throttled = _Throttled(progress)
    if job.kind == PRETRANSLATE:
        return _run_pretranslation(app, params, throttled)
    return _run_leverage(app, params, throttled)


class _Throttled:
    """Passes progress on at most once a second, and always the last step of a run."""

    def __init__(self, progress) -> None:
        self.progress = progress
        self.at = 0.0

    def __call__(self, done: int, total: int, message: str | None = None) -> None:
        now = time.monotonic()
        if done < total and done > 0 and now - self.at < PROGRESS_EVERY_S:
            return
        self.at = now
        self.progress(done, total, message)


def _run_pretranslation(app: Flask, params: dict[str, Any], progress) -> dict[str, Any]:
    from memory.services.suggestions import suggest_translations
    from tm_service.api.suggestions import (
        machine_translator,
        semantic_finder,
        similar_pages_finder,
    )
    from tm_service.api.tm import penalty_policy, tm_index

    session = db.session
    actor = _actor_of(params)
    region = params["region"]
    language = params["languages"][0]
    wants_machine = bool(params.get("machine_translation", True))
    translator = machine_translator() if wants_machine else None
    index, policy = tm_index(), penalty_policy()

    def suggest(page):
        return suggest_translations(
            session,
            index,
            actor,
            region,
            target_language=language,
            page=page.external_id,
            min_score=float(params.get("min_score", 70.0)),
            policy=policy,
            similar_pages=similar_pages_finder,
            semantic=semantic_finder,
            translator=translator,
            machine_translation=wants_machine,
            queue=True,
        )

    try:
        report = pretranslate_service.pretranslate(
            session, actor, region, language, suggest, progress=progress
        )
    finally:
        if translator is not None:
            translator.close()
    return report.as_dict()


def _run_leverage(app: Flask, params: dict[str, Any], progress) -> dict[str, Any]:
    from memory.services import leverage as leverage_service
    from tm_service.api.leverage import LeverageReportSchema
    from tm_service.api.tm import penalty_policy, tm_index

    price = app.config.get(
        "DEEPL_PRICE_PER_MILLION_CHARACTERS", leverage_service.DEFAULT_PRICE_PER_MILLION_CHARACTERS
    )
    report = leverage_service.leverage_report(
        db.session,
        tm_index(),
        params["region"],
        target_languages=params.get("languages") or None,
        policy=penalty_policy(),
        price_per_million_characters=float(price),
        include_pages=False,
        progress=lambda done, total: progress(done, total, "counting matches"),
    )
    result: dict[str, Any] = LeverageReportSchema().dump(report)
    return result
