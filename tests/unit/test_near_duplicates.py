"""Near-duplicate pages across regions: templated copies, same-topic vectors, calibration.

Page texts come from the Integreat CMS test fixture (integreat-cms/test_data.json):
Integreat / Tür an Tür – Digitalfabrik gGmbH, CC BY 4.0.
"""

from __future__ import annotations

import html
import json
import re
import zlib
from pathlib import Path

import numpy as np
import pytest

from matchers.near_duplicates import (
    NearDuplicateIndex,
    PageDoc,
    combine_evidence,
    embedding_evidence,
)

FIXTURE = Path("/work/shared/corpus/integreat-cms/test_data.json")
REGION_SLUGS = {1: "augsburg", 2: "nuernberg"}
ABOUT_AUGSBURG = 3  # "Über die App Integreat Augsburg" (page translation pk)
ABOUT_NUERNBERG = 23  # "Über Integreat"
DIM = 256


def fake_vector(text: str, dim: int = DIM) -> np.ndarray:
    """Hashed bag of words: deterministic, L2-normalised, shared words → higher cosine."""
    vector = np.zeros(dim, dtype=np.float32)
    for word in re.findall(r"\w+", text.casefold()):
        h = zlib.crc32(word.encode())
        vector[h % dim] += 1.0 if (h >> 16) & 1 else -1.0
    norm = np.linalg.norm(vector)
    return vector / norm if norm else vector


