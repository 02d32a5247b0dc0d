"""Near-duplicate pages across regions through the API, with the fake encoder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from matchers.embeddings import FakeEncoder
from memory.services import similarity
from tests.conftest import bearer, copy_of_seeded_app
from tm_service.extensions import db

REGISTRATION_DE = (
    "<p>Wer nach Deutschland zieht, muss sich innerhalb von zwei Wochen beim Bürgerbüro "
    "anmelden. Bringen Sie Ihren Pass, den Mietvertrag und die Wohnungsgeberbestätigung mit. "
    "Die Anmeldung ist kostenlos und Sie bekommen eine Meldebescheinigung.</p>"
    "<p>Termine vereinbaren Sie online oder telefonisch. Ohne Anmeldung bekommen Sie keine "
    "Steuer-Identifikationsnummer und können kein Bankkonto eröffnen.</p>"
)
REGISTRATION_EN = (
    "<p>Anyone moving to Germany must register at the citizens' office within two weeks. "
    "Bring your passport, the rental contract and the landlord's confirmation. Registration "
    "is free and you receive a registration certificate.</p>"
)
REGISTRATION_AR = "<p>يجب على كل من ينتقل إلى ألمانيا التسجيل في مكتب المواطنين خلال أسبوعين.</p>"
COURSES_DE = (
    "<p>Integrationskurse bestehen aus einem Sprachkurs und einem Orientierungskurs. Die "
    "Volkshochschule bietet Deutschkurse für Erwachsene am Vormittag und am Abend an. Für "
    "Eltern gibt es Kurse mit Kinderbetreuung.</p>"
)
DOCTOR_DE = (
    "<p>Wenn Sie krank sind, gehen Sie zuerst zu Ihrer Hausärztin oder Ihrem Hausarzt. Nachts "
    "und am Wochenende hilft der ärztliche Bereitschaftsdienst unter der Nummer 116117.</p>"
)


@pytest.fixture
def app(tmp_path: Path, seeded_database: Path) -> Iterator[Flask]:
    with copy_of_seeded_app(tmp_path, seeded_database, SIMILARITY_REFRESH_INTERVAL=0) as app:
        yield app


def push(client: FlaskClient, token: str, region: str, page: str, language: str, **body):
    response = client.put(
        f"/api/v1/regions/{region}/pages/{page}/translations/{language}",
        json=body,
        headers=bearer(token),
    )
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


@pytest.fixture
def content(client: FlaskClient, make_token) -> dict[str, str]:
    """alpha: registration (de, en, ar), courses (de); beta: registration (de), doctor (de)."""
    alpha, beta = make_token("cms", "alpha"), make_token("cms", "beta")
    push(client, alpha, "alpha", "anmeldung", "de", title="Anmeldung", content=REGISTRATION_DE)
    push(client, alpha, "alpha", "anmeldung", "en", title="Registration", content=REGISTRATION_EN)
    push(client, alpha, "alpha", "anmeldung", "ar", title="التسجيل", content=REGISTRATION_AR)
    push(client, alpha, "alpha", "kurse", "de", title="Deutschkurse", content=COURSES_DE)
    edited = REGISTRATION_DE.replace("zwei Wochen", "14 Tagen").replace("online", "im Internet")
    push(client, beta, "beta", "wohnsitz", "de", title="Wohnsitz anmelden", content=edited)
    push(client, beta, "beta", "arzt", "de", title="Arzt", content=DOCTOR_DE)
    return {"alpha": alpha, "beta": beta}


def similar(client: FlaskClient, region: str, page: str, **query):
    return client.get(f"/api/v1/regions/{region}/pages/{page}/similar", query_string=query)


def test_similar_finds_the_same_page_in_another_region_with_reasons(client, content):
    response = similar(client, "beta", "wohnsitz")

    assert response.status_code == 200
    body = response.get_json()
    assert (body["region"], body["external_id"], body["language"]) == ("beta", "wohnsitz", "de")
    assert body["license"]["name"] == "CC BY 4.0"
    top = body["items"][0]
    assert (top["region"], top["external_id"], top["language"]) == ("alpha", "anmeldung", "de")
    assert top["score"] > 0.5
    assert top["reason"]["shared_text_ratio"] > 0.8
    assert "text" in top["reason"]["signals"]
    assert set(top["reason"]) >= {
        "shared_text_ratio",
        "embedding_similarity",
        "title_similarity",
        "signals",
    }
    # The reuse opportunity: alpha has English and Arabic, beta only German.
    assert top["missing_languages"] == ["ar", "en"]
    assert top["license"]["attribution"] == "Alpha County — shared under CC BY 4.0"
    # Only pages of other regions, never the page itself or its own region.
    assert all(item["region"] != "beta" for item in body["items"])


def test_similar_from_the_other_side_has_nothing_missing(client, content):
    body = similar(client, "alpha", "anmeldung").get_json()

    assert [(i["region"], i["external_id"]) for i in body["items"]] == [("beta", "wohnsitz")]
    assert body["items"][0]["missing_languages"] == []


def test_similar_cross_lingual_flag_limits_matches_to_the_query_language(client, content):
    across = similar(client, "beta", "wohnsitz", min_score=0.0, limit=100).get_json()
    same = similar(
        client, "beta", "wohnsitz", min_score=0.0, limit=100, cross_lingual="false"
    ).get_json()

    assert {m["language"] for i in same["items"] for m in i["matched_languages"]} == {"de"}
    assert len(across["items"]) >= len(same["items"])


def test_similar_regions_filter_accepts_comma_list_and_repeats(client, content, make_token):
    token = make_token("admin", None)
    client.post(
        "/api/v1/regions",
        json={"slug": "gamma", "name": "Gamma", "kind": "city"},
        headers=bearer(token),
    )
    push(client, token, "gamma", "melden", "de", title="Anmeldung", content=REGISTRATION_DE)

    both = similar(client, "beta", "wohnsitz", regions="alpha,gamma").get_json()
    repeated = client.get(
        "/api/v1/regions/beta/pages/wohnsitz/similar?regions=alpha&regions=gamma"
    ).get_json()
    only_gamma = similar(client, "beta", "wohnsitz", regions="gamma").get_json()

    assert {i["region"] for i in both["items"]} == {"alpha", "gamma"}
    assert repeated["items"] == both["items"]
    assert {i["region"] for i in only_gamma["items"]} == {"gamma"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"min_score": 1.5}, "min_score"),
        ({"min_score": -0.1}, "min_score"),
        ({"regions": "Not A Slug"}, "regions"),
        ({"cross_lingual": "maybe"}, "cross_lingual"),
    ],
)
def test_similar_rejects_bad_query_parameters(client, content, query, field):
    response = similar(client, "beta", "wohnsitz", **query)

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert any(field in key for key in response.get_json()["errors"])


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/v1/regions/nowhere/pages/wohnsitz/similar", {}),
        ("/api/v1/regions/beta/pages/missing/similar", {}),
        ("/api/v1/regions/beta/pages/wohnsitz/similar", {"language": "fa"}),
        ("/api/v1/regions/beta/pages/wohnsitz/similar", {"regions": "nowhere"}),
    ],
)
def test_similar_answers_404_for_unknown_things(client, content, path, query):
    response = client.get(path, query_string=query)

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_drafts_are_never_matched_or_queried(client, content):
    push(
        client,
        content["beta"],
        "beta",
        "entwurf",
        "de",
        title="Deutschkurse",
        content=COURSES_DE,
        status="draft",
    )

    from_alpha = similar(client, "alpha", "kurse", min_score=0.0, limit=100).get_json()
    of_draft = similar(client, "beta", "entwurf")

    assert "entwurf" not in {i["external_id"] for i in from_alpha["items"]}
    assert of_draft.status_code == 404


def test_a_new_public_version_replaces_the_old_one_in_the_index(client, content):
    push(client, content["beta"], "beta", "arzt", "de", title="Deutschkurse", content=COURSES_DE)

    body = similar(client, "alpha", "kurse").get_json()

    assert [(i["region"], i["external_id"]) for i in body["items"]] == [("beta", "arzt")]


def test_overlap_report_adds_up(client, content):
    response = client.get("/api/v1/regions/beta/overlap/alpha")

    assert response.status_code == 200
    body = response.get_json()
    assert (body["region_a"], body["region_b"]) == ("beta", "alpha")
    assert (body["pages_a"], body["pages_b"]) == (2, 2)
    assert body["matched_pages"] == len(body["pairs"]) == 1
    pair = body["pairs"][0]
    assert (pair["external_id_a"], pair["external_id_b"]) == ("wohnsitz", "anmeldung")
    assert body["shared_topics"] == ["Wohnsitz anmelden"]
    assert body["missing_by_language"] == {"ar": 1, "en": 1}
    assert (
        body["missing_translations_available"]
        == 2
        == sum(len(p["missing_languages"]) for p in body["pairs"])
    )
    assert body["license_b"]["name"] == "CC BY 4.0"


def test_overlap_of_a_region_with_itself_is_refused(client, content):
    response = client.get("/api/v1/regions/beta/overlap/beta")

    assert response.status_code == 422
    assert client.get("/api/v1/regions/beta/overlap/nowhere").status_code == 404


class CountingEncoder(FakeEncoder):
    """The fake encoder, counting texts; dim 32 keeps its cache apart from the app's (64)."""

    def __init__(self, dim: int = 32) -> None:
        super().__init__(dim)
        self.encoded = 0

    def encode_queries(self, texts):
        self.encoded += len(texts)
        return super().encode_queries(texts)


