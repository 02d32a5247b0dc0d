"""Concurrent pushes of one page translation on PostgreSQL: no lost update, dense versions.

24 threads, each with its own test client (so its own request context and database session),
push their own content of the same page translation at the same moment. Half send the ETag they
read as If-Match, half send none. Every 201 must survive with its content, the versions must be
1..N without gaps or duplicates, and a refusal may only be a documented 409 (a concurrent write
won: the thread retries) or 412 (its If-Match went stale: the thread reads again and retries).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from memory.authorization import Actor
from memory.models import Page, PageTranslation, Role
from memory.services import tokens as token_service
from memory.services.regions import create_region, ensure_language
from tests.conftest import bearer
from tm_service import create_app
from tm_service.extensions import db

pytestmark = pytest.mark.postgres

WRITERS = 24
MAX_ATTEMPTS = 50
URL = "/api/v1/regions/alpha/pages/{page}/translations/de"


@pytest.fixture
def pg_app(postgres_url):
    app = create_app({"TESTING": True, "DATABASE_URL": postgres_url, "EMBEDDING_MODEL": "fake"})
    with app.app_context():
        upgrade()
        admin = Actor(role=Role.ADMIN, region_slug=None)
        for code in ("de", "en"):
            ensure_language(db.session, code)
        db.session.commit()
        create_region(
            db.session,
            admin,
            {"slug": "alpha", "name": "Alpha County", "languages": [{"code": "de"}]},
        )
        token = token_service.create_token(
            db.session, None, role=Role.CMS, region_slug="alpha"
        ).plaintext
    yield app, token
    with app.app_context():
        db.engine.dispose()


def _writer(app, token: str, page: str, number: int, barrier: threading.Barrier) -> dict:
    """Push this writer's own content until it is stored; record every status seen."""
    client = app.test_client()
    headers = bearer(token)
    body = {"title": f"Anmeldung {number}", "content": f"<p>Fassung von Schreiber {number}.</p>"}
    use_if_match = number % 2 == 0
    statuses: list[int] = []
    barrier.wait()
    for _ in range(MAX_ATTEMPTS):
        extra = {}
        if use_if_match:
            read = client.get(URL.format(page=page), headers=headers)
            assert read.status_code == 200, read.get_data(as_text=True)
            extra = {"If-Match": read.headers["ETag"]}
        response = client.put(URL.format(page=page), json=body, headers={**headers, **extra})
        statuses.append(response.status_code)
        if response.status_code == 201:
            return {"number": number, "statuses": statuses, "stored": response.json, "body": body}
        # Only the documented refusals: 409 (lost the race for the version number, retry) and
        # 412 (the version read is no longer the latest, read again and retry).
        assert response.status_code in (409, 412), response.get_data(as_text=True)
        assert response.headers["Content-Type"] == "application/problem+json"
        if response.status_code == 412:
            assert use_if_match, "412 without If-Match"
    raise AssertionError(f"writer {number} never got its version stored: {statuses}")


def _stored_versions(app, page: str) -> list[PageTranslation]:
    with app.app_context():
        page_id = db.session.scalar(select(Page.id).where(Page.external_id == page))
        rows = db.session.scalars(
            select(PageTranslation)
            .where(PageTranslation.page_id == page_id)
            .order_by(PageTranslation.version)
        ).all()
        db.session.expunge_all()
        return list(rows)


def _race(app, token: str, page: str) -> list[dict]:
    barrier = threading.Barrier(WRITERS)
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        futures = [
            pool.submit(_writer, app, token, page, number, barrier) for number in range(WRITERS)
        ]
        return [future.result(timeout=120) for future in futures]


def _assert_no_lost_update(app, page: str, results: list[dict], first_versions: int) -> None:
    versions = _stored_versions(app, page)
    numbers = [version.version for version in versions]
    # Dense 1..N: no gaps, no duplicates.
    assert numbers == list(range(1, len(versions) + 1))
    assert len(versions) == first_versions + WRITERS
    by_version = {version.version: version for version in versions}
    for result in results:
        stored = by_version[result["stored"]["version"]]
        assert stored.title == result["body"]["title"]
        assert stored.content == result["body"]["content"]
    # Each 201 got its own version.
    assert len({result["stored"]["version"] for result in results}) == WRITERS
    # The latest stored version is the one the highest 201 answered with.
    winner = max(results, key=lambda result: result["stored"]["version"])
    client = app.test_client()
    latest = client.get(URL.format(page=page)).json
    assert latest["version"] == versions[-1].version == winner["stored"]["version"]
    assert latest["content"] == winner["body"]["content"]


def test_concurrent_pushes_to_an_existing_translation_lose_no_update(pg_app):
    app, token = pg_app
    client = app.test_client()
    first = client.put(URL.format(page="100"), json={"title": "Anmeldung"}, headers=bearer(token))
    assert first.status_code == 201

    results = _race(app, token, "100")

    _assert_no_lost_update(app, "100", results, first_versions=1)
    conflicts = sum(result["statuses"].count(409) for result in results)
    stale = sum(result["statuses"].count(412) for result in results)
    print(f"{WRITERS} writers: {conflicts} x 409, {stale} x 412 before success")


def test_concurrent_first_pushes_of_a_new_page_lose_no_update(pg_app):
    """The page row does not exist yet: the writers also race to create it."""
    app, token = pg_app
    barrier = threading.Barrier(WRITERS)

    def first_push(number: int) -> dict:
        # Without If-Match: the page does not exist, so there is no ETag to send.
        client = app.test_client()
        body = {"title": f"Neu {number}", "content": f"<p>Erste Fassung {number}.</p>"}
        statuses = []
        barrier.wait()
        for _ in range(MAX_ATTEMPTS):
            response = client.put(URL.format(page="200"), json=body, headers=bearer(token))
            statuses.append(response.status_code)
            if response.status_code == 201:
                return {"statuses": statuses, "stored": response.json, "body": body}
            assert response.status_code == 409, response.get_data(as_text=True)
        raise AssertionError(f"writer {number} never got its version stored: {statuses}")

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        results = list(pool.map(first_push, range(WRITERS), timeout=120))

    _assert_no_lost_update(app, "200", results, first_versions=0)
