"""The frozen index of distinct forms finds what the mutable index finds, also from its files."""

from __future__ import annotations

import json
import random

import pytest
from rapidfuzz import fuzz, process

from matchers import form_index
from matchers.form_index import FIRST_SCORED, FrozenFormIndex
from matchers.fuzzy_index import FuzzyIndex
from memory.tm_snapshot import current_name, open_snapshot, read_manifest, write_snapshot

WORDS = (
    "anmeldung wohnsitz bürgerbüro termin montag dienstag sprechstunde kurs deutsch wohnung "
    "arzt schule kita bus ticket {NUM} {PHONE} öffnungszeiten integrationskurs"
).split()
EN, AR, FA = 2, 3, 4


def generated_forms(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    forms = {" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 9))) for _ in range(count)}
    return sorted(forms)


def queries(forms: list[str], seed: int = 8) -> list[str]:
    rng = random.Random(seed)
    edited = []
    for form in rng.sample(forms, 120):
        words = form.split()
        words[rng.randrange(len(words))] = rng.choice(WORDS)
        edited.append(" ".join(words) + rng.choice(("", " kurs", " termin")))
    return edited


@pytest.fixture(scope="module")
def forms() -> list[str]:
    return generated_forms(4000)


def test_frozen_index_scores_like_the_mutable_index(forms):
    mutable = FuzzyIndex()
    mutable.add_many(enumerate(forms))
    frozen = FrozenFormIndex.build((f"{i:08d}", form, {EN: 1}) for i, form in enumerate(forms))
    for query in queries(forms):
        expected = [(forms[key], score) for key, score in mutable.search(query, 5, 50)]
        found = [
            (frozen.form_of(frozen.slot_of(key)), score)
            for key, score in frozen.search(query, EN, 5, 50)
        ]
        assert [score for _, score in found] == [score for _, score in expected], query


def test_a_search_sees_only_forms_with_units_in_the_asked_language():
    frozen = FrozenFormIndex.build(
        [
            ("a", "die sprechstunde ist am montag", {EN: 2, AR: 1}),
            ("b", "die sprechstunde ist am dienstag", {FA: 1}),
        ]
    )
    assert [key for key, _ in frozen.search("die sprechstunde ist am mittwoch", EN)] == ["a"]
    assert [key for key, _ in frozen.search("die sprechstunde ist am mittwoch", FA)] == ["b"]
    assert frozen.search("die sprechstunde ist am mittwoch", 99) == []
    assert frozen.units(frozen.slot_of("a"), EN) == 2
    assert frozen.units(frozen.slot_of("a"), FA) == 0
    assert frozen.target_units() == {EN: 2, AR: 1, FA: 1}
    # A tombstoned slot is left out.
    gone = frozen.search("die sprechstunde ist am mittwoch", EN, exclude=_slots(frozen, "a"))
    assert gone == []


def _slots(frozen: FrozenFormIndex, *keys: str):
    import numpy as np

    return np.array(sorted(frozen.slot_of(key) for key in keys), dtype=np.int64)


def test_snapshot_round_trip_maps_the_same_results(tmp_path, forms):
    built = {
        1: FrozenFormIndex.build(
            (f"{i:08d}", form, {EN: 1 + i % 3, AR: 1} if i % 2 else {EN: 1})
            for i, form in enumerate(forms)
        )
    }
    manifest = write_snapshot(tmp_path, built, revision=42, epoch=3)
    assert (manifest.revision, manifest.epoch, manifest.forms) == (42, 3, len(forms))
    name = current_name(tmp_path)
    assert name is not None and read_manifest(tmp_path, name) == manifest
    mapped = open_snapshot(tmp_path, name)
    assert mapped is not None
    index = mapped.indexes[1]
    assert len(index) == len(forms)
    assert index.target_units() == built[1].target_units()
    for query in queries(forms):
        for target in (EN, AR):
            assert index.search(query, target, 5, 50) == built[1].search(query, target, 5, 50)


def test_slots_are_numbered_by_length_and_a_format_1_snapshot_answers_the_same(tmp_path, forms):
    # Slots go by length, then key, so each postings list (by slot) is by length too and a
    # search reads only its part inside a query's length window. Keys still find their slots
    # and come back from them. A snapshot written before (format 1: slots in key order) is
    # still opened, and answers every query as the new one does, ties by key included.
    import numpy as np

    entries = [(f"{i:08d}", form, {EN: 1}) for i, form in enumerate(forms)]
    built = FrozenFormIndex.build(entries)
    lengths = [len(built.form_of(slot)) for slot in range(len(built))]
    assert lengths == sorted(lengths)
    for key, form, _ in entries[::97]:
        assert built.form_of(built.slot_of(key)) == form
        assert built.key_of(built.slot_of(key)) == key
    offsets, postings = built._posting_offsets, built._postings
    assert all(
        np.all(np.diff(postings[start:end]) > 0)
        for start, end in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
    )
    key_ordered = FrozenFormIndex.build(entries, slots_by_length=False)
    assert [key_ordered.key_of(slot) for slot in range(3)] == [key for key, _, _ in entries[:3]]

    write_snapshot(tmp_path, {1: key_ordered}, revision=1, epoch=1)
    name = current_name(tmp_path)
    for array in ("hash_slots", "slot_hashes"):  # what a format-1 snapshot did not have
        (tmp_path / name / "lang-1" / f"{array}.npy").unlink()
    manifest_path = tmp_path / name / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["format"] == form_index.FORMAT == 2
    manifest_path.write_text(json.dumps({**manifest, "format": 1}))
    older = open_snapshot(tmp_path, name)
    assert older is not None and older.manifest.format == 1
    index = older.indexes[1]
    assert not index._slots_by_length and built._slots_by_length
    for query in queries(forms):
        for min_score in (50, 70):
            expected = key_ordered.search(query, EN, 5, min_score)
            assert index.search(query, EN, 5, min_score) == expected, query
            assert built.search(query, EN, 5, min_score) == expected, query
    with pytest.raises(ValueError, match="format 3"):
        FrozenFormIndex.load(tmp_path / name / "lang-1", format=3)


def test_an_older_build_never_replaces_a_newer_snapshot(tmp_path):
    newer = {1: FrozenFormIndex.build([("a", "kurs", {EN: 1})])}
    older = {1: FrozenFormIndex.build([("b", "termin", {EN: 1})])}
    write_snapshot(tmp_path, newer, revision=10, epoch=0)
    published = current_name(tmp_path)
    write_snapshot(tmp_path, older, revision=9, epoch=0)  # a slower job finishing later
    assert current_name(tmp_path) == published
    write_snapshot(tmp_path, older, revision=11, epoch=0)
    assert current_name(tmp_path) != published
    # Only the newest snapshots stay on disk.
    assert len(list(tmp_path.glob("snapshot-*"))) <= 3


def test_a_build_that_fails_midway_publishes_nothing(tmp_path, monkeypatch):
    write_snapshot(
        tmp_path, {1: FrozenFormIndex.build([("a", "kurs", {EN: 1})])}, revision=1, epoch=0
    )
    published = current_name(tmp_path)

    def broken_save(self, directory):
        directory.mkdir(parents=True)
        (directory / "forms.utf8").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(FrozenFormIndex, "save", broken_save)
    with pytest.raises(OSError):
        write_snapshot(
            tmp_path, {1: FrozenFormIndex.build([("b", "termin", {EN: 1})])}, revision=2, epoch=0
        )
    assert current_name(tmp_path) == published
    assert not list(tmp_path.glob(".tmp-*"))
    manifest = json.loads((tmp_path / published / "manifest.json").read_text())
    assert manifest["revision"] == 1


def test_an_empty_index_round_trips(tmp_path):
    write_snapshot(tmp_path, {1: FrozenFormIndex.build([])}, revision=0, epoch=0)
    mapped = open_snapshot(tmp_path, current_name(tmp_path))
    assert mapped is not None and len(mapped.indexes[1]) == 0
    assert mapped.indexes[1].search("kurs", EN) == []


def test_a_small_index_built_here_keeps_its_forms_decoded_a_mapped_or_large_one_does_not(
    tmp_path, forms, monkeypatch
):
    # A small index rescores most of its forms on every search: built in this process, it
    # decodes them once. A mapped snapshot (shared by every worker) or a larger index decodes
    # only each search's candidates; all answer the same.
    def build() -> FrozenFormIndex:
        return FrozenFormIndex.build((f"{i:08d}", form, {EN: 1}) for i, form in enumerate(forms))

    size = sum(len(form.encode()) for form in forms)
    monkeypatch.setattr(form_index, "DECODED_FORMS_BYTES", size)
    small = build()
    write_snapshot(tmp_path, {1: small}, revision=1, epoch=1)
    name = current_name(tmp_path)
    assert name is not None
    mapped = open_snapshot(tmp_path, name).indexes[1]
    monkeypatch.setattr(form_index, "DECODED_FORMS_BYTES", size - 1)
    large = build()
    expected = [large.search(query, EN, 5, 50) for query in queries(forms)[:40]]
    assert large._decoded_forms is None
    for index in (small, mapped):
        assert [index.search(query, EN, 5, 50) for query in queries(forms)[:40]] == expected
    assert mapped._decoded_forms is None
    assert small._decoded_forms == [small.form_of(slot) for slot in range(len(forms))]


def test_scoring_the_best_estimated_first_skips_no_match(forms):
    # Every form a query shares a token with is a candidate (rescore ≥ the forms), so the
    # search must return exactly what a full scan returns. The candidates after the first
    # FIRST_SCORED are scored only where their length can still beat the limit-th score.
    frozen = FrozenFormIndex.build(
        ((f"{i:08d}", form, {EN: 1}) for i, form in enumerate(forms)), rescore=len(forms)
    )
    assert len(forms) > 2 * FIRST_SCORED
    for query in queries(forms)[:60]:
        for limit in (5, 25):
            expected = process.extract(
                query, forms, scorer=fuzz.ratio, limit=limit, score_cutoff=50
            )
            found = frozen.search(query, EN, limit, 50)
            assert [score for _, score in found] == [score for _, score, _ in expected], query


def test_a_short_query_is_scored_against_every_short_form_with_units_in_its_language():
    short = ["sie", "sei", "sik", "stil", "netz", "mo.", "do.", "kita", "tel.", "fax"]
    entries = [(f"{i:08d}", form, {EN: 1} if i % 3 else {AR: 1}) for i, form in enumerate(short)]
    entries.append(("long", "die sprechstunde ist am montag", {EN: 1}))
    frozen = FrozenFormIndex.build(entries)
    mutable = FuzzyIndex()
    mutable.add_many((i, form) for i, (_, form, targets) in enumerate(entries) if EN in targets)
    english = [form for _, form, targets in entries if EN in targets]
    for query in ("zsi", "setz", "di.", "kiga", "fak"):
        expected = process.extract(query, english, scorer=fuzz.ratio, limit=5, score_cutoff=50)
        found = frozen.search(query, EN, 5, 50)
        assert [s for _, s in found] == [s for _, s, _ in expected], query
        assert [s for _, s in mutable.search(query, 5, 50)] == [s for _, s in found], query
        assert all(frozen.units(frozen.slot_of(key), EN) for key, _ in found)
