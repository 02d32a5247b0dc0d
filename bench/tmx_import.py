"""TMX import speed: a generated TMX file into SQLite or a temporary PostgreSQL.

    .venv/bin/python bench/tmx_import.py [--units 200000] [--postgres] [--profile]

The file is realistic in shape: German source sentences of the Landkreis Augsburg pages (CC BY
4.0, Integreat / Tür an Tür – Digitalfabrik gGmbH and Landkreis Augsburg), each made distinct by
one or two words of the corpus vocabulary, and every source with 8 target languages, as on the
platform (a German sentence has one unit per language). About as many of them hold numbers,
times or phone numbers as the corpus does. `import_tmx` runs as `tm tmx-import` runs it (one
transaction, licence and attribution given); then the same file again (the idempotent path,
nothing stored). PostgreSQL is started like the integration tests start it (`fsync=off`).
Prints units per second of both imports; `--profile` adds the top functions of the first one.
"""

from __future__ import annotations

import argparse
import cProfile
import html
import json
import os
import pstats
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CORPUS = Path("/work/shared/corpus/lkaugsburg/de_pages.json")
LANGUAGES = ["en", "ar", "fa", "uk", "tr", "ru", "fr", "es"]


def corpus_sentences() -> list[str]:
    pages = json.loads(CORPUS.read_text(encoding="utf-8"))
    sentences = []
    for page in pages:
        text = html.unescape(re.sub(r"<[^>]+>", " ", page["content"]))
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            sentence = " ".join(sentence.split())
            if 20 < len(sentence) < 300:
                sentences.append(sentence)
    return sentences


def write_tmx(path: Path, units: int, seed: int) -> int:
    """Write `units` translation units (sources × LANGUAGES); return the number of sources."""
    rng = random.Random(seed)
    sentences = corpus_sentences()
    vocabulary = sorted({w for s in sentences for w in s.split() if w.isalpha() and len(w) > 3})
    seen: set[str] = set()
    written = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n<tmx version="1.4"><header srclang="de" '
            'datatype="plaintext" segtype="sentence" adminlang="en" creationtool="bench" '
            'creationtoolversion="1" o-tmf="bench"/><body>\n'
        )
        while written < units:
            words = rng.choice(sentences).split()
            for _ in range(rng.randint(1, 2)):
                words.insert(rng.randrange(len(words) + 1), rng.choice(vocabulary))
            source = " ".join(words)
            if source in seen:
                continue
            seen.add(source)
            for language in LANGUAGES:
                out.write(
                    f'<tu><tuv xml:lang="de"><seg>{escape(source)}</seg></tuv>'
                    f'<tuv xml:lang="{language}"><seg>{escape(f"[{language}] {source}")}</seg>'
                    "</tuv></tu>\n"
                )
                written += 1
                if written >= units:
                    break
        out.write("</body></tmx>\n")
    return len(seen)


def run(url: str, path: Path, units: int, profile: bool) -> None:
    from memory.services.tmx_io import import_tmx
    from tm_service import create_app
    from tm_service.extensions import db

    app = create_app({"DATABASE_URL": url, "EMBEDDING_MODEL": "fake"})
    with app.app_context():
        db.create_all()

        def import_file():  # as `tm tmx-import FILE --license … --attribution …` runs it
            return import_tmx(
                db.session,
                None,
                str(path),
                batch_name="bench",
                license="CC BY 4.0",
                attribution="b",
            )

        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        first = import_file()
        if profiler:
            profiler.disable()
        again = import_file()
        print(
            f"import: {first.created} units in {first.seconds:.1f} s = "
            f"{units / first.seconds:,.0f} units/s; again: {again.created} new, "
            f"{again.unchanged} unchanged in {again.seconds:.1f} s = "
            f"{units / again.seconds:,.0f} units/s (load {os.getloadavg()[0]:.1f})"
        )
        if profiler:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="tm-tmx-import-"))
    path = base / "generated.tmx"
    started = time.perf_counter()
    sources = write_tmx(path, args.units, args.seed)
    print(
        f"{args.units:,} units ({sources:,} sources × up to {len(LANGUAGES)} languages), "
        f"{path.stat().st_size / 1e6:.0f} MB, written in {time.perf_counter() - started:.1f} s"
    )
    if not args.postgres:
        run(f"sqlite:///{base}/bench.sqlite3", path, args.units, args.profile)
        return
    from tests.integration.servers import start_postgres

    server = start_postgres(base / "pg")
    if server is None:
        sys.exit("PostgreSQL is not installed (apt-get install postgresql)")
    try:
        run(server.url, path, args.units, args.profile)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
