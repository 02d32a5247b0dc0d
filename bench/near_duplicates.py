"""Benchmark near-duplicate detection on 100 000 synthetic pages (docs/bench-near-duplicates.md).

Texts are assembled from paragraphs of the Landkreis Augsburg pages (CC BY 4.0, Integreat /
Tür an Tür – Digitalfabrik gGmbH and Landkreis Augsburg), edited, spread over synthetic regions,
with planted near-duplicate groups. VECTORS ARE SYNTHETIC (random low-rank plus planted
correlation, shifted into a narrow e5-like cosine band), not model embeddings.

    .venv/bin/python bench/near_duplicates.py            # full run, ~100 k pages
    .venv/bin/python bench/near_duplicates.py --pages 20000 --out /tmp/x.md   # quick look
    .venv/bin/python bench/near_duplicates.py --snapshot  # the mapped snapshot vs in-process

`--snapshot` builds the index (with title vectors, as the service has them), saves it with
`matchers.near_duplicate_snapshot`, then maps it in a new process (`--map DIR`, a child of
this one) that reports its load time, memory and query latencies; the report is the
"Snapshot" section of the --out file (the rest of the file is kept).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import platform
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matchers import vector_scan  # noqa: E402
from matchers.near_duplicates import (  # noqa: E402
    BAND_ROWS,
    BANDS,
    NearDuplicateIndex,
    PageDoc,
)

CORPUS = Path("/work/shared/corpus/lkaugsburg")
DIM = 384
LATENT = 48
# Common direction weight: random same-language cosines ≈ a² / (1 + a²) ≈ 0.78, like e5.
COMMON_WEIGHT = 1.87
_BLOCK_SPLIT = re.compile(r"</p>|<br\s*/?>|</li>|</h\d>|</div>|\n", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


@dataclass
class Planted:
    kind: str  # "copy" (template with edits), "rewrite" (same topic, new wording), "translation"
    keys: list[int]


def paragraphs(path: Path) -> list[list[str]]:
    """Plain-text paragraphs (word lists, ≥ 6 words) of a pages.json dump."""
    found = []
    for page in json.loads(path.read_text(encoding="utf-8")):
        for block in _BLOCK_SPLIT.split(page.get("content") or ""):
            words = html.unescape(_TAG.sub(" ", block)).split()
            if len(words) >= 6:
                found.append(words)
    return found


def edit(words: list[str], rate: float, vocabulary: list[str], rng: random.Random) -> list[str]:
    return [rng.choice(vocabulary) if rng.random() < rate else w for w in words]


def generate(n_pages: int, n_regions: int, seed: int):
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    de_paragraphs = paragraphs(CORPUS / "de_pages.json")
    en_paragraphs = paragraphs(CORPUS / "en_pages.json")
    vocabulary = [w for p in de_paragraphs for w in p]
    regions = [f"region-{i:03d}" for i in range(n_regions)]
    towns = [f"Ort{i:03d}" for i in range(n_regions)]

    basis = nrng.standard_normal((LATENT, DIM)).astype(np.float32)
    common = nrng.standard_normal(DIM).astype(np.float32)
    common /= np.linalg.norm(common)
    english = nrng.standard_normal(DIM).astype(np.float32)
    english /= np.linalg.norm(english)

    texts: list[str] = []
    titles: list[str] = []
    page_regions: list[int] = []
    languages: list[str] = []
    latents = np.zeros((n_pages, LATENT), dtype=np.float32)
    planted: list[Planted] = []

    def new_page(text_words, title, region, language, latent) -> int:
        key = len(texts)
        texts.append(" ".join(text_words))
        titles.append(title)
        page_regions.append(region)
        languages.append(language)
        latents[key] = latent
        return key

    n_groups = n_pages // 40
    for group in range(n_groups):
        if len(texts) >= n_pages - 6:
            break
        size = rng.randint(2, 6)
        kind = "rewrite" if rng.random() < 0.2 else "copy"
        template = [list(p) for p in rng.sample(de_paragraphs, rng.randint(2, 5))]
        title = " ".join(rng.choice(template)[:4])
        latent = nrng.standard_normal(LATENT).astype(np.float32)
        keys = []
        for region in rng.sample(range(n_regions), size):
            town = towns[region]
            body = [w for p in template for w in (p + ["in", town])]
            if kind == "copy":
                words = edit(body, rng.uniform(0.0, 0.12), vocabulary, rng)
                if rng.random() < 0.3:
                    words += rng.choice(de_paragraphs)
                noise = 0.15
            else:
                words = edit(body, 0.5, vocabulary, rng)
                rng.shuffle(words)
                noise = 0.35
            member = latent + noise * nrng.standard_normal(LATENT).astype(np.float32)
            keys.append(new_page(words, f"{title} {town}", region, "de", member))
        planted.append(Planted(kind, keys))
        if group % 5 == 0:
            # The same page translated for another region: other language, correlated vector.
            region = rng.randrange(n_regions)
            words = [w for p in rng.sample(en_paragraphs, 3) for w in p]
            member = latent + 0.25 * nrng.standard_normal(LATENT).astype(np.float32)
            key = new_page(words, "About " + title, region, "en", member)
            planted.append(Planted("translation", [keys[0], key]))

    while len(texts) < n_pages:
        english_page = rng.random() < 0.1
        pool = en_paragraphs if english_page else de_paragraphs
        words = [w for p in rng.sample(pool, rng.randint(2, 6)) for w in p]
        words = edit(words, 0.2, vocabulary, rng)
        latent = nrng.standard_normal(LATENT).astype(np.float32)
        new_page(
            words,
            " ".join(words[:3]),
            rng.randrange(n_regions),
            "en" if english_page else "de",
            latent,
        )

    # Page vector = common direction (the narrow band) + low-rank topic + a little noise.
    low_rank = latents @ basis / np.sqrt(LATENT)
    low_rank += 0.3 * nrng.standard_normal(low_rank.shape).astype(np.float32) / np.sqrt(DIM)
    low_rank /= np.linalg.norm(low_rank, axis=1, keepdims=True)
    is_english = np.array([lang == "en" for lang in languages])
    vectors = COMMON_WEIGHT * common + low_rank
    vectors[is_english] += 0.8 * english  # other language: its own shifted band
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    docs = [
        PageDoc(k, regions[page_regions[k]], languages[k], titles[k], texts[k], vectors[k])
        for k in range(n_pages)
    ]
    return docs, planted, de_paragraphs


def rss_mb(field: str = "VmRSS") -> float:
    """RSS of this process in MB (VmRSS; RssAnon: private memory; RssFile: mapped files)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def pss_mb() -> float:
    """Proportional set size: mapped pages shared with other processes count in part."""
    with open("/proc/self/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def memory_now() -> dict[str, float]:
    return {
        "rss": rss_mb(),
        "anon": rss_mb("RssAnon"),
        "file": rss_mb("RssFile"),
        "pss": pss_mb(),
    }


def timed_queries(index, keys: list[int]) -> np.ndarray:
    """Milliseconds of find_similar (limit 10, cross-lingual) per key, after 10 warm-ups."""
    for key in keys[:10]:
        index.find_similar(key)
    vector_scan.wait_until_compiled(60)  # the compiled int16 scan, loaded in the background
    latencies = []
    for key in keys:
        t0 = time.perf_counter()
        index.find_similar(key, limit=10)
        latencies.append((time.perf_counter() - t0) * 1000)
    return np.array(latencies)


def map_in_this_process(directory: Path, n_queries: int, seed: int) -> None:
    """The child of --snapshot: map the snapshot, query it, print what it cost (JSON)."""
    from matchers import near_duplicate_snapshot

    before = memory_now()
    t0 = time.perf_counter()
    index = near_duplicate_snapshot.load(directory)
    load_s = time.perf_counter() - t0
    mapped = memory_now()
    keys = random.Random(seed).sample(range(len(index)), n_queries)
    t0 = time.perf_counter()
    first = index.find_similar(keys[0], limit=10)
    first_query_ms = (time.perf_counter() - t0) * 1000
    lat = timed_queries(index, keys)
    after = memory_now()
    result = {
        "load_s": load_s,
        "first_query_ms": first_query_ms,
        "first_results": len(first),
        "before": before,
        "mapped": mapped,
        "after": after,
        "p50": float(np.percentile(lat, 50)),
        "p95": float(np.percentile(lat, 95)),
        "max": float(lat.max()),
        "answers": [
            [(p.key, round(p.score, 12)) for p in index.find_similar(k, limit=10)]
            for k in keys[:20]
        ],
    }
    print(json.dumps(result))


def directory_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def replace_section(path: Path, heading: str, lines: list[str]) -> None:
    """Put `lines` (starting with `heading`) in place of that section of the file, or at its
    end; the rest of the file is kept."""
    old = path.read_text(encoding="utf-8").split("\n") if path.exists() else []
    if heading in old:
        start = old.index(heading)
        end = next((i for i in range(start + 1, len(old)) if old[i].startswith("## ")), len(old))
        new = old[:start] + lines + old[end:]
    else:
        new = old + ([""] if old and old[-1] else []) + lines
    path.write_text("\n".join(new).rstrip("\n") + "\n", encoding="utf-8")


SNAPSHOT_HEADING = "## Snapshot: the index memory-mapped from disk"
SNAPSHOT_NO_TITLES_HEADING = "## Snapshot without title vectors (as in the main table)"


def snapshot_run(args) -> None:
    """Build in-process, save, map in a new process; compare memory and latency."""
    from matchers import near_duplicate_snapshot

    load_at_start = os.getloadavg()[0]
    t0 = time.perf_counter()
    docs, _, _ = generate(args.pages, args.regions, args.seed)
    nrng = np.random.default_rng(args.seed + 7)
    # Title vectors, as the service indexes them: near the page's vector, plus noise.
    noise = nrng.standard_normal((len(docs), DIM)).astype(np.float32) * 0.03
    if not args.no_title_vectors:
        docs = [
            PageDoc(
                d.key,
                d.region,
                d.language,
                d.title,
                d.text,
                d.vector,
                title_vector=(v := d.vector + noise[i]) / np.linalg.norm(v),
            )
            for i, d in enumerate(docs)
        ]
    generate_s = time.perf_counter() - t0
    print(f"generated {len(docs)} pages in {generate_s:.1f} s")
    before = memory_now()
    index = NearDuplicateIndex()
    t0 = time.perf_counter()
    index.add_many(docs)
    build_s = time.perf_counter() - t0
    built = memory_now()
    print(f"built in {build_s:.1f} s, RSS +{built['rss'] - before['rss']:.0f} MB")
    keys = random.Random(args.seed + 2).sample(range(len(docs)), args.snapshot_queries)
    lat = timed_queries(index, keys)
    queried = memory_now()
    directory = Path(args.snapshot_dir or tempfile.mkdtemp(prefix="nd-snapshot-")) / "snap"
    shutil.rmtree(directory, ignore_errors=True)
    t0 = time.perf_counter()
    array_bytes = near_duplicate_snapshot.save(index, directory)
    save_s = time.perf_counter() - t0
    disk = directory_bytes(directory)
    print(f"saved in {save_s:.1f} s, {disk / 1e6:.0f} MB on disk")
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--map",
            str(directory),
            "--snapshot-queries",
            str(args.snapshot_queries),
            "--seed",
            str(args.seed + 2),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    mapped = json.loads(child.stdout.strip().splitlines()[-1])
    same = mapped["answers"] == [
        [[p.key, round(p.score, 12)] for p in index.find_similar(k, limit=10)]
        for k in random.Random(args.seed + 2).sample(range(len(docs)), args.snapshot_queries)[:20]
    ]
    p50, p95 = float(np.percentile(lat, 50)), float(np.percentile(lat, 95))
    m = mapped
    index_rss = built["rss"] - before["rss"]
    in_process_after = queried["rss"] - before["rss"]
    child_mapped = m["mapped"]["rss"] - m["before"]["rss"]
    child_after = m["after"]["rss"] - m["before"]["rss"]
    child_anon = m["after"]["anon"] - m["before"]["anon"]
    child_file = m["after"]["file"] - m["before"]["file"]
    ok = lambda flag: "✅" if flag else "❌"  # noqa: E731
    command = " ".join([".venv/bin/python", "bench/near_duplicates.py", *sys.argv[1:]])
    n_queries = args.snapshot_queries
    heading = SNAPSHOT_NO_TITLES_HEADING if args.no_title_vectors else SNAPSHOT_HEADING
    with_titles = (
        "**without title vectors** (like the main table above)"
        if args.no_title_vectors
        else "**plus a title vector per page** (384 float32, as the service indexes them)"
    )
    lines = [
        heading,
        "",
        f"Command: `{command}`  ",
        f"Machine: {os.cpu_count()} CPUs (nproc), Python {platform.python_version()}, "
        f"numpy {np.__version__}; load average (1 min) at start {load_at_start:.2f}, at end "
        f"{os.getloadavg()[0]:.2f}.",
        "",
        f"The same synthetic {len(docs)} pages as above, {with_titles}, built in this "
        "process, saved with "
        "`matchers.near_duplicate_snapshot.save`, then mapped by a **new process** "
        "(`--map`, page cache warm: the files were just written) that runs "
        f"{n_queries} queries. RSS is VmRSS growth over the process before the index; of the "
        "mapped process's growth, RssFile is page cache shared by every process mapping the "
        "snapshot, RssAnon its own memory.",
        "",
        "| what | in-process index | mapped snapshot | target |",
        "|---|---|---|---|",
        f"| build (`add_many`) | {build_s:.1f} s | — | ≤ 60 s {ok(build_s <= 60)} |",
        f"| write the snapshot (`save`, fsync) | — | {save_s:.1f} s | — |",
        f"| snapshot size on disk | — | {disk / 1e6:.0f} MB ({array_bytes / 1e6:.0f} MB of "
        "arrays) | — |",
        f"| time to have the index in a new process | {build_s:.1f} s (build) | "
        f"{m['load_s'] * 1000:.0f} ms (map), first query {m['first_query_ms']:.0f} ms | — |",
        f"| RSS growth, index ready | +{index_rss:.0f} MB | +{child_mapped:.0f} MB | — |",
        f"| RSS growth after {n_queries} queries | +{in_process_after:.0f} MB | "
        f"+{child_after:.0f} MB (RssAnon +{child_anon:.0f} MB own, RssFile "
        f"+{child_file:.0f} MB shared) | — |",
        f"| PSS of the mapped process after {n_queries} queries | — | "
        f"{m['after']['pss']:.0f} MB (whole process; {m['before']['pss']:.0f} MB before "
        "mapping) | — |",
        f"| `find_similar`, limit 10, cross-lingual ({n_queries} queries) | p50 {p50:.1f} ms, "
        f"p95 {p95:.1f} ms, max {lat.max():.1f} ms | p50 {m['p50']:.1f} ms, p95 "
        f"{m['p95']:.1f} ms, max {m['max']:.1f} ms | p95 ≤ 20 ms {ok(m['p95'] <= 20)} |",
        f"| same answers (keys and scores of 20 queries) | — | {'yes' if same else 'NO'} | "
        "identical |",
        "",
    ]
    replace_section(Path(args.out), heading, lines)
    print("\n".join(lines))
    if not args.snapshot_dir:
        shutil.rmtree(directory.parent, ignore_errors=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def shingle_jaccard(a: list[str], b: list[str], k: int) -> float:
    sa = {tuple(a[i : i + k]) for i in range(len(a) - k + 1)}
    sb = {tuple(b[i : i + k]) for i in range(len(b) - k + 1)}
    return len(sa & sb) / max(1, len(sa | sb))


def compare_shingle_sizes(docs: list[PageDoc], planted: list[Planted], rng: random.Random):
    """Exact Jaccard of planted copy pairs for word 3- and 5-shingles, and LSH catch rate."""
    pairs = [
        (g.keys[i], g.keys[j])
        for g in planted
        if g.kind == "copy"
        for i in range(len(g.keys))
        for j in range(i + 1, len(g.keys))
    ]
    pairs = rng.sample(pairs, min(2000, len(pairs)))
    rows = []
    for k in (3, 5):
        values = np.array(
            [
                shingle_jaccard(docs[a].text.casefold().split(), docs[b].text.casefold().split(), k)
                for a, b in pairs
            ]
        )
        # Probability the banded MinHash (42 bands × 3 rows) proposes the pair, averaged.
        catch = float(np.mean(1 - (1 - values**BAND_ROWS) ** BANDS))
        rows.append((k, float(np.median(values)), float(np.mean(values >= 0.5)), catch))
    return len(pairs), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100_000)
    parser.add_argument("--regions", type=int, default=140)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--sample", type=int, default=300, help="rows for brute-force recall")
    parser.add_argument("--min-score", type=float, default=0.5)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--out", default="docs/bench-near-duplicates.md")
    parser.add_argument(
        "--snapshot", action="store_true", help="measure the mapped snapshot (its own section)"
    )
    parser.add_argument("--snapshot-dir", help="where to save it (default: a temporary folder)")
    parser.add_argument("--snapshot-queries", type=int, default=100)
    parser.add_argument(
        "--no-title-vectors",
        action="store_true",
        help="with --snapshot: pages without title vectors (as in the main table)",
    )
    parser.add_argument("--map", help=argparse.SUPPRESS)  # the child process of --snapshot
    args = parser.parse_args()
    if args.map:
        map_in_this_process(Path(args.map), args.snapshot_queries, args.seed)
        return
    if args.snapshot:
        snapshot_run(args)
        return
    rng = random.Random(args.seed + 1)
    load_at_start = os.getloadavg()[0]

    t0 = time.perf_counter()
    docs, planted, _ = generate(args.pages, args.regions, args.seed)
    generate_s = time.perf_counter() - t0
    rss_before = rss_mb()
    print(f"generated {len(docs)} pages in {generate_s:.1f} s (vectors are synthetic)")

    index = NearDuplicateIndex()
    t0 = time.perf_counter()
    index.add_many(docs)
    build_s = time.perf_counter() - t0
    rss_after = rss_mb()
    print(f"index built in {build_s:.1f} s, RSS +{rss_after - rss_before:.0f} MB")

    # ---- single-page latency ------------------------------------------------------------
    query_keys = rng.sample(range(len(docs)), args.queries)
    lat = timed_queries(index, query_keys)
    print(f"find_similar p50 {np.percentile(lat, 50):.1f} ms, p95 {np.percentile(lat, 95):.1f} ms")

    # ---- all pairs ----------------------------------------------------------------------
    t0 = time.perf_counter()
    pairs = list(index.all_pairs(min_score=args.min_score, top_k=args.top_k))
    all_pairs_s = time.perf_counter() - t0
    found = {(p.key_a, p.key_b) for p in pairs}
    print(f"all_pairs: {len(pairs)} pairs in {all_pairs_s:.1f} s")
    signal_counts: dict[str, int] = {}
    for p in pairs:
        label = "+".join(p.reason.signals) or "(none)"
        signal_counts[label] = signal_counts.get(label, 0) + 1

    # ---- recall against brute force -----------------------------------------------------
    vectors = np.stack([d.vector for d in docs])
    regions = np.array([d.region for d in docs])
    languages = np.array([d.language for d in docs])
    in_group = sorted({k for g in planted if g.kind == "copy" for k in g.keys})
    sample = rng.sample(in_group, args.sample // 2) + rng.sample(range(len(docs)), args.sample // 2)

    t0 = time.perf_counter()
    embedding_truth: set[tuple[int, int]] = set()
    for key in sample:
        cosines = vectors @ vectors[key]
        cosines[regions == regions[key]] = -np.inf
        for language in ("de", "en"):
            masked = np.where(languages == language, cosines, -np.inf)
            top = np.argpartition(-masked, args.top_k)[: args.top_k]
            for other in top.tolist():
                if masked[other] == -np.inf:
                    continue
                if index.explain(key, other).score >= args.min_score:
                    embedding_truth.add((min(key, other), max(key, other)))
    embedding_recall = len(embedding_truth & found) / max(1, len(embedding_truth))

    # Exact Jaccard of the index's own shingle sets (what MinHash approximates), sample vs all.
    store = index._stores["de"]  # bench-only look inside: the exact sets the LSH estimates
    sizes = np.array([s.size for s in store.shingles[: store.size]])
    flat = np.concatenate(store.shingles[: store.size])
    owner = np.repeat(np.arange(store.size), sizes)
    order = np.argsort(flat, kind="stable")
    flat, owner = flat[order], owner[order]
    row_keys = store.keys[: store.size]
    row_regions = store.region_codes[: store.size]
    text_truth: set[tuple[int, int]] = set()
    de_sample = [k for k in sample if docs[k].language == "de"]
    for key in de_sample:
        row = index._where[key][1]
        mine = store.shingles[row]
        lo = np.searchsorted(flat, mine, side="left")
        hi = np.searchsorted(flat, mine, side="right")
        holders = np.concatenate([owner[a:b] for a, b in zip(lo, hi, strict=True)])
        shared = np.bincount(holders, minlength=store.size)
        jaccard = shared / np.maximum(1, sizes + mine.size - shared)
        for other in np.flatnonzero(jaccard >= 0.5).tolist():
            if other != row and row_regions[other] != row_regions[row]:
                other_key = int(row_keys[other])
                text_truth.add((min(key, other_key), max(key, other_key)))
    text_recall = len(text_truth & found) / max(1, len(text_truth))
    brute_s = time.perf_counter() - t0

    planted_recall = {}
    for kind in ("copy", "rewrite", "translation"):
        kind_pairs = {
            (min(a, b), max(a, b))
            for g in planted
            if g.kind == kind
            for i, a in enumerate(g.keys)
            for b in g.keys[i + 1 :]
            if docs[a].region != docs[b].region
        }
        planted_recall[kind] = (len(kind_pairs & found) / max(1, len(kind_pairs)), len(kind_pairs))

    n_compared, shingle_rows = compare_shingle_sizes(docs, planted, rng)
    peak = peak_rss_mb()

    # ---- report -------------------------------------------------------------------------
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    n_de = int(np.sum(languages == "de"))
    cal_de = index.calibration("de", "de")
    cal_de_en = index.calibration("de", "en")
    command = " ".join([".venv/bin/python", "bench/near_duplicates.py", *sys.argv[1:]])
    ok = lambda flag: "✅" if flag else "❌"  # noqa: E731
    p50, p95 = float(np.percentile(lat, 50)), float(np.percentile(lat, 95))
    lines = [
        "# Benchmark: near-duplicate pages",
        "",
        f"Command: `{command}`  ",
        f"Machine: {os.cpu_count()} CPUs (nproc), {cpu}, Python {platform.python_version()}, "
        f"numpy {np.__version__}  ",
        f"Load average (1 min) at start {load_at_start:.2f}, at end {os.getloadavg()[0]:.2f}: "
        "above ~0.5 means other processes shared the 2 cores and timings are pessimistic.",
        "",
        "**Vectors are synthetic**: random low-rank (48 latent dims → 384, float32, "
        "L2-normalised) plus a shared direction that puts random same-language cosines near "
        f"{cal_de.mean:.2f} (like multilingual e5), English pages shifted by a language "
        "direction; planted near-duplicates get correlated latents. Texts are assembled from "
        "paragraphs of the Landkreis Augsburg pages (Integreat / Tür an Tür – Digitalfabrik "
        "gGmbH and Landkreis Augsburg, CC BY 4.0), edited (random word replacements), over "
        f"{args.regions} synthetic regions: {len(docs)} pages ({n_de} de, {len(docs) - n_de} en).",
        f"Planted: {sum(g.kind == 'copy' for g in planted)} copy groups (2–6 regions, 0–12 % "
        "words replaced, town name swapped), "
        f"{sum(g.kind == 'rewrite' for g in planted)} rewrite groups (50 % words replaced and "
        f"shuffled: same topic, other wording), {sum(g.kind == 'translation' for g in planted)} "
        "cross-lingual pairs (de ↔ en).",
        "",
        "| what | result | target |",
        "|---|---|---|",
        f"| index build (`add_many`, {len(docs)} pages) | {build_s:.1f} s "
        f"({len(docs) / build_s:.0f} pages/s) | — |",
        f"| RSS of the index (growth during build) | {rss_after - rss_before:.0f} MB | — |",
        f"| peak RSS of the whole bench process | {peak:.0f} MB | — |",
        f"| `find_similar` one page, limit 10, cross-lingual ({args.queries} queries) | "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {lat.max():.1f} ms | ≤ 50 ms {ok(p95 <= 50)} |",
        f"| `all_pairs(min_score={args.min_score}, top_k={args.top_k})` | {all_pairs_s:.1f} s, "
        f"{len(pairs)} pairs | ≤ 120 s {ok(all_pairs_s <= 120)} |",
        f"| recall, embedding part (vs exact top-{args.top_k} by full dot product, "
        f"{len(sample)} sample rows, pairs scoring ≥ {args.min_score}) | {embedding_recall:.4f} "
        f"({len(embedding_truth)} pairs) | ≥ 0.95 {ok(embedding_recall >= 0.95)} |",
        f"| recall, text part (vs exact 3-shingle Jaccard ≥ 0.5, {len(de_sample)} sample rows) | "
        f"{text_recall:.4f} ({len(text_truth)} pairs) | ≥ 0.95 {ok(text_recall >= 0.95)} |",
        "",
        f"Brute-force checks took {brute_s:.1f} s. Generation of the data took {generate_s:.1f} s.",
        "",
        "Planted pairs found by `all_pairs` (different regions):",
        "",
        "| kind | found | pairs |",
        "|---|---|---|",
        *[f"| {k} | {r:.4f} | {n} |" for k, (r, n) in planted_recall.items()],
        "",
        "Signals of the reported pairs:",
        "",
        "| signals | pairs |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in sorted(signal_counts.items(), key=lambda kv: -kv[1])],
        "",
        f"Calibration (random-pair cosines): de–de mean {cal_de.mean:.3f}, std {cal_de.std:.4f}; "
        f"de–en mean {cal_de_en.mean:.3f}, std {cal_de_en.std:.4f} "
        f"(samples of {cal_de.sample.size} pairs).",
        "",
        f"Shingle size on planted copy pairs ({n_compared} pairs, exact Jaccard on words; "
        f"LSH catch = mean of 1 − (1 − J^{BAND_ROWS})^{BANDS}):",
        "",
        "| word shingles | median Jaccard | share ≥ 0.5 | LSH catch rate |",
        "|---|---|---|---|",
        *[f"| {k} | {m:.3f} | {s:.3f} | {c:.3f} |" for k, m, s, c in shingle_rows],
        "",
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    kept: list[str] = []
    if out.exists():
        old = out.read_text(encoding="utf-8").split("\n")
        starts = [i for i, line in enumerate(old) if line.startswith("## Snapshot")]
        if starts:
            kept = ["", *old[starts[0] :]]
    out.write_text("\n".join(lines + kept), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
