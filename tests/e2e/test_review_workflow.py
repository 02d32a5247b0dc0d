# ruff: noqa: F811 — the fixtures of test_review_ui.py, imported by name
"""The review workflow in headless Chromium: titles, the current translation, progress, undo,
batch accept, filters, the page tree, pre-translating the region from the pages view (also
watched while it runs in the job thread), the leverage job, the reuse confirmation.

Same app, server and content as tests/e2e/test_review_ui.py. `TM_SCREENSHOT_DIR=docs` saves
the screenshots of the docs (review queue, pages view, pre-translation job).
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import func, select
from werkzeug.serving import make_server

from memory.models import Language, PageTranslation, TranslationStatus
from memory.models import Page as StoredPage
from memory.review_models import Suggestion, SuggestionStatus
from memory.services import suggestions as suggestion_service
from memory.similarity_models import Job, JobState
from memory.tm_models import TranslationUnit
from tests.conftest import bearer, copy_of_seeded_app
from tests.e2e.test_review_ui import (  # noqa: F401 — fixtures
    ALPHA_DE,
    BETA_AR,
    BETA_DE,
    BETA_EN,
    app,
    browser,
    content,
    issue,
    page,
    queue,
    segment,
    server,
    sign_in,
    stored,
)
from tm_service.extensions import db

pytestmark = pytest.mark.browser


def screenshot(page: Page, name: str) -> None:
    shots = os.environ.get("TM_SCREENSHOT_DIR")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(shots) / name), full_page=True)


def statuses(app: Flask, language: str) -> dict[str, str]:
    with app.app_context():
        rows = db.session.execute(
            select(Suggestion.source_text, Suggestion.status)
            .join(Language, Language.id == Suggestion.target_language_id)
            .where(Language.code == language)
        ).all()
        return {text: status.value for text, status in rows}


def test_the_queue_shows_titles_the_current_translation_neighbours_and_progress(
    app, server, page, content
):
    token = issue(app, "translator", name="Tina Translator")
    queue(app, token, "a1", "en")
    queue(app, token, "a2", "en")
    sign_in(page, server, token)

    page.goto(f"{server}/ui/review?language=en")

    phone = segment(page, "Termin unter")
    expect(phone.locator(".page-link")).to_have_text("Beratung")  # the title, not "a1"
    expect(phone.locator(".page-progress")).to_have_text("0 of 5 done")
    expect(phone.locator(".neighbour.before")).to_contain_text("Die Beratung ist kostenlos.")
    expect(phone.locator(".neighbour.after")).to_contain_text("Bringen Sie Ihren Pass mit.")
    expect(phone.locator(".current-translation")).to_contain_text("not translated yet")
    # a2 is published in English: its own sentence is shown as the current translation.
    own = page.locator(".segment").filter(has=page.locator(".page-link", has_text="Unterlagen"))
    passport = own.filter(has=page.locator(".source-text", has_text="Bringen Sie"))
    expect(passport.locator(".current-translation")).to_contain_text("Bring your passport.")
    expect(page.locator(".progress-text")).to_have_text("0 of 7 done in English")
    screenshot(page, "review-queue.png")


def test_undo_puts_the_last_decision_back_and_takes_its_unit_out_of_the_memory(
    app, server, page, content
):
    token = issue(app, "translator", name="Tina Translator")
    queue(app, token, "a1", "en")
    sign_in(page, server, token)
    page.goto(f"{server}/ui/review?language=en")
    decided = int(page.locator(".segment.current").get_attribute("data-id") or 0)

    with page.expect_navigation():
        page.keyboard.press("a")
    expect(page.locator(".last-decision")).to_contain_text("Accepted")
    expect(page.locator(".last-decision").get_by_role("button", name="Undo")).to_be_visible()
    accepted, _, unit = stored(app, decided)
    assert accepted.status is SuggestionStatus.ACCEPTED and unit is not None

    with page.expect_navigation():
        page.keyboard.press("u")

    expect(page.locator(".flash-success")).to_contain_text("Undone")
    expect(page.locator(f"#s-{decided}")).to_have_count(1)  # back in the queue
    expect(page.locator(".last-decision")).to_have_count(0)
    suggestion, reviews, _ = stored(app, decided)
    assert suggestion.status is SuggestionStatus.PENDING and suggestion.final_text is None
    assert [(r.decision.value, r.undone_by) for r in reviews] == [("accept", "Tina Translator")]
    with app.app_context():
        assert db.session.get(TranslationUnit, unit.id) is None


def test_batch_accept_takes_every_clean_100_percent_human_match_after_one_confirmation(
    app, server, page, content
):
    token = issue(app, "translator", name="Tina Translator")
    queue(app, token, "a1", "en")
    sign_in(page, server, token)
    page.goto(f"{server}/ui/review?language=en")
    before = statuses(app, "en")

    batch = page.locator(".batch-form button")
    # The title and two sentences are the same source as beta's published ones; the phone
    # sentence is only "100" with alpha's number put in: not taken without a look.
    expect(batch).to_have_text("Accept all 100/101 % human matches (3)…")
    batch.click()
    confirm = page.locator("#batch-confirm")
    expect(confirm).to_contain_text("Accept 3 segments with a 100/101 % human match?")
    expect(confirm.locator(".batch-list li")).to_have_count(3)
    expect(confirm.locator(".batch-list")).to_contain_text("Bring your passport.")
    assert statuses(app, "en") == before  # nothing decided before the confirmation
    confirm.get_by_role("button", name="Accept all 3").click()

    expect(page.locator(".flash-success")).to_contain_text("Accepted 3 segments")
    after = statuses(app, "en")
    assert [after.pop(text) for text in ("Beratung", "Die Beratung ist kostenlos.")] == [
        "accepted",
        "accepted",
    ]
    assert after.pop("Bringen Sie Ihren Pass mit.") == "accepted"
    assert set(after.values()) == {"pending"}  # the phone sentence and the unmatched one wait
    expect(page.locator(".segment .source-text")).to_have_count(2)


def test_filters_and_search_in_the_queue_and_the_pages_view_and_the_page_tree(
    app, server, page, content
):
    token = issue(app, "editor", name="Eda Editor")
    # a3 is a child page of a2.
    response = app.test_client().put(
        "/api/v1/regions/alpha/pages/a3/translations/de",
        json={
            "title": "Pass verloren",
            "content": "<p>Melden Sie den Verlust.</p>",
            "parent": "a2",
        },
        headers=bearer(issue(app, "cms", "alpha")),
    )
    assert response.status_code == 201, response.json
    queue(app, token, "a1", "en")
    sign_in(page, server, token)
    page.goto(f"{server}/ui/review?language=en")

    page.get_by_label("Show").select_option("none")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".segment .source-text")).to_have_text(
        ["Parkplätze gibt es hinter dem Rathaus am Marktplatz."]
    )
    page.get_by_label("Show").select_option("all")
    page.get_by_label("Search the source and the candidates").fill("passport")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".segment .source-text")).to_have_text(["Bringen Sie Ihren Pass mit."])

    page.goto(f"{server}/ui/pages")
    rows = page.locator(".pages-table tbody tr")
    expect(rows.locator(".page-title a")).to_have_text(["Beratung", "Unterlagen", "Pass verloren"])
    expect(rows.nth(2)).to_have_class(re.compile("depth-1"))  # under its parent
    screenshot(page, "pages-view.png")
    page.get_by_label("Search titles").fill("unterl")
    page.locator(".pages-filters").get_by_role("button", name="Filter").click()
    expect(rows.locator(".page-title a")).to_have_text(["Unterlagen"])
    page.get_by_label("Search titles").fill("")
    page.locator("#pages-language").select_option("en")
    page.get_by_label("state").select_option("missing")
    page.locator(".pages-filters").get_by_role("button", name="Filter").click()
    expect(rows.locator(".page-title a")).to_have_text(["Beratung", "Pass verloren"])


def test_an_editor_pretranslates_the_region_from_the_pages_view_and_follows_its_progress(
    app, server, page, content
):
    token = issue(app, "editor", name="Eda Editor")
    sign_in(page, server, token)
    page.goto(f"{server}/ui/pages")

    form = page.locator(".pretranslate-form")
    form.get_by_label("Pre-translate every page that lacks").select_option("fa")
    form.get_by_role("button", name="Pre-translate").click()

    expect(page.locator("h1")).to_contain_text(
        re.compile(r"Pre-translation into (Persian|Farsi|fa)")
    )
    expect(page.locator(".job-state")).to_have_text("finished")
    expect(page.locator(".progress-text")).to_contain_text("2 of 2 pages (100 %)")
    expect(page.locator("progress")).to_have_attribute("value", "2")
    expect(page.locator(".job-result")).to_contain_text("Drafts stored")
    screenshot(page, "pretranslation-job.png")
    with app.app_context():
        job = db.session.scalars(select(Job).where(Job.kind == "pretranslate")).one()
        assert job.state is JobState.FINISHED and job.params["actor"]["name"] == "Eda Editor"
        farsi = select(Language.id).where(Language.code == "fa").scalar_subquery()
        drafts = db.session.scalars(
            select(PageTranslation.status).where(PageTranslation.language_id == farsi)
        ).all()
        assert drafts == [TranslationStatus.DRAFT, TranslationStatus.DRAFT]

    page.get_by_role("link", name="Open the fa review queue").click()
    expect(page.locator(".language-picker .pill.active")).to_contain_text("fa")
    with app.app_context():
        queued = db.session.scalar(
            select(func.count(Suggestion.id)).where(Suggestion.target_language_id == farsi)
        )
    assert queued > 2
    expect(page.locator(".segment")).to_have_count(queued)
    page.goto(f"{server}/ui/pages")
    expect(page.locator(".job-line")).to_contain_text("finished 2 of 2")


def test_the_reuse_confirmation_warns_when_the_page_is_a_duplicate_with_nothing_to_gain(
    app, server, page, content
):
    cms = issue(app, "cms", "alpha")
    client = app.test_client()
    for language, title, body in (
        ("de", "Beratung", ALPHA_DE),
        ("en", "Counselling", BETA_EN),
        ("ar", "استشارة", BETA_AR),
    ):
        response = client.put(
            f"/api/v1/regions/alpha/pages/a1/translations/{language}",
            json={"title": title, "content": body},
            headers=bearer(cms),
        )
        assert response.status_code in (200, 201), response.json
    sign_in(page, server, issue(app, "editor", name="Eda Editor"))
    page.goto(f"{server}/ui/pages/a1")

    page.locator(".similar-table tr", has_text="Beta City").get_by_role(
        "button", name="Start from this page…"
    ).click()

    expect(page.locator(".nothing-to-gain")).to_contain_text("Nothing to gain")
    expect(page.locator(".nothing-to-gain")).to_contain_text("already has ar, de, en")
    expect(page.get_by_role("button", name="Copy anyway")).to_be_visible()
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count(StoredPage.id)).where(StoredPage.derived_from_id.is_not(None))
            )
            == 0
        )
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(f"{server}/ui/pages/a1")


def test_a_reused_page_shows_the_upstream_change_as_a_sentence_diff(app, server, page, content):
    editor = issue(app, "editor", name="Eda Editor")
    reused = app.test_client().post(
        "/api/v1/regions/alpha/pages/reuse",
        json={"from_region": "beta", "from_page": "b1", "languages": ["de", "en"]},
        headers=bearer(editor),
    )
    assert reused.status_code == 201, reused.json
    changed = BETA_DE.replace(
        "Bringen Sie Ihren Pass mit.", "Bringen Sie Ihren Pass und die Meldebescheinigung mit."
    )
    response = app.test_client().put(
        "/api/v1/regions/beta/pages/b1/translations/de",
        json={"title": "Beratung", "content": changed},
        headers=bearer(issue(app, "cms", "beta")),
    )
    assert response.status_code == 201, response.json
    sign_in(page, server, editor)

    page.goto(f"{server}/ui/pages/{reused.json['external_id']}")

    upstream = page.locator(".upstream li", has_text="de:")
    expect(upstream).to_contain_text("changed upstream")
    expect(upstream.locator("ins")).to_contain_text("Meldebescheinigung")
    expect(upstream.locator("del")).to_contain_text("Bringen Sie Ihren Pass mit.")
    expect(page.locator(".specifics").first).to_contain_text("0821 3102-0")  # listed on the page
    screenshot(page, "upstream-diff.png")


def test_the_leverage_report_runs_as_a_job_from_the_pages_view(app, server, page, content):
    sign_in(page, server, issue(app, "translator", name="Tina Translator"))
    page.goto(f"{server}/ui/pages")

    form = page.locator(".leverage-form")
    form.get_by_label("Leverage report for").select_option("en")
    form.get_by_role("button", name="Count matches").click()

    expect(page.locator("h1")).to_contain_text("Leverage report (English)")
    expect(page.locator(".job-state")).to_have_text("finished")
    table = page.locator(".leverage-table")
    expect(table.locator("thead th")).to_contain_text(["language", "pages", "words", "101", "100"])
    english = table.locator("tbody tr").first
    expect(english.locator("th")).to_have_text("en")
    expect(english.locator("td").nth(0)).to_have_text("1")  # a1 lacks English
    screenshot(page, "leverage-job.png")


def test_a_candidate_reads_as_match_and_trust(app, server, page, content):
    """The picture of docs/review-ui.md#how-to-read-a-score: one candidate's badges."""
    token = issue(app, "translator", name="Tina Translator")
    queue(app, token, "a1", "en")
    sign_in(page, server, token)
    page.goto(f"{server}/ui/review?language=en")

    candidate = segment(page, "Termin unter").locator(".candidate").first
    expect(candidate.locator(".score")).to_have_text("101 %")
    expect(candidate.locator(".trust")).to_have_text("approved · other region")
    expect(candidate.locator(".penalty").first).to_have_text("−1 other region")
    shots = os.environ.get("TM_SCREENSHOT_DIR")
    if shots:
        candidate.screenshot(path=str(Path(shots) / "score.png"))


