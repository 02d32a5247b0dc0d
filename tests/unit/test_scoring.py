"""Scores say how they were computed: similarity, then listed penalties."""

import pytest

from matchers.scoring import (
    Match,
    MatchFlags,
    PenaltyPolicy,
    apply_penalties,
    score_match,
    similarity,
)


def test_similarity_is_100_for_equal_forms_and_0_for_disjoint_ones():
    assert similarity("rufen sie uns an: {PHONE}", "rufen sie uns an: {PHONE}") == 100.0
    assert similarity("abc", "xyz") == 0.0


def test_similarity_is_the_indel_ratio():
    # 200 · LCS / (|a| + |b|): "kinder" vs "kind" share 4 of 10 characters' worth.
    assert similarity("kinder", "kind") == pytest.approx(200 * 4 / 10)


def test_clean_unit_keeps_its_base_score_and_lists_no_penalties():
    assert apply_penalties(87.5, MatchFlags(), PenaltyPolicy()) == (87.5, ())


def test_each_penalty_is_listed_with_its_amount():
    policy = PenaltyPolicy()
    score, penalties = apply_penalties(
        100.0, MatchFlags(machine_translated=True, placeholder_mismatches=2), policy
    )
    assert {p.code: p.amount for p in penalties} == {
        "machine_translated": policy.machine_translated,
        "placeholder_mismatch": 2 * policy.placeholder_mismatch,
    }
    assert score == 100.0 - policy.machine_translated - 2 * policy.placeholder_mismatch


def test_score_never_drops_below_zero():
    flags = MatchFlags(
        machine_translated=True, pivot=True, outdated=True, placeholder_mismatches=20
    )
    score, _ = apply_penalties(30.0, flags, PenaltyPolicy())
    assert score == 0.0


def test_only_context_matches_exceed_100():
    assert apply_penalties(101.0, MatchFlags(), PenaltyPolicy(), kind="exact")[0] == 100.0
    assert apply_penalties(101.0, MatchFlags(), PenaltyPolicy(), kind="context")[0] == 101.0


def test_penalised_context_match_ranks_below_clean_exact_match():
    context = score_match(
        1, "a", "b", 100.0, MatchFlags(unreviewed=True), PenaltyPolicy(), neighbours_match=True
    )
    exact = score_match(2, "a", "b", 100.0, MatchFlags(), PenaltyPolicy())
    assert (context.kind, exact.kind) == ("context", "exact")
    assert context.score < exact.score


def test_machine_translated_exact_match_ranks_below_clean_fuzzy_95():
    mt_exact = score_match(1, "a", "b", 100.0, MatchFlags(machine_translated=True), PenaltyPolicy())
    human_fuzzy = score_match(2, "a", "b", 95.0, MatchFlags(), PenaltyPolicy())
    assert human_fuzzy.kind == "fuzzy"
    assert human_fuzzy.score > mt_exact.score


def test_match_is_a_frozen_record_with_opaque_origin():
    match = score_match(
        7, "Hallo", "Hello", 90.0, MatchFlags(), PenaltyPolicy(), origin={"region": "augsburg"}
    )
    assert isinstance(match, Match)
    assert match.origin == {"region": "augsburg"}
    with pytest.raises(AttributeError):
        match.score = 100.0  # type: ignore[misc]


def test_policy_from_configuration_overrides_defaults():
    policy = PenaltyPolicy.from_mapping({"machine_translated": 15, "other_region": 0})
    assert policy.machine_translated == 15.0
    assert policy.unreviewed == PenaltyPolicy().unreviewed
    _, penalties = apply_penalties(90.0, MatchFlags(other_region=True), policy)
    assert penalties == ()


@pytest.mark.parametrize("config", [{"machine_translatd": 5}, {"pivot": -1}])
def test_policy_rejects_unknown_names_and_negative_amounts(config: dict[str, float]):
    with pytest.raises(ValueError, match="machine_translatd|pivot"):
        PenaltyPolicy.from_mapping(config)


def test_identical_source_is_match_100_whatever_the_translation_and_trust_says_the_rest():
    machine = score_match(
        1, "a", "b", 100.0, MatchFlags(machine_translated=True, outdated=True), PenaltyPolicy()
    )
    assert machine.match == 100.0 and machine.kind == "exact"
    assert machine.trust.status == "machine"
    assert machine.trust.outdated is True
    assert machine.trust.score == 85.0
    assert machine.score == 85.0


def test_context_mismatch_lowers_the_ranking_score_but_not_trust():
    other_context = score_match(
        1, "a", "b", 100.0, MatchFlags(context_mismatch=True), PenaltyPolicy()
    )
    assert other_context.match == 100.0
    assert other_context.score == 99.0
    assert other_context.trust.score == 100.0 and other_context.trust.penalties == ()


@pytest.mark.parametrize(
    ("flags", "status"),
    [
        (MatchFlags(), "approved"),
        (MatchFlags(reviewed=True), "reviewed"),
        (MatchFlags(unreviewed=True), "unreviewed"),
        (MatchFlags(machine_translated=True), "machine"),
    ],
)
def test_trust_status_names_what_is_known_of_the_translation(flags: MatchFlags, status: str):
    assert score_match(1, "a", "b", 90.0, flags, PenaltyPolicy()).trust.status == status
