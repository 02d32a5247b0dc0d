"""`flask --app wsgi tm …`: serve, imports, tokens.

Commands import what they need when they run (connectors, tqdm, the jobs' machinery): loading
the CLI, e.g. for `tm --help` or `tm token list`, stays cheap.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from memory.errors import DomainError
from memory.models import Role
from memory.services import tokens as token_service
from tm_service.extensions import db

tm = AppGroup("tm", help="tm-service commands.")


class ProgressBar:
    """Progress fed by (done, total[, step]) callbacks of services and jobs.

    On a terminal: a tqdm bar, redrawn at most ten times a second. Elsewhere (a log file, a
    pipe, CI) a bar would write a line per update, so it prints plain lines instead: at every
    10 %, at the end, and at least every 30 s, with the rate so far as an ETA.
    """

    def __init__(self, description: str, *, stream: TextIO | None = None, unit: str = "tr"):
        from tm_service.jobs import ProgressThrottle

        self.description = description
        self.stream = stream or sys.stderr
        self.unit = unit
        self.interactive = _is_terminal(self.stream)
        self.bar: Any = None
        self.throttle = ProgressThrottle()
        self.started = time.monotonic()

    def __call__(self, done: int, total: int, step: str | None = None) -> None:
        if self.interactive:
            self._draw(done, total, step)
        elif self.throttle.due(done, total, step or ""):
            self._print_line(done, total, step)

    def _draw(self, done: int, total: int, step: str | None) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(
                total=total,
                desc=self.description,
                unit=self.unit,
                leave=False,
                file=self.stream,
                mininterval=0.1,
            )
        if total != self.bar.total:
            self.bar.reset(total=total)
        if step:
            self.bar.set_description(f"{self.description}: {step}", refresh=False)
        self.bar.update(done - self.bar.n)

    def _print_line(self, done: int, total: int, step: str | None) -> None:
        from tm_service.jobs import describe_eta

        percent = 100 * done // total if total else 100
        elapsed = time.monotonic() - self.started
        eta = ""
        if 0 < done < total:
            eta = ", " + describe_eta(round(elapsed * (total - done) / done))
        label = f"{self.description}: {step}" if step else self.description
        print(f"{label} {done}/{total} ({percent} %){eta}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _fail(error: Exception) -> None:
    raise click.ClickException(str(getattr(error, "detail", error)))


def process_changes(translation_ids: Sequence[int], description: str) -> None:
    """The job of what a command stored: run here before the command returns (no Redis), or
    handed to the rq workers. A job that fails fails the command with its error."""
    from memory.similarity_models import JobState
    from tm_service import jobs

    if not translation_ids:
        return
    if current_app.config.get("REDIS_URL"):
        job_id = jobs.translations_changed(translation_ids)
        click.echo(f"job {job_id}: queued for the rq workers (GET /api/v1/jobs/{job_id})", err=True)
        return
    bar = ProgressBar(description)
    try:
        job = jobs.run_changes_here(translation_ids, on_progress=bar)
    finally:
        bar.close()
    if job is not None and job.state == JobState.FAILED:
        raise click.ClickException(
            f"job {job.id} ({description}) failed after {job.attempts} attempt(s): {job.error}"
        )


def log_to_stderr() -> None:
    """The service's INFO lines (job progress with ETA) on stderr, unless logging is set up.

    Only the `tm_service` loggers: rq's worker configures its own.
    """
    logger = logging.getLogger("tm_service")
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def ensure_schema() -> None:
    """A fresh database (no tables at all, e.g. the embedded default's first use) gets the
    schema now; an existing one is left to `flask --app wsgi db upgrade`."""
    from sqlalchemy import inspect

    if not inspect(db.engine).get_table_names():
        upgrade_database()


def upgrade_database() -> None:
    from flask_migrate import upgrade

    upgrade(directory=current_app.extensions["migrate"].directory)


@tm.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--demo/--no-demo", default=True, show_default=True, help="Load demo data if empty.")
def serve(host: str, port: int, demo: bool) -> None:
    """Upgrade the database, load the demo data on first start, and serve on localhost.

    Without TM_REDIS_URL the jobs (the demo data's embeddings on first start) run in a thread
    of this process while it serves; progress and ETA in the log and at /api/v1/jobs.
    """
    from tm_service import jobs
    from tm_service.demo import demo_loaded, load_demo

    log_to_stderr()
    upgrade_database()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    jobs.resume_pending_jobs(app)
    # The fuzzy index snapshot is built by this process's job thread while it serves: lookups
    # answer exact matches (fuzzy "warming_up") until it is there.
    directory = jobs.index_dir(app)
    if directory is not None and not (directory / "CURRENT").exists():
        jobs.request_index_snapshot(app, here=False)
    if demo and not demo_loaded(db.session):
        click.echo("Loading demo data (Landkreis Augsburg, Augsburg, Nürnberg) …")
        for report in load_demo(db.session):
            click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
            jobs.translations_changed(report.changed_translation_ids)
        click.echo(
            "Embedding the demo data in the background (first start: the model is converted "
            "first; progress and ETA in this log and at /api/v1/jobs)."
        )
    click.echo(f"tm-service on http://{host}:{port}/  (API docs: http://{host}:{port}/api/docs)")
    # Flask refuses app.run() inside its CLI; werkzeug's threaded server is what it would run.
    from werkzeug.serving import run_simple

    run_simple(host, port, app, threaded=True, use_reloader=False)


@tm.command("load-demo")
def load_demo_command() -> None:
    """Import the demo regions (idempotent) and process them before returning."""
    ensure_schema()
    from tm_service.demo import load_demo

    for report in load_demo(db.session):
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
        process_changes(report.changed_translation_ids, f"processing {report.region}")


@tm.command("import-integreat")
@click.argument("location")
@click.option("--region", "region_slug", required=True, help="Region slug to import into.")
@click.option("--name", "region_name", help="Region name, if the region is new.")
@click.option("--source-language", default="de", show_default=True)
@click.option("--language", "languages", multiple=True, help="Live import: languages to pull.")
def import_integreat(
    location: str,
    region_slug: str,
    region_name: str | None,
    source_language: str,
    languages: tuple[str, ...],
) -> None:
    """Import Integreat API v3 page dumps (a file, a folder, or a live instance's base URL).

    The import's job (translation-memory units, embeddings) runs before the command returns,
    or on the rq workers with TM_REDIS_URL; a failed job fails the command.
    """
    ensure_schema()
    from connectors.integreat import IntegreatClient, IntegreatFormatError, is_url, read_dumps
    from memory.services.imports import import_integreat_pages

    try:
        if is_url(location):
            client = IntegreatClient(location)
            codes = languages or tuple(language.code for language in client.languages(region_slug))
            pages = [page for code in codes for page in client.pages(region_slug, code)]
        else:
            pages = list(read_dumps(Path(location)))
    except (IntegreatFormatError, OSError) as error:
        _fail(error)
    except Exception as error:  # noqa: BLE001 — network errors of a live pull
        _fail(error)
    bar = ProgressBar(f"importing {region_slug}")
    try:
        report = import_integreat_pages(
            db.session,
            None,
            region_slug,
            pages,
            region_name=region_name,
            source_language=source_language,
            progress=bar,
        )
    except DomainError as error:
        _fail(error)
    finally:
        bar.close()
    click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    process_changes(report.changed_translation_ids, f"processing {region_slug}")


@tm.command("import-cms-fixture")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--region", "regions", multiple=True, required=True)
def import_fixture(path: Path, regions: tuple[str, ...]) -> None:
    """Import regions of an Integreat CMS fixture (every version of every translation)."""
    ensure_schema()
    from connectors.cms_fixture import read_cms_fixture
    from connectors.integreat import IntegreatFormatError
    from memory.services.imports import import_cms_fixture

    bar = ProgressBar("importing fixture")
    try:
        reports = import_cms_fixture(
            db.session, read_cms_fixture(path), regions=regions, progress=bar
        )
    except (DomainError, IntegreatFormatError) as error:
        _fail(error)
    finally:
        bar.close()
    for report in reports:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
        process_changes(report.changed_translation_ids, f"processing {report.region}")


token = AppGroup("token", help="Create, list and revoke API tokens.")


@token.command("create")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--region", "region_slug", help="Region scope (omit only for a global admin).")
@click.option("--name", default="", help="Who or what holds the token.")
@click.option("--expires-days", type=click.IntRange(min=1), help="Expiry in days (default: none).")
def create_token(role: str, region_slug: str | None, name: str, expires_days: int | None) -> None:
    """Issue a token; its secret is printed once and never stored."""
    ensure_schema()
    try:
        issued = token_service.create_token(
            db.session,
            None,
            role=Role(role),
            region_slug=region_slug,
            name=name,
            expires_in_days=expires_days,
        )
    except DomainError as error:
        _fail(error)
    click.echo(issued.plaintext)
    click.echo(
        f"prefix {issued.token.prefix}, role {role}, region {region_slug or '*'} — "
        "store it now, it cannot be shown again.",
        err=True,
    )


@token.command("revoke")
@click.argument("prefix")
def revoke_token(prefix: str) -> None:
    """Revoke a token by its prefix (the part after 'tm_')."""
    ensure_schema()
    try:
        token_service.revoke_token(db.session, None, prefix)
    except DomainError as error:
        _fail(error)
    click.echo(f"revoked {prefix}")


@token.command("list")
def list_tokens() -> None:
    """List tokens (prefix, role, region, state); secrets are never shown."""
    ensure_schema()
    for item in token_service.list_tokens(db.session):
        state = "revoked" if item.revoked_at else "active"
        region = item.region.slug if item.region else "*"
        expires = item.expires_at.isoformat() if item.expires_at else "never"
        click.echo(
            f"{item.prefix}\t{item.role.value}\t{region}\t{state}\texpires {expires}\t{item.name}"
        )


tm.add_command(token)


def register_cli(app: Flask) -> None:
    from tm_service.cli_cms import register_cms_commands
    from tm_service.cli_gazetteer import register_gazetteer_commands
    from tm_service.cli_jobs import register_job_commands
    from tm_service.cli_memory import register_memory_commands
    from tm_service.cli_terminology import register_terminology_commands

    register_memory_commands(tm)
    register_job_commands(tm)
    register_gazetteer_commands(tm)
    register_cms_commands(tm)
    register_terminology_commands(tm)
    app.cli.add_command(tm)
