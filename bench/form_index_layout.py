"""The fuzzy form index's search CPU by slot layout: slots numbered by length, then key (snapshot
format 2, `matchers.form_index`) against slots in key order (format 1), on the same forms,
alternating in one process (docs/benchmarks.md).

    .venv/bin/python bench/form_index_layout.py --units 1000000 --rounds 3

Builds both layouts (`FrozenFormIndex.build(..., slots_by_length=...)`) in process from
`--units` German sources generated as the load test's (`load_test.generated_sources`: a corpus
sentence and two vocabulary words), then times `--lookups` searches of the load test's lookup
texts (a corpus sentence with one word left out) at min_score 70 (the API default) and 50, with
a lookup's candidate limit, `--rounds` times each, alternating the layouts; prints the CPU
(`time.process_time`) per search and how many answers the two layouts give alike (only ties at
the candidate cut may differ). No database; ≈ 3 min and ≈ 2 GB at 1 M units.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[1]))

from load_test import LOOKUP_TEXTS, corpus_sentences, generated_sources, lookup_text  # noqa: E402

from matchers import estimate_kernel, overlap_kernel  # noqa: E402
from matchers.form_index import FrozenFormIndex  # noqa: E402
from memory.services.translation_memory import lookups, segment_key  # noqa: E402

TARGET = 2  # one target language: every generated form has units in it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    entries = []
    for source in generated_sources(args.units):
        key = segment_key(source, "de")
        entries.append((key.hash, key.form, {TARGET: 1}))
    layouts = {
        "slots by length (format 2)": FrozenFormIndex.build(entries, slots_by_length=True),
        "slots by key (format 1)": FrozenFormIndex.build(entries, slots_by_length=False),
    }
    del entries
    print(f"{args.units} forms, both layouts built in {time.perf_counter() - started:.0f} s")

    pool = LOOKUP_TEXTS + corpus_sentences()
    rng = random.Random(5)  # noqa: S311 — test data
    forms = [segment_key(lookup_text(rng, pool), "de").form for _ in range(args.lookups)]
    limit = 5 * lookups.CANDIDATE_FACTOR + 5  # the candidates a lookup with limit 5 asks for
    for index in layouts.values():  # warm-up: the compiled loops load, pages come in
        for form in forms[:100]:
            index.search(form, TARGET, limit, 70)
    overlap_kernel.wait_until_compiled(120)
    estimate_kernel.wait_until_compiled(120)

    for min_score in (70, 50):
        answers = [
            [index.search(form, TARGET, limit, min_score) for form in forms]
            for index in layouts.values()
        ]
        alike = sum(a == b for a, b in zip(*answers, strict=True))
        print(f"min_score {min_score}: {alike} of {len(forms)} answers alike")
        for round_ in range(1, args.rounds + 1):
            for name, index in layouts.items():
                clock = time.process_time()
                for form in forms:
                    index.search(form, TARGET, limit, min_score)
                per_search = (time.process_time() - clock) * 1000 / len(forms)
                print(f"  round {round_}, {name}: {per_search:.2f} ms CPU a search", flush=True)


if __name__ == "__main__":
    main()
