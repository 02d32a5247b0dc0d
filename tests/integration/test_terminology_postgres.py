"""The termbase on PostgreSQL (schema by migrations): a TBX import twice, a bad file leaving
nothing, term search, recognition, the report and a push warning."""

from __future__ import annotations

import threading

import pytest
from flask_migrate import upgrade

from memory.models import Role
from memory.services import tokens as token_service
from tests.conftest import bearer, seed_regions
from tm_service import create_app
from tm_service.demo import DEMO_DIR
from tm_service.extensions import db

pytestmark = pytest.mark.postgres
STARTER = (DEMO_DIR / "terminology_starter.tbx").read_bytes()
TBX = "application/x-tbx+xml"


@pytest.fixture
def pg(postgres_url):
    app = create_app({"TESTING": True, "DATABASE_URL": postgres_url, "EMBEDDING_MODEL": "fake"})
    with app.app_context():
        upgrade()
    seed_regions(app)
    with app.app_context():
        admin = token_service.create_token(db.session, None, role=Role.ADMIN, region_slug=None)
        cms = token_service.create_token(db.session, None, role=Role.CMS, region_slug="alpha")
    yield app.test_client(), bearer(admin.plaintext), bearer(cms.plaintext)
    with app.app_context():
        db.engine.dispose()


def test_the_termbase_works_on_postgresql(pg):
    client, admin, cms = pg
    broken = STARTER.replace(b'xml:lang="en"', b'xml:lang="nope-"', 1)
    refused = client.post(
        "/api/v1/terminology/import", data=broken, content_type=TBX, headers=admin
    )
    assert refused.status_code == 422
    assert client.get("/api/v1/terminology/concepts").json["total"] == 0

    first = client.post("/api/v1/terminology/import", data=STARTER, content_type=TBX, headers=admin)
    assert first.status_code == 200 and first.json["created"] == 5, first.json
    again = client.post("/api/v1/terminology/import", data=STARTER, content_type=TBX, headers=admin)
    assert again.json["unchanged"] == 5
    found = client.get(
        "/api/v1/terminology/concepts", query_string={"q": "hartz", "language": "de"}
    )
    assert [c["key"] for c in found.json["items"]] == ["buergergeld"]

    recognized = client.post(
        "/api/v1/terminology/recognize",
        json={"text": "Ihr Bürgergeldantrag", "source_language": "de", "target_language": "en"},
    )
    assert [t["term"] for t in recognized.json["terms"]] == ["Bürgergeld"]

    pushed = client.put(
        "/api/v1/regions/alpha/pages/p1/translations/de",
        json={"title": "Geld", "content": "<p>Hartz IV gibt es nicht mehr.</p>"},
        headers=cms,
    )
    assert pushed.status_code == 201
    assert [w["term"] for w in pushed.json["terminology_warnings"]] == ["Hartz IV"]
    report = client.get("/api/v1/terminology/deprecated-terms").json
    assert report["regions"][0]["region"] == "alpha"
    assert report["regions"][0]["terms"] == {"Hartz IV": 1}


def test_two_imports_of_one_file_at_once_store_it_once(pg):
    client, admin, _ = pg
    app = client.application
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def run() -> None:
        own = app.test_client()
        barrier.wait()
        response = own.post(
            "/api/v1/terminology/import", data=STARTER, content_type=TBX, headers=admin
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) in ([200, 200], [200, 409]), statuses
    listed = client.get("/api/v1/terminology/concepts").json
    assert listed["total"] == 5
    assert sum(len(c["terms"]) for c in listed["items"]) == 22
