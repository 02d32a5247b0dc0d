"""The termbase in the review queue, in headless Chromium: a segment's term is highlighted in
its source text with the preferred target term, and a deprecated one is marked as such."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import expect

from memory.authorization import Actor
from memory.models import Role
from memory.services.regions import save_language, update_region
from tests.conftest import bearer, copy_of_seeded_app
from tests.e2e import test_review_ui as review_ui
from tests.e2e.test_review_ui import issue, segment, sign_in
from tm_service.demo import load_starter_termbase
from tm_service.extensions import db

pytestmark = pytest.mark.browser
# The review UI tests' browser, HTTP server and tab (the server serves this module's app).
browser, server, page = review_ui.browser, review_ui.server, review_ui.page
ADMIN = Actor(role=Role.ADMIN, region_slug=None)
DE = (
    "<p>Arbeitslosengeld II beantragen Sie beim Jobcenter.</p>"
    "<p>Das Bürgergeld wird monatlich gezahlt.</p>"
)
EN = (
    "<p>You apply for unemployment benefit II at the Jobcenter.</p>"
    "<p>The citizen's benefit is paid monthly.</p>"
)


@pytest.fixture
def app(tmp_path: Path, seeded_database: Path) -> Iterator[Flask]:
    with copy_of_seeded_app(
        tmp_path, seeded_database, SECRET_KEY="browser-test-secret-key-0123456789abcdef"
    ) as app:
        with app.app_context():
            for code, name in (("de", "German"), ("en", "English")):
                save_language(db.session, ADMIN, code, {"name": name, "english_name": name})
            update_region(
                db.session,
                ADMIN,
                "beta",
                {"languages": [{"code": "de"}, {"code": "en", "parent": "de"}]},
            )
            db.session.commit()
            load_starter_termbase(db.session)
        client = app.test_client()
        beta, alpha = issue(app, "cms", "beta"), issue(app, "cms", "alpha")
        for token, region, language, body in (
            (beta, "beta", "de", DE),
            (beta, "beta", "en", EN),
            (alpha, "alpha", "de", DE),
        ):
            response = client.put(
                f"/api/v1/regions/{region}/pages/p1/translations/{language}",
                json={"title": "Leistungen", "content": body},
                headers=bearer(token),
            )
            assert response.status_code == 201, response.json
        response = client.post(
            "/api/v1/regions/alpha/suggestions",
            json={"page": "p1", "target_language": "en"},
            headers=bearer(alpha),
        )
        assert response.status_code == 200, response.json
        yield app


def test_a_term_is_highlighted_in_the_review_queue_with_its_preferred_target(app, server, page):
    sign_in(page, server, issue(app, "translator"))
    page.goto(f"{server}/ui/review?language=en")

    new = segment(page, "Das Bürgergeld")
    term = new.locator(".source-text mark.term")
    expect(term).to_have_text("Bürgergeld")
    expect(term).to_have_attribute("title", "Bürgergeld → citizen's benefit")
    terms = new.locator(".segment-terms")
    expect(terms.locator(".term-source")).to_have_text("Bürgergeld")
    expect(terms.locator(".term-preferred")).to_have_text("citizen's benefit")

    old = segment(page, "Arbeitslosengeld II beantragen")
    deprecated = old.locator(".source-text mark.term-deprecated")
    expect(deprecated).to_have_text("Arbeitslosengeld II")
    expect(old.locator(".segment-terms li").first).to_contain_text("deprecated")
    expect(old.locator(".segment-terms li").first).to_contain_text("citizen's benefit")
    expect(old.locator(".segment-terms li").first).to_contain_text("not unemployment benefit II")
    # Its candidate keeps the old English term: the terminology check says so.
    expect(old.locator(".candidate").first).to_contain_text("is a deprecated term")
