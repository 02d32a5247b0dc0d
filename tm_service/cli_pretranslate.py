"""`flask tm pretranslate REGION --language CODE`: a region's pre-translation as a job."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from memory.authorization import Actor
from memory.errors import DomainError
from memory.models import Role
from memory.similarity_models import JobState
from tm_service.extensions import db


@click.command("pretranslate")
@with_appcontext
@click.argument("region")
@click.option("--language", "language", required=True, help="Target language code, e.g. en.")
@click.option(
    "--machine-translation/--no-machine-translation",
    default=True,
    show_default=True,
    help="DeepL for segments without a memory match ≥ 75, within the region's word budget.",
)
def pretranslate(region: str, language: str, machine_translation: bool) -> None:
    """Queue every segment of REGION's pages that lack LANGUAGE (or whose translation is
    outdated) for review and store a draft per page (never public), as a background job.

    With TM_REDIS_URL the job goes to the rq workers and its id is printed; otherwise it runs
    here with a progress display and prints its report (JSON).
    """
    from tm_service.cli import ProgressBar, ensure_schema
    from tm_service.jobs import run_recorded_here
    from tm_service.region_jobs import start_pretranslation

    ensure_schema()
    actor = Actor(role=Role.ADMIN, region_slug=None, name="flask tm pretranslate")
    with_redis = bool(current_app.config.get("REDIS_URL"))
    try:
        job, created = start_pretranslation(
            actor,
            region,
            language,
            machine_translation=machine_translation,
            dispatch_job=with_redis,
        )
    except DomainError as error:
        raise click.ClickException(error.detail) from error
    if not created:
        click.echo(
            f"job {job.id}: a pre-translation of {region} into {language} is already "
            f"{job.state.value} (GET /api/v1/jobs/{job.id})",
            err=True,
        )
        return
    if with_redis:
        click.echo(
            f"job {job.id}: queued for the rq workers, {job.progress_total} pages "
            f"(GET /api/v1/jobs/{job.id})",
            err=True,
        )
        click.echo(json.dumps({"job": job.id, "state": job.state.value}))
        return
    bar = ProgressBar(f"pre-translating {region} into {language}")
    try:
        done = run_recorded_here(job.id, on_progress=bar)
    finally:
        bar.close()
    if done is None or done.state != JobState.FINISHED:
        error = done.error if done is not None else "no job row"
        raise click.ClickException(f"job {job.id} (pre-translation) failed: {error}")
    db.session.commit()
    click.echo(json.dumps({"job": done.id, "state": done.state.value, **(done.result or {})}))
