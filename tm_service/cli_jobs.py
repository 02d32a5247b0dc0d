"""`flask tm …` commands of background jobs and near-duplicates (worker, embed, similar-pairs,
similarity-snapshot, semantic-snapshot)."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from memory.errors import DomainError
from memory.services import similarity
from tm_service.extensions import db


def register_job_commands(group: AppGroup) -> None:
    from tm_service.cli_pretranslate import pretranslate

    group.add_command(worker)
    group.add_command(pretranslate)
    group.add_command(embed)
    group.add_command(similar_pairs)
    group.add_command(similarity_snapshot)
    group.add_command(semantic_snapshot)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Work until the queue is empty, then exit.")
@click.option(
    "--fork/--no-fork",
    default=False,
    show_default=True,
    help="Run each job in a forked child (rq.Worker) instead of in this process "
    "(rq.SimpleWorker, which keeps the embedding model loaded between jobs).",
)
def worker(burst: bool, fork: bool) -> None:
    """Run an rq worker on RQ_QUEUE (needs TM_REDIS_URL), inside the app context.

    On start and every TM_JOB_HEARTBEAT_SECONDS between jobs it retries the jobs of workers
    that died and enqueues the queued jobs Redis does not hold (stored while Redis was down).
    """
    from tm_service.cli import log_to_stderr
    from tm_service.jobs import rq_worker

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("Set TM_REDIS_URL: without Redis, jobs run in-process.")
    log_to_stderr()
    rq = rq_worker(current_app, fork=fork)
    names = ", ".join(queue.name for queue in rq.queues)
    click.echo(f"rq worker on queue '{names}' ({type(rq).__name__})", err=True)
    rq.work(burst=burst, with_scheduler=True)


@click.command("embed")
@click.option("--region", "region_slug", help="Only this region (default: every region).")
@with_appcontext
def embed(region_slug: str | None) -> None:
    """Embed the latest public page translations now, and every unit source without a sentence
    vector (cached texts are not encoded again)."""
    from memory.services.semantic import embed_unit_sources
    from tm_service.cli import ProgressBar
    from tm_service.jobs import get_encoder

    try:
        ids = similarity.latest_public_ids(db.session, region_slug=region_slug)
    except DomainError as error:
        raise click.ClickException(error.detail) from error
    encoder = get_encoder(current_app)
    bar = ProgressBar("embedding pages")
    try:
        report = similarity.embed_pages(db.session, encoder, ids, bar)
    finally:
        bar.close()
    bar = ProgressBar("embedding unit sentences")
    try:
        sentences = embed_unit_sources(db.session, encoder, bar)
    finally:
        bar.close()
    click.echo(
        json.dumps(
            {"model": encoder.name, **report.as_dict(), "unit_sentences": sentences.as_dict()}
        )
    )


@click.command("similar-pairs")
@click.argument("region_a")
@click.argument("region_b")
@click.option("--min-score", default=0.5, show_default=True, type=click.FloatRange(0, 1))
def similar_pairs(region_a: str, region_b: str, min_score: float) -> None:
    """Pages of REGION_A with a near-duplicate in REGION_B (tab-separated), then a summary."""
    from tm_service.cli import ProgressBar
    from tm_service.jobs import get_similarity_indexes

    bar = ProgressBar(f"matching {region_a} against {region_b}")
    try:
        report = similarity.overlap_report(
            db.session,
            get_similarity_indexes(current_app),
            region_a,
            region_b,
            min_score=min_score,
            progress=bar,
        )
    except DomainError as error:
        raise click.ClickException(error.detail) from error
    finally:
        bar.close()
    for pair in report.pairs:
        click.echo(
            f"{pair.score:.3f}\t{region_a}/{pair.external_id_a} [{pair.language_a}] "
            f"{pair.title_a}\t{region_b}/{pair.external_id_b} [{pair.language_b}] "
            f"{pair.title_b}\t{','.join(pair.signals)}\tmissing: {','.join(pair.missing_languages)}"
        )
    summary = {
        "pages_a": report.pages_a,
        "pages_b": report.pages_b,
        "matched_pages": len(report.pairs),
        "missing_translations_available": report.missing_translations_available,
        "missing_by_language": report.missing_by_language,
    }
    click.echo(json.dumps(summary, ensure_ascii=False))


@click.command("similarity-snapshot")
@click.option(
    "--enqueue",
    is_flag=True,
    help="Record a job for the workers (rq, or the server's job thread) instead of building here.",
)
@with_appcontext
def similarity_snapshot(enqueue: bool) -> None:
    """Build the near-duplicate page index snapshot (in INDEX_DIR/similarity) and report it.

    Every process serving /similar maps the new snapshot within its refresh interval instead
    of building its own index; with INDEX_DIR "memory" there are no snapshots.
    """
    from tm_service import jobs

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if jobs.similarity_snapshot_dir(app) is None:
        raise click.ClickException('INDEX_DIR is "memory": each process builds its own index.')
    result = jobs.request_similarity_snapshot(app, here=not enqueue)
    click.echo(json.dumps({"job": result} if enqueue else result))


@click.command("semantic-snapshot")
@click.option(
    "--enqueue",
    is_flag=True,
    help="Record a job for the workers (rq, or the server's job thread) instead of building here.",
)
@with_appcontext
def semantic_snapshot(enqueue: bool) -> None:
    """Build the semantic segment index snapshot (in INDEX_DIR/semantic) and report it.

    Every process answering suggestions maps the new snapshot within its refresh interval
    instead of holding every sentence vector itself; with INDEX_DIR "memory" there are no
    snapshots.
    """
    from tm_service import jobs

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if jobs.semantic_snapshot_dir(app) is None:
        raise click.ClickException('INDEX_DIR is "memory": each process holds its own index.')
    result = jobs.request_semantic_snapshot(app, here=not enqueue)
    click.echo(json.dumps({"job": result} if enqueue else result))