def _plain(content: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", content))


def fixture_pages() -> list[PageDoc]:
    """Latest public version of each (page, language) of regions Augsburg and Nürnberg."""
    if not FIXTURE.exists():
        pytest.skip("Integreat CMS fixture not available")
    records = json.loads(FIXTURE.read_text(encoding="utf-8"))
    page_region = {r["pk"]: r["fields"]["region"] for r in records if r["model"] == "cms.page"}
    languages = {r["pk"]: r["fields"]["slug"] for r in records if r["model"] == "cms.language"}
    latest: dict[tuple[int, int], dict] = {}
    for record in records:
        if record["model"] != "cms.pagetranslation":
            continue
        fields = record["fields"]
        if fields["status"] != "PUBLIC" or page_region[fields["page"]] not in REGION_SLUGS:
            continue
        slot = (fields["page"], fields["language"])
        if slot not in latest or fields["version"] > latest[slot]["fields"]["version"]:
            latest[slot] = record
    docs = []
    for record in latest.values():
        fields = record["fields"]
        text = _plain(fields["content"])
        docs.append(
            PageDoc(
                key=record["pk"],
                region=REGION_SLUGS[page_region[fields["page"]]],
                language=languages[fields["language"]],
                title=fields["title"],
                text=text,
                vector=fake_vector(fields["title"] + " " + text),
            )
        )
    return docs


@pytest.fixture
def index() -> NearDuplicateIndex:
    built = NearDuplicateIndex()
    built.add_many(fixture_pages())
    return built


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def test_templated_about_pages_of_two_cities_are_near_duplicates(index: NearDuplicateIndex):
    results = index.find_similar(ABOUT_AUGSBURG, limit=5)

    top = results[0]
    assert (top.key, top.region, top.language) == (ABOUT_NUERNBERG, "nuernberg", "de")
    assert top.score >= 0.9
    assert "text" in top.reason.signals
    assert top.reason.shingle_jaccard is not None and top.reason.shingle_jaccard > 0.6
    assert top.reason.shared_text_ratio is not None and top.reason.shared_text_ratio > 0.9


def test_reasons_carry_every_input_of_the_score(index: NearDuplicateIndex):
    top = index.find_similar(ABOUT_AUGSBURG, limit=1)[0]
    reason = top.reason

    assert reason.embedding_similarity is not None and -1.0 <= reason.embedding_similarity <= 1.0
    assert reason.embedding_z is not None
    assert reason.embedding_percentile is not None and 0.0 <= reason.embedding_percentile <= 1.0
    assert reason.embedding_rank == 1
    assert reason.title_similarity is not None and 0.0 <= reason.title_similarity <= 1.0
    assert top.score == pytest.approx(
        combine_evidence(reason.text_evidence, reason.embedding_evidence, reason.title_similarity)
    )


def test_pages_of_the_own_region_are_excluded_unless_asked(index: NearDuplicateIndex):
    others = index.find_similar(ABOUT_AUGSBURG, limit=50)
    everyone = index.find_similar(ABOUT_AUGSBURG, limit=50, exclude_region=False)

    assert others and all(page.region == "nuernberg" for page in others)
    assert any(page.region == "augsburg" for page in everyone)
    assert ABOUT_AUGSBURG not in {page.key for page in everyone}


def test_regions_filter_is_honoured(index: NearDuplicateIndex):
    from_nuernberg = index.find_similar(ABOUT_AUGSBURG, limit=50, regions={"nuernberg"})
    from_elsewhere = index.find_similar(ABOUT_AUGSBURG, limit=50, regions={"muenchen"})

    assert from_nuernberg and {page.region for page in from_nuernberg} == {"nuernberg"}
    assert from_elsewhere == []


def test_languages_filter_and_cross_lingual_switch(index: NearDuplicateIndex):
    only_arabic = index.find_similar(ABOUT_AUGSBURG, limit=50, languages={"ar"})
    same_language = index.find_similar(ABOUT_AUGSBURG, limit=50, cross_lingual=False)

    assert only_arabic and {page.language for page in only_arabic} == {"ar"}
    assert same_language and {page.language for page in same_language} == {"de"}


def test_discarded_page_is_no_longer_found(index: NearDuplicateIndex):
    before = len(index)
    index.discard(ABOUT_NUERNBERG)
    index.discard(987654)  # unknown keys are ignored

    assert len(index) == before - 1
    assert ABOUT_NUERNBERG not in {
        page.key for page in index.find_similar(ABOUT_AUGSBURG, limit=50)
    }
    assert all(ABOUT_NUERNBERG not in (p.key_a, p.key_b) for p in index.all_pairs(min_score=0.0))


def test_adding_a_known_key_replaces_the_page(index: NearDuplicateIndex):
    before = len(index)
    index.add(
        PageDoc(ABOUT_NUERNBERG, "nuernberg", "de", "Müll", "Die Müllabfuhr kommt am Dienstag.")
    )

    assert len(index) == before
    top = index.find_similar(ABOUT_AUGSBURG, limit=1, min_score=0.5)
    assert all(page.key != ABOUT_NUERNBERG for page in top)


def test_all_pairs_reports_the_templated_pair_once_and_only_across_regions(
    index: NearDuplicateIndex,
):
    pairs = list(index.all_pairs(min_score=0.5))
    keys = [(p.key_a, p.key_b) for p in pairs]

    assert (ABOUT_AUGSBURG, ABOUT_NUERNBERG) in keys
    assert len(keys) == len(set(keys))
    assert all(p.region_a != p.region_b and p.key_a < p.key_b for p in pairs)
    about = pairs[keys.index((ABOUT_AUGSBURG, ABOUT_NUERNBERG))]
    assert about.score == pytest.approx(index.find_similar(ABOUT_AUGSBURG, limit=1)[0].score)


def _planted_language_pair(seed: int = 7) -> tuple[NearDuplicateIndex, np.ndarray]:
    """Index of 'de' pages and 'xx' pages whose cosines to everything sit high, like e5's band."""
    rng = np.random.default_rng(seed)
    dim = 64
    common = _unit(rng.standard_normal(dim))
    noise = rng.standard_normal((120, dim)) / np.sqrt(dim)
    index = NearDuplicateIndex()
    for i in range(120):
        index.add(PageDoc(i, f"region-{i % 12}", "de", f"Seite {i}", "", _unit(common + noise[i])))
    xx_noise = rng.standard_normal((120, dim)) / np.sqrt(dim)
    for i in range(120):
        vector = 2.0 * common + (noise[0] if i == 0 else xx_noise[i])
        index.add(PageDoc(1000 + i, f"region-{i % 12 + 1}", "xx", f"page {i}", "", _unit(vector)))
    return index, noise


def test_language_pair_with_cosines_shifted_high_does_not_flood_results():
    index, _ = _planted_language_pair()
    results = index.find_similar(0, limit=50, min_score=0.5)
    raw = index.find_similar(0, limit=200, languages={"xx"})

    # A global threshold of 0.6 would take every 'xx' page for a near-duplicate of page 0.
    assert min(page.reason.embedding_similarity or 0.0 for page in raw) > 0.5
    assert len(raw) == 120
    # (Same-language 'de' pages with near-equal titles, "Seite 0" / "Seite 29", may score too.)
    assert [page.key for page in results if page.language == "xx"] == [1000]
    assert "embedding" in results[0].reason.signals
    assert results[0].reason.shared_text_ratio is None  # other language: no text evidence


def test_calibration_is_per_language_pair_and_follows_the_index():
    index, _ = _planted_language_pair()
    de_de = index.calibration("de", "de")
    de_xx = index.calibration("xx", "de")

    assert (de_xx.language_a, de_xx.language_b) == ("de", "xx")
    assert de_xx.mean > de_de.mean + 0.05
    assert index.calibration("de", "xx") is de_xx  # cached while the index is unchanged
    for i in range(30):
        index.discard(1000 + 60 + i)
    assert index.calibration("de", "xx") is not de_xx


def test_all_pairs_crosses_languages_only_when_asked():
    index, _ = _planted_language_pair()
    cross = {(p.key_a, p.key_b) for p in index.all_pairs(min_score=0.5)}
    same = {(p.key_a, p.key_b) for p in index.all_pairs(min_score=0.5, cross_lingual=False)}

    assert (0, 1000) in cross
    assert (0, 1000) not in same


def test_embedding_evidence_is_calibrated_on_z():
    assert embedding_evidence(0.0) < 0.01
    assert embedding_evidence(4.0) == pytest.approx(0.5)
    assert embedding_evidence(8.0) > 0.99


def test_pages_without_words_or_vectors_are_nobodys_near_duplicate():
    index = NearDuplicateIndex()
    for key in range(5):
        index.add(PageDoc(key, f"region-{key}", "de", "", ""))

    assert index.find_similar(0) == []
    assert list(index.all_pairs(min_score=0.0)) == []


def test_a_page_not_in_the_index_can_be_queried(index: NearDuplicateIndex):
    about = next(doc for doc in fixture_pages() if doc.key == ABOUT_AUGSBURG)
    draft = PageDoc(-1, "augsburg", "de", about.title, about.text, about.vector)

    assert index.find_similar(draft, limit=1)[0].key == ABOUT_NUERNBERG


def test_index_stays_correct_after_many_discards():
    rng = np.random.default_rng(3)
    words = [f"wort{i}" for i in range(400)]
    template = " ".join(rng.choice(words, 60))
    index = NearDuplicateIndex()
    for key in range(700):
        text = template if key in (5, 601) else " ".join(rng.choice(words, 60))
        index.add(PageDoc(key, f"region-{key % 7}", "de", "", text, fake_vector(text)))
    for key in range(10, 590):
        index.discard(key)

    assert len(index) == 120
    assert index.find_similar(5, limit=1)[0].key == 601


def _region_of_pages(rng, region: str, first_key: int, n: int, dim: int) -> list[PageDoc]:
    vectors = rng.standard_normal((n, dim))
    letters = list("bcdfghjklmnpqrstvwxz")
    titles = ["".join(rng.choice(letters, 10)) for _ in range(n)]  # titles sharing nothing
    return [
        PageDoc(first_key + i, region, "de", titles[i], "", _unit(vectors[i])) for i in range(n)
    ]


def test_the_other_regions_page_on_the_same_topic_in_its_own_words_is_same_topic():
    """Mutual nearest pages of two regions at a modest z are the same topic, not noise."""
    rng = np.random.default_rng(11)
    dim = 64
    index = NearDuplicateIndex()
    index.add_many(_region_of_pages(rng, "stadt", 0, 60, dim))
    index.add_many(_region_of_pages(rng, "kreis", 100, 60, dim))
    query = index._stores["de"].vectors[0].copy()
    # Kreis writes the topic anew: a vector only partly like the query's, and the same title.
    own_words = _unit(query + 3.0 * _unit(rng.standard_normal(dim)))
    title = index._stores["de"].titles[0]
    index.add(PageDoc(500, "kreis", "de", title, "", own_words))

    results = index.find_similar(0, limit=10, min_relation="related")

    best = results[0]
    assert best.key == 500
    assert best.reason.relation == "same_topic"
    assert (best.reason.region_rank, best.reason.reverse_rank) == (1, 1)
    assert best.reason.rank_evidence == 1.0
    assert best.reason.text_evidence == 0.0
    assert best.reason.embedding_z is not None and best.reason.embedding_z < 4  # no signal alone
    # Pages of no relation beyond chance are left out at this setting.
    assert all(page.reason.relation != "unrelated" for page in results)
    assert len(results) < 10


def test_titles_across_languages_are_compared_by_their_vectors():
    rng = np.random.default_rng(5)
    dim = 32
    index = NearDuplicateIndex()
    titles = [_unit(v) for v in rng.standard_normal((80, dim))]
    pages = [_unit(v) for v in rng.standard_normal((80, dim))]
    for i in range(40):
        index.add(PageDoc(i, "a", "de", f"Titel {i}", "", pages[i], title_vector=titles[i]))
    for i in range(40, 80):
        index.add(PageDoc(i, "b", "en", f"Title {i}", "", pages[i], title_vector=titles[i]))
    # Page 90 is page 3's topic in English: its title vector is page 3's, its text is unrelated.
    index.add(PageDoc(90, "b", "en", "Naturalisation", "", pages[50], title_vector=titles[3]))

    found = {page.key: page for page in index.find_similar(3, limit=80, min_relation="unrelated")}

    assert found[90].reason.title_similarity == 1.0
    assert max(p.reason.title_similarity or 0.0 for k, p in found.items() if k != 90) < 0.5
    assert found[90].reason.relation in ("related", "same_topic")


def test_across_languages_the_page_with_the_nearest_title_is_found_though_its_text_is_far():
    """An English page against 300 German pages of another region: the German page on its topic
    covers more than it (its page vector is the farthest of all), but carries the nearest title:
    it is a candidate by its title and returned as related, with title rank 1."""
    rng = np.random.default_rng(23)
    dim = 48
    index = NearDuplicateIndex()
    for i in range(300):
        index.add(
            PageDoc(
                i,
                "kreis",
                "de",
                f"Titel {i}",
                "",
                _unit(rng.standard_normal(dim)),
                title_vector=_unit(rng.standard_normal(dim)),
            )
        )
    for i in range(300, 340):  # the query's own region, so ranks both ways exist
        vector = _unit(rng.standard_normal(dim))
        index.add(PageDoc(i, "stadt", "en", f"Title {i}", "", vector, title_vector=vector))
    query_vector = _unit(rng.standard_normal(dim))
    german_title = index._stores["de"].title_vector(7)
    assert german_title is not None
    index._stores["de"].vectors[7] = -query_vector  # its text: the farthest from the query's
    title = _unit(german_title + 0.6 * _unit(rng.standard_normal(dim)))
    index.add(PageDoc(900, "stadt", "en", "Naturalisation", "", query_vector, title_vector=title))

    found = {page.key: page for page in index.find_similar(900, limit=10, min_relation="related")}

    assert 7 in found
    assert found[7].reason.title_rank == 1
    assert found[7].reason.relation == "related"
    assert found[7].reason.embedding_rank == 300  # not among the page-vector candidates
    # Without a title vector the same page is not found: no evidence for it but the title.
    plain = index.find_similar(
        PageDoc(901, "stadt", "en", "Naturalisation", "", query_vector),
        limit=10,
        min_relation="related",
    )
    assert 7 not in {page.key for page in plain}


def test_region_rank_keys_order_cosines_as_the_floats_do():
    from matchers.vector_scan import ordered_bits

    values = np.array([-1.0, -0.5, -1e-30, -0.0, 0.0, 1e-30, 0.25, 0.9999999, 1.0], np.float32)
    keys = ordered_bits(values)
    assert keys[3] == keys[4]  # -0.0 == 0.0
    assert np.all(np.diff(np.delete(keys, 3)) > 0)
    assert keys.min() >= 0 and keys.max() < 2**32


def test_pages_without_a_vector_after_the_last_with_one_are_found_by_their_text():
    # A language whose last pages have no vector (not embedded yet): a query neither fails on
    # the shorter vector rows nor gives those pages a cosine; their text still finds them.
    rng = np.random.default_rng(0)
    vector = rng.standard_normal(16).astype(np.float32)
    vector /= np.linalg.norm(vector)
    text = "Die Anmeldung der Wohnung erfolgt im Bürgerbüro der Stadt mit Pass und Mietvertrag."
    index = NearDuplicateIndex()
    index.add(PageDoc(1, "a", "de", "Anmeldung", "Sprachkurse für Erwachsene", vector))
    for key in range(2, 400):  # beyond the first block of vector rows
        index.add(PageDoc(key, "b", "de", f"Seite {key}", f"Wohnen und Arbeiten {key}", None))
    index.add(PageDoc(400, "b", "de", "Anmeldung", text, None))
    found = index.find_similar(PageDoc(999, "c", "de", "Anmeldung", text, vector), limit=3)
    copy = next(page for page in found if page.key == 400)
    assert copy.reason.embedding_similarity is None and copy.reason.region_rank is None
    assert copy.reason.relation == "same_text"
