"""How far can drafts from another region's memory go? Ceilings from a reuse_quality.py run.

    .venv/bin/python bench/reuse_ceiling.py [RESULTS.json]

Reads the raw results of `bench/reuse_quality.py` (its `--json` file; by default the newest
`reuse-quality-*.json` in its cache folder) and rebuilds each recipient page's draft from its
segments (segment texts joined by spaces: within a few hundredths of the service's own draft,
shown side by side), then with other choices, all as chrF++ gain over the untouched German
(corpus level, sacrebleu):

- `rebuilt draft`: the service's own choice per segment, rebuilt so (checks the rebuilding);
- `every best candidate`: every segment that has any memory or near-duplicate candidate takes
  its best one, whatever its score — what lowering the draft thresholds to nothing could give;
- `reference where a candidate exists`: such a segment takes the recipient's own human sentence
  (where the alignment found one) — what perfect candidates for those segments could give;
- `reference everywhere`: every aligned segment takes its human sentence (the alignment's own
  ceiling).

Also the share of German words in segments with no candidate at all: what no threshold can
reach, because the donor region has no sentence on it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sacrebleu

CACHE = Path(__file__).resolve().parent / "out" / "reuse-cache"
CHRF = sacrebleu.CHRF(word_order=2)

Choice = Callable[[dict[str, Any]], str | None]


def memory_candidates(segment: dict[str, Any]) -> list[dict[str, Any]]:
    """Candidates for the whole segment from the memory (not machine translation, not an
    assembly of its fragments, which has no score)."""
    return [
        c
        for c in segment["candidates"]
        if c.get("source") != "machine_translation" and c.get("score") is not None
    ]


def service_choice(segment: dict[str, Any]) -> str | None:
    chosen = segment.get("chosen")
    return None if chosen is None else segment["candidates"][chosen]["text"]


def best_candidate(segment: dict[str, Any]) -> str | None:
    candidates = memory_candidates(segment)
    return max(candidates, key=lambda c: c["score"])["text"] if candidates else None


def reference_if_candidate(segment: dict[str, Any]) -> str | None:
    return segment["reference"] if memory_candidates(segment) else None


def reference(segment: dict[str, Any]) -> str | None:
    return segment["reference"]


def gain(pages: list[dict[str, Any]], choose: Choice) -> float:
    drafts = [" ".join(choose(s) or s["source"] for s in page["segments"]) for page in pages]
    references = [page["reference"] for page in pages]
    german = CHRF.corpus_score([p["german"] for p in pages], [references]).score
    return CHRF.corpus_score(drafts, [references]).score - german


def main() -> None:
    if len(sys.argv) > 1:
        path = Path(sys.argv[1])
    else:
        runs = sorted(CACHE.glob("reuse-quality-*.json"), key=lambda f: f.stat().st_mtime)
        if not runs:
            sys.exit(f"no results in {CACHE}: run bench/reuse_quality.py first")
        path = runs[-1]
    results = json.loads(path.read_text(encoding="utf-8"))
    print(f"run {results.get('label')} ({results.get('commit')})")
    print(
        "| direction | split | service draft | rebuilt draft | every best candidate | "
        "reference where a candidate exists | reference everywhere | words with no candidate |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for direction in results["directions"]:
        for split in ("dev", "test"):
            pages = [p for p in direction["pages"] if p["split"] == split and "error" not in p]
            if not pages:
                continue
            words = sum(s["words"] for p in pages for s in p["segments"])
            bare = sum(s["words"] for p in pages for s in p["segments"] if not memory_candidates(s))
            service = direction["summary"][split].get("gain")
            figures = [
                gain(pages, choose)
                for choose in (service_choice, best_candidate, reference_if_candidate, reference)
            ]
            print(
                f"| {direction['donor']} → {direction['recipient']} | {split} | "
                f"{service:+.2f} | "
                + " | ".join(f"{f:+.2f}" for f in figures)
                + f" | {100 * bare / words:.1f} % |"
            )


if __name__ == "__main__":
    main()