@pytest.fixture
def threaded_app(tmp_path, seeded_database, monkeypatch):
    """The app as `tm serve` runs it without Redis: jobs in this process's job thread, not in
    the request; each page of a pre-translation takes at least 0.4 s, so it can be watched."""
    real = suggestion_service.suggest_translations

    def slow(*args, **kwargs):
        time.sleep(0.4)
        return real(*args, **kwargs)

    monkeypatch.setattr(suggestion_service, "suggest_translations", slow)
    with copy_of_seeded_app(
        tmp_path,
        seeded_database,
        TESTING=False,
        INDEX_DIR="memory",
        SECRET_KEY="browser-test-secret-key-0123456789abcdef",
    ) as app:
        yield app


def test_the_job_page_shows_the_pretranslation_running_and_refreshes_until_it_is_done(
    threaded_app, browser, tmp_path
):
    app = threaded_app
    cms = issue(app, "cms", "alpha")
    client = app.test_client()
    for number in range(6):
        response = client.put(
            f"/api/v1/regions/alpha/pages/p{number}/translations/de",
            json={
                "title": f"Seite {number}",
                "content": f"<p>Bringen Sie Unterlagen {number} mit.</p>",
            },
            headers=bearer(cms),
        )
        assert response.status_code == 201, response.json
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    server = f"http://127.0.0.1:{http.server_port}"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    tab = context.new_page()
    try:
        sign_in(tab, server, issue(app, "editor", name="Eda Editor"))
        tab.goto(f"{server}/ui/pages")
        form = tab.locator(".pretranslate-form")
        form.get_by_label("Pre-translate every page that lacks").select_option("fa")
        form.get_by_role("button", name="Pre-translate").click()

        # The answer comes at once, while the job still runs in the background.
        expect(tab.locator(".job-state")).to_have_text(re.compile("queued|running"))
        expect(tab.locator(".job")).to_contain_text("refreshes itself")
        assert int(tab.locator("progress").get_attribute("value") or 0) < 6
        # Without a click, the page follows it to the end.
        expect(tab.locator(".job-state")).to_have_text("finished", timeout=60_000)
        expect(tab.locator(".progress-text")).to_contain_text("6 of 6 pages (100 %)")
        expect(tab.locator(".job-result")).to_contain_text("Drafts stored")
    finally:
        context.close()
        http.shutdown()
        thread.join(timeout=10)
        http.server_close()
