"""The semantic (sentence-vector) index of the memory: load time, memory and query latency.

    .venv/bin/python bench/semantic_index.py [--sources 50000] [--languages 8] [--queries 20]
        [--dim 64] [--snapshot]

Generates a TMX of `--sources` German sentences (from the demo dump of Landkreis Augsburg,
CC BY 4.0, each with a running number) with `--languages` target languages each, imports it
into a fresh SQLite file, embeds every unit source with the fake encoder (vectors come from
the cache; the model does not change what is measured), then in a new process loads
`SemanticMemory` (time, RSS growth) and times `neighbours()` for batches of 75 unit sources
into English (`--queries` batches; the median and the maximum). With `--snapshot` the
sentences are also written as a snapshot (`memory.services.semantic.build_semantic_snapshot`,
timed) and a second new process maps it instead of loading: both are reported. `--dim` is the
fake encoder's dimension (the real model's: 384).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

TARGETS = ["en", "ar", "fa", "tr", "ru", "uk", "fr", "es", "it", "pl", "ro", "ku", "ps", "ti"]


def write_tmx(path: Path, sources: int, languages: int) -> None:
    from load_test import corpus_sentences

    sentences = [s for s in corpus_sentences() if s.isprintable()]
    rng = random.Random(3)
    with path.open("w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n<tmx version="1.4"><header srclang="de" '
            'datatype="plaintext" segtype="sentence" adminlang="en" creationtool="bench" '
            'creationtoolversion="1" o-tmf="bench"/><body>\n'
        )
        for n in range(sources):
            german = f"{rng.choice(sentences)} ({n})"
            out.write(f'<tu><tuv xml:lang="de"><seg>{escape(german)}</seg></tuv>')
            for code in TARGETS[:languages]:
                target = escape(f"{code.upper()} {n}: {german[:40]}")
                out.write(f'<tuv xml:lang="{code}"><seg>{target}</seg></tuv>')
            out.write("</tu>\n")
        out.write("</body></tmx>\n")


def app_for(database: Path, dim: int, *, snapshots: bool = False):
    from tm_service import create_app

    url = f"sqlite:///{database}"
    config = {"DATABASE_URL": url, "EMBEDDING_MODEL": f"fake:{dim}", "TESTING": True}
    if snapshots:
        config["INDEX_DIR"] = str(database.parent / "index")
    return create_app(config)


def own_memory_mb() -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split("RssAnon:")[1].split()[0]) // 1024


def prepare(database: Path, sources: int, languages: int, dim: int) -> dict[str, float]:
    from memory.services.semantic import embed_segment_texts, unembedded_unit_sources
    from memory.services.tmx_io import import_tmx
    from tm_service.extensions import db
    from tm_service.jobs import get_encoder

    tmx = database.with_suffix(".tmx")
    write_tmx(tmx, sources, languages)
    app = app_for(database, dim)
    with app.app_context():
        db.create_all()
        started = time.perf_counter()
        report = import_tmx(
            db.session, None, str(tmx), batch_name="b", license="CC0", attribution="b"
        )
        imported_s = time.perf_counter() - started
        encoder = get_encoder(app)
        embed_segment_texts(db.session, encoder, unembedded_unit_sources(db.session, encoder.name))
    return {"units": report.created, "import_s": round(imported_s, 1)}


def build_snapshot(database: Path, dim: int) -> dict[str, float]:
    from memory.services.semantic import build_semantic_snapshot
    from tm_service.extensions import db
    from tm_service.jobs import get_encoder, semantic_snapshot_dir

    app = app_for(database, dim, snapshots=True)
    with app.app_context():
        started = time.perf_counter()
        root = semantic_snapshot_dir(app)
        assert root is not None
        manifest = build_semantic_snapshot(db.session, get_encoder(app).name, root)
        return {
            "snapshot_build_s": round(time.perf_counter() - started, 1),
            "snapshot_mb": round(manifest.bytes / 1e6, 1),
        }


def measure(database: Path, queries: int, dim: int, snapshots: bool) -> dict[str, object]:
    from sqlalchemy import select

    from memory.models import Language
    from memory.tm_models import TranslationUnit
    from tm_service.extensions import db
    from tm_service.jobs import get_semantic_memory

    app = app_for(database, dim, snapshots=snapshots)
    with app.app_context():
        memory = get_semantic_memory(app)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        own_before = own_memory_mb()
        started = time.perf_counter()
        memory.ensure_fresh(db.session)
        load_s = time.perf_counter() - started
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024
        de, en = (
            db.session.scalar(select(Language.id).where(Language.code == code))
            for code in ("de", "en")
        )
        texts = db.session.scalars(
            select(TranslationUnit.source_text).where(TranslationUnit.target_language_id == en)
        ).all()
        rng = random.Random(1)
        latencies = []
        for _ in range(queries):
            batch = rng.sample(texts, min(75, len(texts)))
            started = time.perf_counter()
            memory.neighbours(db.session, de, en, batch, limit=3)
            latencies.append((time.perf_counter() - started) * 1000)
    return {
        **memory.stats(),
        "load_s": round(load_s, 2),
        "max_rss_growth_mb": grown,
        "own_memory_growth_mb": own_memory_mb() - own_before,
        "neighbours_75_p50_ms": round(statistics.median(latencies), 1),
        "neighbours_75_max_ms": round(max(latencies), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sources", type=int, default=50_000)
    parser.add_argument("--languages", type=int, default=8, choices=range(1, len(TARGETS) + 1))
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--snapshot", action="store_true")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--mapped", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure), args.queries, args.dim, args.mapped)))
        return
    database = Path(tempfile.mkdtemp(prefix="tm-semantic-")) / "tm.sqlite3"
    prepared = prepare(database, args.sources, args.languages, args.dim)
    # A new process: its memory growth is the index's alone.
    child = [sys.executable, __file__, "--measure", str(database), "--queries", str(args.queries)]
    child += ["--dim", str(args.dim)]
    run = {"held": json.loads(subprocess.run(child, check=True, capture_output=True).stdout)}
    if args.snapshot:
        prepared |= build_snapshot(database, args.dim)
        mapped = subprocess.run([*child, "--mapped"], check=True, capture_output=True).stdout
        run["mapped"] = json.loads(mapped)
    print(
        json.dumps(
            {"sources": args.sources, "languages": args.languages, "dim": args.dim} | prepared | run
        )
    )


if __name__ == "__main__":
    main()
