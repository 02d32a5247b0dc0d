"""`flask tm term-…` commands: termbase import and export, the deprecated-terms report."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from memory.errors import DomainError
from memory.services import terminology as terminology_service
from tm_service.extensions import db


def _fail(error: DomainError) -> None:
    raise click.ClickException(str(error.detail))


def register_terminology_commands(group: AppGroup) -> None:
    """Add the termbase commands to the `tm` group."""

    @group.command("term-import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--scope", default="shared", show_default=True, help="'shared' or a region.")
    @click.option(
        "--format",
        "file_format",
        type=click.Choice(["tbx", "csv"]),
        help="Default: from the file name (.csv, else TBX).",
    )
    @click.option("--license", help="Licence of concepts that name none.")
    @click.option("--attribution", help="Whom to credit for concepts that name no one.")
    @click.option("--source", help="Source of concepts that name none.")
    def term_import(
        path: Path,
        scope: str,
        file_format: str | None,
        license: str | None,
        attribution: str | None,
        source: str | None,
    ) -> None:
        """Import a TBX or CSV termbase (atomic, idempotent); prints a JSON report."""
        file_format = file_format or ("csv" if path.suffix.lower() == ".csv" else "tbx")
        try:
            with path.open("rb") as stream:
                report = terminology_service.import_termbase(
                    db.session,
                    None,
                    stream,
                    format=file_format,
                    scope=scope,
                    license=license,
                    attribution=attribution,
                    source=source,
                )
        except DomainError as error:
            _fail(error)
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))

    @group.command("term-export")
    @click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--scope", default="shared", show_default=True, help="'shared' or a region.")
    def term_export(out: Path, scope: str) -> None:
        """Export a scope's concepts as TBX-Basic."""
        partial = out.with_name(out.name + ".part")
        try:
            with partial.open("wb") as stream:
                count = terminology_service.export_tbx(db.session, stream, scope=scope)
        except DomainError as error:
            partial.unlink(missing_ok=True)
            _fail(error)
        partial.replace(out)
        click.echo(json.dumps({"concepts": count, "file": str(out)}))

    @group.command("term-report")
    @click.option("--region", "region_slug", help="Only this region.")
    @click.option("--language", help="Only this language.")
    def term_report(region_slug: str | None, language: str | None) -> None:
        """The deprecated-terms report: public pages that still use deprecated or forbidden
        terms, per region, as JSON."""
        try:
            report = terminology_service.deprecated_terms_report(
                db.session, region=region_slug, language=language
            )
        except DomainError as error:
            _fail(error)
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
