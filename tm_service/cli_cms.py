"""`flask tm …` commands of the Integreat CMS round trip: XLIFF export and import, live sync."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from memory.authorization import Actor
from memory.errors import DomainError
from memory.models import Role
from tm_service.extensions import db

# The operator at the command line acts as a global admin.
OPERATOR = Actor(role=Role.ADMIN, region_slug=None, name="command line")


def _fail(error: Exception) -> None:
    raise click.ClickException(str(getattr(error, "detail", error)))


def register_cms_commands(group: AppGroup) -> None:
    """Add the XLIFF and sync commands to the `tm` group."""

    @group.command("xliff-export")
    @click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--region", "region_slug", required=True)
    @click.option("--target-language", required=True, help="E.g. en (from de) or ar (from en).")
    @click.option(
        "--version",
        "xliff_version",
        type=click.Choice(["1.2", "2.0"]),
        default="1.2",
        show_default=True,
    )
    @click.option("--page", "pages", multiple=True, help="Only this page (repeatable).")
    def xliff_export(
        out: Path,
        region_slug: str,
        target_language: str,
        xliff_version: str,
        pages: tuple[str, ...],
    ) -> None:
        """Export a region's pages for a target language as XLIFF, pre-filled from the memory
        (no machine translation). The source language is the target's parent in the region's
        language tree. Prints a JSON report."""
        from memory.services import xliff_io
        from tm_service.api.suggestions import suggest_with_app_services
        from tm_service.cli import ProgressBar, ensure_schema

        ensure_schema()

        def suggest(page: str, language: str):
            return suggest_with_app_services(
                OPERATOR,
                region_slug,
                page=page,
                target_language=language,
                machine_translation=False,
                queue=False,
            )

        bar = ProgressBar(f"exporting {region_slug}", unit="page")
        try:
            data, report = xliff_io.export_xliff(
                db.session,
                OPERATOR,
                region_slug,
                target_language,
                suggest=suggest,
                version=xliff_version,
                pages=list(pages) or None,
                progress=bar,
            )
        except DomainError as error:
            _fail(error)
        finally:
            bar.close()
        partial = out.with_name(out.name + ".part")
        partial.write_bytes(data)
        partial.replace(out)
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))

    @group.command("xliff-import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--region", "region_slug", required=True)
    @click.option(
        "--publish/--draft",
        default=False,
        show_default=True,
        help="Store the new versions as public or as drafts.",
    )
    @click.option(
        "--on-changed",
        type=click.Choice(["refuse", "outdated"]),
        default="refuse",
        show_default=True,
        help="A page whose source changed since the export: refuse the file, or "
        "store the translation as outdated.",
    )
    def xliff_import(path: Path, region_slug: str, publish: bool, on_changed: str) -> None:
        """Import a returned XLIFF file (atomic, idempotent): a new version per page and
        reviewed units for the segments the translator settled on. Prints a JSON report."""
        from memory.services import xliff_io
        from tm_service.cli import ensure_schema, process_changes

        ensure_schema()
        try:
            report = xliff_io.import_xliff(
                db.session,
                None,
                region_slug,
                path.read_bytes(),
                publish=publish,
                on_changed=on_changed,
            )
        except DomainError as error:
            _fail(error)
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
        process_changes(report.changed_translation_ids, f"processing {region_slug}")

    @group.command("sync-integreat")
    @click.argument("base_url")
    @click.option("--region", "region_slug", required=True, help="Region slug on the instance.")
    @click.option("--language", "languages", multiple=True, help="Only this language (repeatable).")
    @click.option("--name", "region_name", help="Region name, if the region is new here.")
    @click.option(
        "--kind",
        "kinds",
        multiple=True,
        type=click.Choice(["pages", "events", "locations", "imprint"]),
        help="Only this kind (repeatable; default: all).",
    )
    @click.option(
        "--every",
        "every_s",
        type=click.IntRange(min=60),
        help="Schedule the sync on the rq workers every this many seconds (needs TM_REDIS_URL).",
    )
    @click.option("--stop", is_flag=True, help="Stop the region's scheduled syncs.")
    def sync_integreat(
        base_url: str,
        region_slug: str,
        languages: tuple[str, ...],
        region_name: str | None,
        kinds: tuple[str, ...],
        every_s: int | None,
        stop: bool,
    ) -> None:
        """Pull the region's changed pages, events, locations and imprint from a live
        Integreat instance (API v3).

        Each listing (per language and kind) is fetched only if it changed since the last run
        (ETag / Last-Modified); only items whose content changed are stored and processed. Prints a
        JSON report; each language or page that failed is named on stderr, and the command
        then exits with status 1 after storing what it could.
        """
        from flask import current_app

        from connectors.integreat import is_url
        from connectors.integreat_sync import KINDS, SyncClient
        from memory.services.integreat_sync import sync_integreat as sync
        from tm_service import sync_jobs
        from tm_service.cli import ProgressBar, ensure_schema, process_changes

        ensure_schema()
        if not is_url(base_url):
            raise click.BadParameter("an http(s) address", param_hint="BASE_URL")
        if stop:
            click.echo(f"stopped {sync_jobs.stop_integreat_sync(region_slug)} scheduled sync(s)")
            return
        if every_s is not None:
            if not current_app.config.get("REDIS_URL"):
                raise click.ClickException("--every needs TM_REDIS_URL (rq's scheduler runs it).")
            job = sync_jobs.start_integreat_sync(
                region_slug, base_url, languages=list(languages), every_s=every_s
            )
            click.echo(
                f"job {job.id}: sync of {region_slug} queued, then every {every_s} s "
                f"(GET /api/v1/jobs/{job.id})"
            )
            return
        client = SyncClient(
            base_url, timeout=float(current_app.config.get("INTEGREAT_TIMEOUT", 30))
        )
        bar = ProgressBar(f"syncing {region_slug}", unit="step")
        try:
            report = sync(
                db.session,
                None,
                region_slug,
                client,
                languages=list(languages) or None,
                kinds=kinds or KINDS,
                region_name=region_name,
                progress=bar,
            )
        except DomainError as error:
            _fail(error)
        finally:
            bar.close()
            client.close()
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
        process_changes(report.changed_translation_ids, f"processing {region_slug}")
        for error in report.errors:
            click.echo(f"error: {error}", err=True)
        if report.errors:
            raise SystemExit(1)

    @group.command("import-integreat-content")
    @click.argument("path", type=click.Path(exists=True, path_type=Path))
    @click.option("--region", "region_slug", required=True, help="Region to import into.")
    def import_integreat_content(path: Path, region_slug: str) -> None:
        """Import API v3 events, locations (POIs) and the imprint of a region from dump files
        (`[region_]{language}_{events|locations|imprint}.json`, a file or a folder) as content
        kinds next to its pages. Their local details (addresses, coordinates, phones) are kept
        apart and become gazetteer entries; they never enter the translation memory."""
        from connectors.integreat import IntegreatFormatError
        from connectors.integreat_content import read_content_dumps
        from memory.services.content_kinds import import_integreat_content as import_content
        from memory.services.regions import get_region
        from tm_service.cli import ensure_schema, process_changes

        ensure_schema()
        try:
            region = get_region(db.session, region_slug)
            items = read_content_dumps(
                path, source_language=region.source_language.code, region=region_slug
            )
            report = import_content(db.session, None, region_slug, items)
        except (DomainError, IntegreatFormatError) as error:
            _fail(error)
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
        process_changes(report.changed_translation_ids, f"processing {region_slug}")
