"""`flask tm …` commands of the translation memory (TMX import/export, units, index)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from memory.errors import DomainError
from memory.semantic_snapshot import current_name as semantic_current_name
from memory.services import tmx_io
from memory.services import translation_memory as tm_service
from tm_service.extensions import db


def _fail(error: Exception) -> None:
    raise click.ClickException(str(getattr(error, "detail", error)))


def register_memory_commands(group: AppGroup) -> None:
    """Add the translation-memory commands to the `tm` group."""

    @group.command("tmx-import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--region", "region_slug", help="Region the units belong to (default: none).")
    @click.option("--batch", "batch_name", help="Import batch name (default: file name and time).")
    @click.option("--license", help="Licence of units without x-license (default: the region's).")
    @click.option("--attribution", help="Whom to credit (default: the region's attribution).")
    @click.option("--url", help="Link to the units' source, for units without x-url.")
    @click.option(
        "--no-embed",
        is_flag=True,
        help="Leave the new units' sentence vectors to `tm embed` or the semantic snapshot job "
        "(a bulk load: with the default model, ≈ 170 sentences/s a core).",
    )
    def tmx_import(
        path: Path,
        region_slug: str | None,
        batch_name: str | None,
        license: str | None,
        attribution: str | None,
        url: str | None,
        no_embed: bool,
    ) -> None:
        """Import a TMX file into the translation memory (atomic, idempotent). Every unit needs
        a licence and an attribution: its own x- properties, these options, or the region's.

        Then the new units' sentences are embedded (committed batch by batch, after the import
        committed: an interrupted embedding loses nothing, `tm embed` goes on), so they are
        semantic candidates at once."""
        batch = batch_name or f"{path.name}@{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
        try:
            report = tmx_io.import_tmx(
                db.session,
                None,
                str(path),
                region=region_slug,
                batch_name=batch,
                license=license,
                attribution=attribution,
                url=url,
            )
        except DomainError as error:
            _fail(error)
        result = report.as_dict()
        if report.created and not no_embed:
            # No page job embeds imported units: their sentences get vectors here, so they are
            # semantic candidates at once.
            from memory.services.semantic import embed_unit_sources
            from tm_service.cli import ProgressBar
            from tm_service.jobs import get_encoder

            bar = ProgressBar("embedding unit sentences")
            try:
                embedded = embed_unit_sources(db.session, get_encoder(current_app), bar)
            finally:
                bar.close()
            result["unit_sentences"] = embedded.as_dict()
        click.echo(json.dumps(result, ensure_ascii=False))

    @group.command("tmx-export")
    @click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--source-language", required=True)
    @click.option("--target-language", required=True)
    @click.option("--region", "region_slug", help="Only this region's units.")
    def tmx_export(
        out: Path, source_language: str, target_language: str, region_slug: str | None
    ) -> None:
        """Export a language pair's units as TMX 1.4b (with provenance and licence properties)."""
        partial = out.with_name(out.name + ".part")
        try:
            with partial.open("wb") as stream:
                count = tmx_io.export_tmx(
                    db.session,
                    stream,
                    source_language=source_language,
                    target_language=target_language,
                    region=region_slug,
                )
        except DomainError as error:
            partial.unlink(missing_ok=True)
            _fail(error)
        partial.replace(out)
        click.echo(json.dumps({"file": str(out), "units": count}))

    @group.command("rebuild-units")
    @click.option("--region", "region_slug", help="Only this region's pages.")
    def rebuild_units(region_slug: str | None) -> None:
        """Rebuild translation units from every page's latest public translations, and
        recompute the matching keys of imported and reviewed units."""
        from memory.services.semantic import SentenceEmbedder
        from tm_service import jobs
        from tm_service.cli import ProgressBar
        from tm_service.jobs import get_encoder

        encoder = get_encoder()
        # Aligned by meaning where structure does not decide, as the jobs do.
        embedder = SentenceEmbedder(db.session, encoder) if encoder.multilingual else None
        bar = ProgressBar("building units")
        try:
            report = tm_service.refresh_all_units(
                db.session, region_slug=region_slug, progress=bar, embed=embedder
            )
            if embedder is not None:
                embedder.store()
            rekeyed = tm_service.rekey_units(db.session, region_slug=region_slug)
        except DomainError as error:
            _fail(error)
        finally:
            bar.close()
        result = {**report.as_dict(), "imported_units_rekeyed": rekeyed}
        directory = jobs.index_dir(current_app._get_current_object())  # type: ignore[attr-defined]
        if directory is not None and report.created + report.updated + report.deleted + rekeyed:
            # Forms may have changed in place (after an upgrade): a snapshot of them now, so no
            # process keeps finding the old ones until its delta outgrows the snapshot.
            manifest = tm_service.build_index_snapshot(db.session, directory)
            db.session.commit()
            result["index_snapshot_revision"] = manifest.revision
        click.echo(json.dumps(result))

    @group.command("rebuild-index")
    @click.option(
        "--enqueue",
        is_flag=True,
        help="Record a job for the workers (rq, or the server's job thread) instead of "
        "building here.",
    )
    def rebuild_index(enqueue: bool) -> None:
        """Build the fuzzy index snapshot from scratch (in INDEX_DIR) and report it.

        Every process maps the new snapshot within its refresh interval; with INDEX_DIR
        "memory" every process rebuilds its own index instead.
        """
        from tm_service import jobs

        app = current_app._get_current_object()  # type: ignore[attr-defined]
        if enqueue:
            job_id = jobs.request_index_snapshot(app, here=False)
            click.echo(json.dumps({"job": job_id}))
            return
        tm_service.bump_epoch(db.session)
        started = time.perf_counter()
        directory = jobs.index_dir(app)
        if directory is not None:
            tm_service.build_index_snapshot(db.session, directory, force=True)
            db.session.commit()
        semantic = jobs.semantic_snapshot_dir(app)
        if semantic is not None and semantic_current_name(semantic) is not None:
            # The new epoch retires the semantic snapshot too: one of this epoch, so that no
            # process falls back to holding every sentence itself.
            from memory.services.semantic import build_semantic_snapshot

            built = build_semantic_snapshot(db.session, jobs.get_encoder(app).name, semantic)
            db.session.commit()
            stats_semantic = {"texts": built.texts, "revision": built.revision}
        else:
            stats_semantic = None
        stats = jobs.get_tm_index(app).rebuild(db.session)
        stats["semantic_snapshot"] = stats_semantic
        stats["seconds"] = round(time.perf_counter() - started, 3)
        stats["index_dir"] = str(directory) if directory is not None else None
        stats["counts"] = tm_service.unit_counts(db.session)
        click.echo(json.dumps(stats))

    @group.command("leverage")
    @click.argument("region_slug")
    @click.option("--language", "languages", multiple=True, help="Only these target languages.")
    def leverage(region_slug: str, languages: tuple[str, ...]) -> None:
        """Words of missing or outdated translations per TM match band (the leverage report)."""
        from memory.services.leverage import BANDS, MATCH_BANDS, leverage_report
        from tm_service.api.tm import penalty_policy, tm_index

        try:
            report = leverage_report(
                db.session,
                tm_index(),
                region_slug,
                target_languages=languages or None,
                policy=penalty_policy(),
                price_per_million_characters=float(
                    current_app.config["DEEPL_PRICE_PER_MILLION_CHARACTERS"]
                ),
            )
        except DomainError as error:
            _fail(error)
        click.echo(f"{'language':<9}{'pages':>6}{'words':>8}" + "".join(f"{b:>12}" for b in BANDS))
        for row in (*report.languages, report.totals):
            bands = "".join(f"{row.counts.bands[band].words:>12}" for band in BANDS)
            click.echo(f"{row.language:<9}{row.pages:>6}{row.counts.words:>8}{bands}")
        # Each match band's words by the trust of what matched (approved: a region published it).
        for row in report.languages:
            by_trust = [
                f"{band} "
                + ", ".join(
                    f"{name} {count.words}"
                    for name, count in row.counts.bands[band].trust.items()
                    if count.segments
                )
                for band in MATCH_BANDS
                if row.counts.bands[band].segments
            ]
            if by_trust:
                click.echo(f"{row.language} by trust: " + "; ".join(by_trust))
        saved, budget = report.totals.machine_translation, report.budget
        click.echo(
            f"DeepL: {saved.words_saved} words / {saved.characters_saved} characters saved "
            f"({saved.cost_saved:.2f} EUR); {budget.words_needed} words needed, "
            f"{budget.words_left} left of the region's budget"
            f"{'' if budget.fits else f' (short by {budget.shortfall})'}. "
            f"{report.lookups} lookups, {report.seconds} s."
        )