def test_unchanged_text_is_never_encoded_twice(app, client, content):
    encoder = CountingEncoder()
    with app.app_context():
        ids = similarity.latest_public_ids(db.session)
        first = similarity.embed_pages(db.session, encoder, ids)
        second = similarity.embed_pages(db.session, encoder, ids)

    assert first.encoded == len(ids) == 6
    assert encoder.encoded == 12  # the 6 page texts and their 6 titles (title vectors)
    assert (second.encoded, second.cached) == (0, 6)
    assert encoder.encoded == 12


def test_pushed_pages_were_embedded_by_their_jobs(app, client, content):
    encoder = CountingEncoder(64)  # the app's fake encoder: same name, same cache rows
    with app.app_context():
        report = similarity.embed_pages(
            db.session, encoder, similarity.latest_public_ids(db.session)
        )

    assert (report.translations, report.cached, report.encoded) == (6, 6, 0)
    assert encoder.encoded == 0


def test_identical_text_in_two_regions_is_encoded_once(app, client, make_token):
    alpha, beta = make_token("cms", "alpha"), make_token("cms", "beta")
    push(client, alpha, "alpha", "x", "de", title="Arzt", content=DOCTOR_DE)
    push(client, beta, "beta", "y", "de", title="Arzt", content=DOCTOR_DE)
    encoder = CountingEncoder()
    with app.app_context():
        report = similarity.embed_pages(
            db.session, encoder, similarity.latest_public_ids(db.session)
        )

    assert (report.translations, report.encoded) == (2, 1)


def test_drafts_and_old_versions_are_not_embedded(app, client, content):
    push(client, content["beta"], "beta", "arzt", "de", title="Arzt", content="<p>neu</p>")
    push(client, content["beta"], "beta", "arzt", "de", title="A", content="x", status="draft")
    with app.app_context():
        every_id = [i for (i,) in db.session.execute(db.text("SELECT id FROM page_translation"))]
        report = similarity.embed_pages(db.session, CountingEncoder(), every_id)

    assert report.translations == 6
    assert report.skipped == 2
