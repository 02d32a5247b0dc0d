"""A saved, memory-mapped near-duplicate index plus an in-memory delta answers exactly like an
index built from scratch on the same pages (matchers.near_duplicate_snapshot)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from matchers import near_duplicate_snapshot
from matchers.near_duplicates import NearDuplicateIndex, PageDoc
from tests.unit.test_near_duplicates import ABOUT_AUGSBURG, fake_vector, fixture_pages


def _pages() -> list[PageDoc]:
    """The fixture's pages with title vectors, and section vectors on a few."""
    docs = []
    for i, doc in enumerate(fixture_pages()):
        sections = None
        if i % 5 == 0:
            sections = np.stack([fake_vector(part) for part in (doc.title, doc.text[:200])])
        docs.append(replace(doc, title_vector=fake_vector(doc.title), section_vectors=sections))
    return docs


def _built(docs: list[PageDoc]) -> NearDuplicateIndex:
    index = NearDuplicateIndex()
    index.add_many(docs)
    return index


def _answers(index: NearDuplicateIndex, keys: list[int]) -> dict:
    found = {}
    for key in keys:
        found[key] = index.find_similar(key, limit=40, min_relation="unrelated")
        found[(key, "de")] = index.find_similar(key, limit=5, languages={"de"}, min_score=0.2)
    found["pairs"] = sorted(
        index.all_pairs(min_score=0.3), key=lambda pair: (pair.key_a, pair.key_b)
    )
    return found


def _delta(docs: list[PageDoc]) -> tuple[list[PageDoc], PageDoc, PageDoc, int]:
    """The pages at snapshot time, a page added after it, a new version of a page (new key:
    a new page translation row), and the key of the version it replaces."""
    changed = next(doc for doc in docs if doc.key == ABOUT_AUGSBURG)
    new_key = max(doc.key for doc in docs) + 100
    added = replace(docs[-1], key=new_key, region="nuernberg", title="Neu: " + docs[-1].title)
    text = changed.text + " Neue Öffnungszeiten im Bürgerbüro ab Montag."
    new_version = replace(changed, key=new_key + 1, text=text, vector=fake_vector(text))
    at_snapshot = [doc for doc in docs if doc is not docs[-1]]
    return at_snapshot, added, new_version, changed.key


def _is_mapped(array: np.ndarray) -> bool:
    """Mapped, not read: a plain view (fast to index) whose chain of bases ends in a np.memmap."""
    while array is not None and not isinstance(array, np.memmap):
        array = array.base
    return array is not None


def test_a_loaded_snapshot_answers_like_the_index_it_was_saved_from(tmp_path: Path):
    docs = _pages()
    built = _built(docs)
    near_duplicate_snapshot.save(built, tmp_path / "snap")

    loaded = near_duplicate_snapshot.load(tmp_path / "snap")

    signatures = loaded._stores["de"].signatures.base
    assert _is_mapped(signatures) and not signatures.flags.writeable
    assert len(loaded) == len(built)
    keys = [doc.key for doc in docs]
    assert _answers(loaded, keys) == _answers(built, keys)


def test_snapshot_plus_delta_equals_a_fresh_build_with_a_page_added_and_one_changed(
    tmp_path: Path,
):
    at_snapshot, added, new_version, old_key = _delta(_pages())
    near_duplicate_snapshot.save(_built(at_snapshot), tmp_path / "snap")

    loaded = near_duplicate_snapshot.load(tmp_path / "snap")
    loaded.discard(old_key)  # the changed page's stale row is hidden…
    loaded.add_many([added, new_version])  # …and the pages written since are the delta
    final = [doc for doc in at_snapshot if doc.key != old_key] + [added, new_version]
    fresh = _built(final)

    assert old_key not in loaded and added.key in loaded
    assert loaded._stores["de"].base_rows > 0  # the snapshot's rows are still mapped
    keys = [doc.key for doc in final]
    ours, theirs = _answers(loaded, keys), _answers(fresh, keys)
    assert ours == theirs
    assert all(page.key != old_key for page in ours[new_version.key])
    assert ours[new_version.key], "the changed page still finds its near-duplicates"
    assert loaded.explain(new_version.key, added.key) == fresh.explain(new_version.key, added.key)
    # A page given as a document (not stored) is scored the same way too.
    probe = replace(new_version, key=-1, region="elsewhere")
    assert loaded.find_similar(probe, limit=20) == fresh.find_similar(probe, limit=20)


def test_discards_on_a_snapshot_hide_rows_without_copying_it(tmp_path: Path):
    docs = _pages()
    near_duplicate_snapshot.save(_built(docs), tmp_path / "snap")
    loaded = near_duplicate_snapshot.load(tmp_path / "snap")
    gone = [doc.key for doc in docs[: len(docs) // 2]]

    for key in gone:
        loaded.discard(key)

    store = loaded._stores["de"]
    assert store.base_rows > 0 and _is_mapped(store.vectors.base)  # not compacted
    remaining = [doc for doc in docs if doc.key not in set(gone)]
    keys = [doc.key for doc in remaining]
    assert _answers(loaded, keys) == _answers(_built(remaining), keys)
    # A snapshot of the loaded index holds its live pages only.
    near_duplicate_snapshot.save(loaded, tmp_path / "again")
    assert len(near_duplicate_snapshot.load(tmp_path / "again")) == len(remaining)


def test_a_snapshot_of_another_format_is_refused(tmp_path: Path):
    near_duplicate_snapshot.save(_built(_pages()[:5]), tmp_path / "snap")
    meta = tmp_path / "snap" / near_duplicate_snapshot.META
    meta.write_text(meta.read_text().replace('"format": 1', '"format": 99'))

    with pytest.raises(ValueError, match="format 99"):
        near_duplicate_snapshot.load(tmp_path / "snap")


def test_the_int16_first_pass_changes_no_answer_mapped_or_not(tmp_path: Path, monkeypatch):
    # Queries read the int16 copies first and float32 only where their bound leaves a decision
    # open (matchers.vector_scan): every answer must be the float32 scan's. Small blocks, so
    # the scan threads split these few pages too.
    from matchers import segmented, vector_scan

    monkeypatch.setattr(segmented, "PARALLEL_ROWS", 8)
    docs = _pages()
    at_snapshot, added, _new_version, _old = _delta(docs)
    built = _built(at_snapshot)
    near_duplicate_snapshot.save(built, tmp_path / "index")
    mapped = near_duplicate_snapshot.load(tmp_path / "index")
    mapped.add(added)
    built.add(added)
    keys = [doc.key for doc in docs[::3]]
    real = segmented.code_products
    monkeypatch.setattr(segmented, "code_products", lambda codes, bounds: None)
    expected = _answers(built, keys)
    monkeypatch.setattr(segmented, "code_products", real)
    for index in (built, mapped):
        index.find_similar(keys[0])  # starts the loads, for mapped and own arrays
        vector_scan.wait_until_compiled(timeout=120)
        assert _answers(index, keys) == expected


def test_a_snapshot_without_int16_copies_makes_them_at_load(tmp_path: Path):
    # Snapshots written before the copies existed still open, and answer the same.
    docs = _pages()
    built = _built(docs)
    near_duplicate_snapshot.save(built, tmp_path / "index")
    removed = list((tmp_path / "index").glob("lang-*/*vector_codes.npy"))
    assert removed
    for path in removed:
        path.unlink()
        path.with_name(path.name.replace("codes", "bounds")).unlink()
    old = near_duplicate_snapshot.load(tmp_path / "index")
    keys = [doc.key for doc in docs[::4]]
    assert _answers(old, keys) == _answers(built, keys)
