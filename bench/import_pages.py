"""Import speed of Integreat page dumps: `import_integreat_pages` alone, then the TM unit refresh.

    .venv/bin/python bench/import_pages.py [--repeat 5] [--database-url postgresql://…] [--profile]

The two Landkreis Augsburg dumps shipped in tm_service/demo/ (238 German and 233 English page
translations) are parsed once, then imported --repeat times into distinct new regions
(`lk-bench-1`, `lk-bench-2`, …) of one fresh database: an SQLite file in a temporary folder, or
the empty database of --database-url (its tables are created). Each round times, separately:

- the import itself (`memory.services.imports.import_integreat_pages`, one transaction),
- the translation-memory unit refresh of the changed translations
  (`memory.services.translation_memory.refresh_units`),
- the same dumps imported again into the same region (the idempotent path: nothing stored).

No job runs and nothing is embedded. The rate is page translations per second of the import
alone. --profile runs one more import under cProfile and prints the top functions (cumulative).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from connectors.integreat import IntegreatPage, read_dumps  # noqa: E402
from memory.models import Region  # noqa: E402
from memory.services.imports import import_integreat_pages  # noqa: E402
from memory.services.translation_memory import refresh_units  # noqa: E402
from tm_service import create_app  # noqa: E402
from tm_service.demo import DEMO_DIR  # noqa: E402
from tm_service.extensions import db  # noqa: E402

TARGET_PER_S = 300


def machine() -> str:
    """nproc, CPU model and Python version of this machine."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"nproc {len(os.sched_getaffinity(0))}, {model}, Python {platform.python_version()}"


def import_round(pages: list[IntegreatPage], slug: str) -> dict[str, float]:
    """Import into a new region, refresh its units, import again; seconds and counts."""
    started = time.perf_counter()
    report = import_integreat_pages(db.session, None, slug, pages, region_name=slug)
    import_s = time.perf_counter() - started
    translations = sum(report.created.values()) + sum(report.unchanged.values())
    assert sum(report.created.values()) == translations, "the region was not new"

    started = time.perf_counter()
    refreshed = refresh_units(db.session, report.changed_translation_ids)
    refresh_s = time.perf_counter() - started

    started = time.perf_counter()
    again = import_integreat_pages(db.session, None, slug, pages, region_name=slug)
    reimport_s = time.perf_counter() - started
    assert not again.created, "the re-import stored something"
    return {
        "translations": translations,
        "import_s": import_s,
        "refresh_s": refresh_s,
        "units": refreshed.created,
        "reimport_s": reimport_s,
    }


def profile_import(pages: list[IntegreatPage], slug: str, top: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    import_integreat_pages(db.session, None, slug, pages, region_name=slug)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="imports into distinct regions")
    parser.add_argument(
        "--database-url", help="an empty database (default: a fresh SQLite file in a temp folder)"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile one more import")
    parser.add_argument("--top", type=int, default=30, help="functions shown by --profile")
    args = parser.parse_args()

    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='tm-bench-')}/tm.sqlite3"
    app = create_app({"TESTING": True, "DATABASE_URL": url, "EMBEDDING_MODEL": "fake"})
    started = time.perf_counter()
    pages = list(read_dumps(DEMO_DIR))
    parse_s = time.perf_counter() - started

    rounds = []
    with app.app_context():
        db.create_all()
        if db.session.scalar(select(func.count(Region.id)).where(Region.slug.like("lk-bench-%"))):
            sys.exit("--database-url must be an empty database (it has lk-bench-* regions)")
        dialect = db.engine.dialect.name
        for number in range(1, args.repeat + 1):
            rounds.append(import_round(pages, f"lk-bench-{number}"))
        profile = profile_import(pages, "lk-bench-profile", args.top) if args.profile else ""
        db.session.remove()
        db.engine.dispose()

    translations = rounds[0]["translations"]
    import_s = [r["import_s"] for r in rounds]
    refresh_s = [r["refresh_s"] for r in rounds]
    reimport_s = [r["reimport_s"] for r in rounds]
    median_rate = translations / statistics.median(import_s)
    print(f"## Import of the Landkreis Augsburg dumps ({dialect})\n")
    print(
        f"Command: `.venv/bin/python bench/import_pages.py --repeat {args.repeat}"
        + (" --database-url …" if args.database_url else "")
        + "`  "
    )
    print(f"Machine: {machine()}  ")
    print(
        f"{len(pages)} page translations parsed in {parse_s:.2f} s (not timed below); "
        f"{args.repeat} imports into new regions of one database.\n"
    )
    print("| round | import s | translations/s | unit refresh s | units | re-import s |")
    print("|---|---|---|---|---|---|")
    for number, r in enumerate(rounds, 1):
        print(
            f"| {number} | {r['import_s']:.2f} | {r['translations'] / r['import_s']:.0f} "
            f"| {r['refresh_s']:.2f} | {r['units']} | {r['reimport_s']:.2f} |"
        )
    verdict = "✅" if median_rate >= TARGET_PER_S else "❌"
    print(
        f"| median | {statistics.median(import_s):.2f} | {median_rate:.0f} "
        f"| {statistics.median(refresh_s):.2f} | | {statistics.median(reimport_s):.2f} |"
    )
    with_refresh = translations / statistics.median(
        [a + b for a, b in zip(import_s, refresh_s, strict=True)]
    )
    print(
        f"\nImport alone: median {median_rate:.0f} translations/s, best "
        f"{translations / min(import_s):.0f}/s (target ≥ {TARGET_PER_S}/s {verdict}); "
        f"import and unit refresh together: {with_refresh:.0f}/s."
    )
    if profile:
        print("\n```\n" + profile.strip() + "\n```")


if __name__ == "__main__":
    main()
