"""The alignment benchmark's gold set and its precision and recall counts."""

import importlib.util
import sys
from pathlib import Path

from tests.conftest import CORPUS

_PATH = Path(__file__).resolve().parents[2] / "bench" / "alignment_quality.py"
_SPEC = importlib.util.spec_from_file_location("alignment_quality_bench", _PATH)
bench = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = bench  # its dataclasses look their module up while being defined
_SPEC.loader.exec_module(bench)

GOLD = Path(__file__).resolve().parents[1] / "data" / "alignment" / "gold.json"


def test_exact_coarse_partial_and_wrong_units_are_told_apart() -> None:
    gold = [((0,), (0,)), ((1,), (1,)), ((2, 3), (2,)), ((5,), (3,))]  # 4: untranslated
    units = [
        ((0, 1), (0, 1)),  # two gold pairs joined: correct, not exact
        ((2,), (2,)),  # half of a 2-1 pair: wrong
        ((4, 5), (3,)),  # holds an untranslated sentence: wrong
    ]

    tally = bench.score_page(gold, units)

    assert (tally.units, tally.exact, tally.correct) == (3, 0, 1)
    assert (tally.gold, tally.found, tally.contained) == (4, 0, 2)
    perfect = bench.score_page(gold, gold)
    assert (perfect.precision, perfect.recall, perfect.f1) == (1.0, 1.0, 1.0)


def test_gold_pairs_match_todays_segmentation_of_the_corpus() -> None:
    pairs = bench.load_pairs(CORPUS / "lkaugsburg")

    gold = bench.load_gold(GOLD, pairs)  # exits if a page's segments changed

    assert len(gold) == 25
    assert {page.split for page, _ in gold} == {"dev", "test"}
    for page, pair in gold:
        assert not pair.by_structure  # only pages that structure cannot decide
        sources = [i for bead in page.beads for i in bead[0]]
        targets = [j for bead in page.beads for j in bead[1]]
        assert len(sources) == len(set(sources)) and len(targets) == len(set(targets))
