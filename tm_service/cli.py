"""`flask --app wsgi tm …`: serve, imports, tokens."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from tqdm import tqdm

from connectors.cms_fixture import read_cms_fixture
from connectors.integreat import IntegreatClient, IntegreatFormatError, is_url, read_dumps
from memory.errors import DomainError
from memory.models import Role
from memory.services import tokens as token_service
from memory.services.imports import import_cms_fixture, import_integreat_pages
from tm_service.extensions import db
from tm_service.jobs import translations_changed

tm = AppGroup("tm", help="tm-service commands.")


class ProgressBar:
    """A tqdm bar fed by services' (done, total) progress callbacks."""

    def __init__(self, description: str):
        self.bar: tqdm | None = None
        self.description = description

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.description, unit="tr", leave=False)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _fail(error: Exception) -> None:
    raise click.ClickException(str(getattr(error, "detail", error)))


def upgrade_database() -> None:
    from flask_migrate import upgrade

    upgrade(directory=current_app.extensions["migrate"].directory)


@tm.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--demo/--no-demo", default=True, show_default=True, help="Load demo data if empty.")
def serve(host: str, port: int, demo: bool) -> None:
    """Upgrade the database, load the demo data on first start, and serve on localhost."""
    from tm_service.demo import demo_loaded, load_demo

    upgrade_database()
    if demo and not demo_loaded(db.session):
        click.echo("Loading demo data (Landkreis Augsburg, Augsburg, Nürnberg) …")
        for report in load_demo(db.session):
            click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
            translations_changed(report.changed_translation_ids)
    click.echo(f"tm-service on http://{host}:{port}/  (API docs: http://{host}:{port}/api/docs)")
    # Flask refuses app.run() inside its CLI; werkzeug's threaded server is what it would run.
    from werkzeug.serving import run_simple

    run_simple(host, port, current_app._get_current_object(), threaded=True, use_reloader=False)


@tm.command("load-demo")
def load_demo_command() -> None:
    """Import the demo regions (idempotent)."""
    from tm_service.demo import load_demo

    for report in load_demo(db.session):
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
        translations_changed(report.changed_translation_ids)


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
    """Import Integreat API v3 page dumps (a file, a folder, or a live instance's base URL)."""
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
    translations_changed(report.changed_translation_ids)
    click.echo(json.dumps(report.as_dict(), ensure_ascii=False))


@tm.command("import-cms-fixture")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--region", "regions", multiple=True, required=True)
def import_fixture(path: Path, regions: tuple[str, ...]) -> None:
    """Import regions of an Integreat CMS fixture (every version of every translation)."""
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
        translations_changed(report.changed_translation_ids)
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))


token = AppGroup("token", help="Create, list and revoke API tokens.")


@token.command("create")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--region", "region_slug", help="Region scope (omit only for a global admin).")
@click.option("--name", default="", help="Who or what holds the token.")
@click.option("--expires-days", type=click.IntRange(min=1), help="Expiry in days (default: none).")
def create_token(role: str, region_slug: str | None, name: str, expires_days: int | None) -> None:
    """Issue a token; its secret is printed once and never stored."""
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
    try:
        token_service.revoke_token(db.session, None, prefix)
    except DomainError as error:
        _fail(error)
    click.echo(f"revoked {prefix}")


@token.command("list")
def list_tokens() -> None:
    """List tokens (prefix, role, region, state); secrets are never shown."""
    for item in token_service.list_tokens(db.session):
        state = "revoked" if item.revoked_at else "active"
        region = item.region.slug if item.region else "*"
        expires = item.expires_at.isoformat() if item.expires_at else "never"
        click.echo(
            f"{item.prefix}\t{item.role.value}\t{region}\t{state}\texpires {expires}\t{item.name}"
        )


tm.add_command(token)


def register_cli(app: Flask) -> None:
    from tm_service.cli_gazetteer import register_gazetteer_commands
    from tm_service.cli_jobs import register_job_commands
    from tm_service.cli_memory import register_memory_commands

    register_memory_commands(tm)
    register_job_commands(tm)
    register_gazetteer_commands(tm)
    app.cli.add_command(tm)
