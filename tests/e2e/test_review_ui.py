"""The review UI end to end in headless Chromium: sign in, review with the keyboard, see it stored.

The real app is served over HTTP from a thread on a copy of the seeded SQLite database; Debian's
Chromium is driven through Playwright (`.ci/run` installs it; a missing browser fails the test).
`TM_SCREENSHOT_DIR=docs` saves the pictures of the docs: the review page (`docs/review-ui.png`),
similar pages and the reuse confirmation (and test_review_workflow.py's).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select
from werkzeug.serving import make_server

from memory.authorization import Actor
from memory.models import ApiToken, Role
from memory.review_models import SuggestionReview, SuggestionStatus
from memory.services import suggestions as suggestion_service
from memory.services import tokens as token_service
from memory.services.regions import create_region, save_language, update_region
from memory.tm_models import TranslationUnit
from tests.conftest import bearer, copy_of_seeded_app
from tm_service.extensions import db

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN = Actor(role=Role.ADMIN, region_slug=None)

BETA_DE = (
    "<p>Die Beratung ist kostenlos. Termin unter: <b>0821 3102-0</b>.</p>"
    "<p>Bringen Sie Ihren Pass mit.</p>"
)
BETA_EN = (
    "<p>The counselling is free of charge. Appointments at: <b>0821 3102-0</b>.</p>"
    "<p>Bring your passport.</p>"
)
BETA_AR = "<p>الاستشارة مجانية. المواعيد على الرقم: <b>0821 3102-0</b>.</p><p>أحضر جواز سفرك.</p>"
# Gamma says it in other words: fuzzy candidates with a lower score.
GAMMA_DE = "<p>Die Beratung ist für Sie kostenlos. Bitte bringen Sie Ihren Pass mit.</p>"
GAMMA_EN = "<p>The advice is free for you. Please bring your passport.</p>"
# Alpha wrote nearly the same page: its own phone number, one sentence of its own.
ALPHA_DE = (
    "<p>Die Beratung ist kostenlos. Termin unter: <b>07151 501-0</b>.</p>"
    "<p>Bringen Sie Ihren Pass mit.</p>"
    "<p>Parkplätze gibt es hinter dem Rathaus am Marktplatz.</p>"
)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install chromium`; "
            ".ci/run does). Never `playwright install`: there is no internet here."
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def app(tmp_path: Path, seeded_database: Path) -> Iterator[Flask]:
    with copy_of_seeded_app(
        tmp_path,
        seeded_database,
        SIMILARITY_REFRESH_INTERVAL=0,
        SECRET_KEY="browser-test-secret-key-0123456789abcdef",
    ) as app:
        yield app


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    """The app over real HTTP on a free port."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join(timeout=10)
    http.server_close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


def issue(app: Flask, role: str, region: str | None = "alpha", name: str = "") -> str:
    with app.app_context():
        return token_service.create_token(
            db.session, None, role=Role(role), region_slug=region, name=name
        ).plaintext


@pytest.fixture
def content(app: Flask) -> None:
    """Beta translated its page b1 into English and Arabic, gamma a page in other words; alpha
    has the German near-copy a1 and a short page a2 in German and English (Arabic is translated
    from English there)."""
    with app.app_context():
        for code, name in (("de", "German"), ("en", "English"), ("ar", "Arabic")):
            save_language(db.session, ADMIN, code, {"name": name, "english_name": name})
        create_region(
            db.session,
            ADMIN,
            {
                "slug": "gamma",
                "name": "Gamma Town",
                "languages": [{"code": "de"}, {"code": "en", "parent": "de"}],
            },
        )
        update_region(
            db.session,
            ADMIN,
            "beta",
            {
                "languages": [
                    {"code": "de"},
                    {"code": "en", "parent": "de"},
                    {"code": "ar", "parent": "en"},
                ]
            },
        )
        db.session.commit()
    client = app.test_client()
    beta, alpha = issue(app, "cms", "beta"), issue(app, "cms", "alpha")
    gamma = issue(app, "cms", "gamma")
    pushes = [
        (gamma, "gamma", "g1", "de", "Beratung", GAMMA_DE),
        (gamma, "gamma", "g1", "en", "Advice", GAMMA_EN),
        (beta, "beta", "b1", "de", "Beratung", BETA_DE),
        (beta, "beta", "b1", "en", "Counselling", BETA_EN),
        (beta, "beta", "b1", "ar", "استشارة", BETA_AR),
        (alpha, "alpha", "a1", "de", "Beratung", ALPHA_DE),
        (alpha, "alpha", "a2", "de", "Unterlagen", "<p>Bringen Sie Ihren Pass mit.</p>"),
        (alpha, "alpha", "a2", "en", "Documents", "<p>Bring your passport.</p>"),
    ]
    for token, region, external_id, language, title, body in pushes:
        response = client.put(
            f"/api/v1/regions/{region}/pages/{external_id}/translations/{language}",
            json={"title": title, "content": body},
            headers=bearer(token),
        )
        assert response.status_code == 201, response.json


def queue(app: Flask, token: str, page: str, language: str) -> None:
    """Ask for suggestions the way the CMS does (they become the review queue)."""
    response = app.test_client().post(
        "/api/v1/regions/alpha/suggestions",
        json={"page": page, "target_language": language},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.json


def sign_in(page: Page, server: str, token: str) -> None:
    page.goto(f"{server}/ui/")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".flash-success")).to_contain_text("Signed in")


def screenshot_to_docs(page: Page, name: str) -> None:
    """Save a full-page screenshot as `name` under TM_SCREENSHOT_DIR (the docs' pictures)."""
    shots = os.environ.get("TM_SCREENSHOT_DIR")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(shots) / name), full_page=True)


def segment(page: Page, source: str):
    """The queued segment whose source text contains `source` (not a neighbour's)."""
    return page.locator(".segment").filter(has=page.locator(".source-text", has_text=source))


def current_segment_id(page: Page) -> int:
    return int(page.locator(".segment.current").get_attribute("data-id") or 0)


def stored(app: Flask, suggestion_id: int):
    with app.app_context():
        suggestion = suggestion_service.get_suggestion(db.session, ADMIN, suggestion_id)
        reviews = list(
            db.session.scalars(
                select(SuggestionReview).where(SuggestionReview.suggestion_id == suggestion_id)
            )
        )
        unit = db.session.get(TranslationUnit, suggestion.unit_id) if suggestion.unit_id else None
        db.session.expunge_all()
        return suggestion, reviews, unit


def token_id(app: Flask, plaintext: str) -> int:
    prefix = plaintext.split("_")[1]
    with app.app_context():
        return db.session.scalar(select(ApiToken.id).where(ApiToken.prefix == prefix))


# --------------------------------------------------------------------------- tests


def test_translator_signs_in_picks_english_and_accepts_a_segment_with_the_keyboard(
    app, server, page, content
):
    token = issue(app, "translator", name="Tina Translator")
    sign_in(page, server, token)

    # The pages view fills the queue: suggestions for a1 into English.
    main_nav = page.get_by_role("navigation", name="Main")
    main_nav.get_by_role("link", name="Pages").click()
    row = page.locator("tr", has_text="a1")
    row.get_by_label("Target language for a1").select_option("en")
    row.get_by_role("button", name="Get suggestions").click()
    expect(page.locator(".flash-success")).to_contain_text("wait for review in English")

    main_nav.get_by_role("link", name="Review queue").click()
    page.locator(".language-picker").get_by_role("link", name="English").click()
    first = page.locator(".segment").first
    expect(first.locator(".source-text")).to_have_text("Beratung")
    offered = first.locator(".candidate .target").first
    expect(offered).to_have_text(re.compile("Counselling|Advice"))
    offered_text = offered.inner_text()
    expect(first.locator(".score").first).to_contain_text("%")
    phone = segment(page, "Termin unter")
    expect(phone.locator(".candidate .target").first).to_contain_text("07151 501-0")
    expect(phone.locator(".diff del").first).to_have_text("0821 3102")
    expect(phone.locator(".diff ins").first).to_have_text("07151 501")
    expect(phone.locator(".penalty").first).to_contain_text("−")
    expect(phone.locator(".attribution").first).to_contain_text("CC BY 4.0")
    expect(segment(page, "Parkplätze")).to_contain_text("No suggestion")
    expect(page.locator(".legend")).to_contain_text("accept the picked candidate")
    # An identical source from a published human translation: a green 100, its trust beside it.
    passport = segment(page, "Bringen Sie").locator(".candidate").first
    expect(passport.locator(".score")).to_have_text("100 %")
    expect(passport.locator(".score")).to_have_class(re.compile("score-perfect"))
    expect(passport.locator(".trust")).to_have_text("approved")
    expect(page.locator(".legend")).to_contain_text("a region published it")

    shots = os.environ.get("TM_SCREENSHOT_DIR")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(shots) / "review-ui.png"), full_page=True)

    decided = current_segment_id(page)
    following = int(page.locator(".segment").nth(1).get_attribute("data-id") or 0)
    with page.expect_navigation():
        page.keyboard.press("a")
    expect(page.locator(".last-decision")).to_contain_text(f"Accepted: “{offered_text}”")
    expect(page.locator(f"#s-{decided}")).to_have_count(0)  # left the queue
    assert current_segment_id(page) == following  # focus moved on

    suggestion, reviews, unit = stored(app, decided)
    assert suggestion.status is SuggestionStatus.ACCEPTED
    assert suggestion.final_text == offered_text
    assert [(r.decision.value, r.actor_token_id, r.actor_name) for r in reviews] == [
        ("accept", token_id(app, token), "Tina Translator")
    ]
    assert unit is not None and unit.reviewed and unit.target_text == offered_text


def test_edit_with_the_keyboard_stores_the_translators_text(app, server, page, content):
    token = issue(app, "translator", name="Tina Translator")
    queue(app, token, "a1", "en")
    sign_in(page, server, token)
    page.goto(f"{server}/ui/review?language=en")

    page.keyboard.press("j")
    page.keyboard.press("j")  # the third segment: "Termin unter: …"
    edited = current_segment_id(page)
    expect(page.locator(".segment.current .source-text")).to_contain_text("Termin unter")
    page.keyboard.press("e")
    textarea = page.locator(".segment.current textarea")
    expect(textarea).to_be_focused()
    expect(textarea).to_have_value(re.compile(r"^Appointments at: 07151 501-0"))  # candidate 1
    textarea.fill("Make an appointment: 07151 501-0.")
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")
    expect(page.locator(".last-decision")).to_contain_text("Saved your edit")

    suggestion, reviews, unit = stored(app, edited)
    assert suggestion.status is SuggestionStatus.EDITED
    assert [(r.decision.value, r.after_text) for r in reviews] == [
        ("edit", "Make an appointment: 07151 501-0.")
    ]
    assert unit is not None and unit.reviewed
    assert unit.target_text == "Make an appointment: 07151 501-0."


def test_an_edit_that_drops_the_phone_number_is_held_until_the_translator_confirms(
    app, server, page, content
):
    cms = issue(app, "cms", "alpha")
    response = app.test_client().put(
        "/api/v1/regions/alpha/pages/a3/translations/de",
        json={"title": "Kontakt", "content": "<p>Rufen Sie uns an: 0911 231-0.</p>"},
        headers=bearer(cms),
    )
    assert response.status_code == 201, response.json
    token = issue(app, "translator", name="Tina Translator")
    queue(app, token, "a3", "en")
    sign_in(page, server, token)
    page.goto(f"{server}/ui/review?language=en&page=a3")

    page.keyboard.press("j")  # the title first, then "Rufen Sie uns an: …"
    held = current_segment_id(page)
    expect(page.locator(".segment.current .source-text")).to_contain_text("0911 231-0")
    page.keyboard.press("e")
    textarea = page.locator(".segment.current textarea")
    textarea.fill("Call us.")
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")
    failed = page.locator(f"#s-{held} .qa-failed")
    expect(failed).to_contain_text("The phone number 0911 231-0 is missing.")
    suggestion, reviews, _unit = stored(app, held)
    assert suggestion.status is SuggestionStatus.PENDING and reviews == []

    with page.expect_navigation():
        failed.get_by_role("button", name="Save anyway").click()
    expect(page.locator(".last-decision")).to_contain_text("Saved your edit")
    suggestion, reviews, unit = stored(app, held)
    assert suggestion.status is SuggestionStatus.EDITED
    assert [(r.after_text, r.checks_confirmed) for r in reviews] == [("Call us.", True)]
    assert [c["code"] for c in reviews[0].qa_checks or []] == ["phone_missing"]
    assert unit is not None and unit.target_text == "Call us."


def test_escape_cancels_an_edit_and_r_rejects(app, server, page, content):
    token = issue(app, "translator")
    queue(app, token, "a1", "en")
    sign_in(page, server, token)
    page.goto(f"{server}/ui/review?language=en")
    page.keyboard.press("e")
    expect(page.locator(".segment.current textarea")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator(".segment.current details.edit")).not_to_have_attribute("open", "")
    rejected = current_segment_id(page)
    with page.expect_navigation():
        page.keyboard.press("r")
    expect(page.locator(".last-decision")).to_contain_text("Rejected")
    suggestion, reviews, _ = stored(app, rejected)
    assert suggestion.status is SuggestionStatus.REJECTED
    assert [r.decision.value for r in reviews] == ["reject"]


def test_arabic_target_text_is_shown_right_to_left(app, server, page, content):
    token = issue(app, "translator")
    queue(app, token, "a2", "ar")
    sign_in(page, server, token)
    page.goto(f"{server}/ui/review?language=ar")
    passport = segment(page, "Bring your passport.")
    expect(passport.locator(".source-text")).to_have_attribute("dir", "ltr")
    expect(passport.locator(".source-text")).to_have_attribute("lang", "en")
    target = passport.locator(".candidate .target").first
    expect(target).to_have_text("أحضر جواز سفرك.")
    expect(target).to_have_attribute("dir", "rtl")
    expect(target).to_have_attribute("lang", "ar")
    expect(passport.locator("textarea")).to_have_attribute("dir", "rtl")


def test_a_wrong_token_is_refused_with_a_clear_message(server, page):
    page.goto(f"{server}/ui/")
    page.get_by_label("API token").fill("tm_00000000_not-a-real-secret")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("unknown, expired or revoked")
    page.goto(f"{server}/ui/review")
    expect(page).to_have_url(f"{server}/ui/?next=/ui/review?")


def test_a_revoked_token_signs_the_browser_out(app, server, page):
    token = issue(app, "translator")
    sign_in(page, server, token)
    with app.app_context():
        token_service.revoke_token(db.session, None, token.split("_")[1])
    page.goto(f"{server}/ui/review")
    expect(page.locator(".flash-error")).to_contain_text("revoked or has expired")
    expect(page.get_by_label("API token")).to_be_visible()


def test_a_forged_post_without_the_csrf_token_is_refused(app, server, page, content):
    token = issue(app, "translator")
    queue(app, token, "a1", "en")
    sign_in(page, server, token)  # the browser holds a valid session cookie
    page.goto(f"{server}/ui/review?language=en")
    target = current_segment_id(page)
    for form in ({"decision": "accept"}, {"decision": "accept", "csrf_token": "guessed"}):
        response = page.request.post(f"{server}/ui/review/{target}", form=form)
        assert response.status == 400
        assert "not sent from a page of this site" in response.text()
    suggestion, reviews, _ = stored(app, target)
    assert suggestion.status is SuggestionStatus.PENDING and reviews == []
    # The same post with the session's value goes through: the cookie was there all along.
    csrf = page.locator(f"#s-{target} input[name=csrf_token]").first.get_attribute("value")
    response = page.request.post(
        f"{server}/ui/review/{target}",
        form={"decision": "accept", "language": "en", "csrf_token": csrf or ""},
    )
    assert response.ok
    assert stored(app, target)[0].status is SuggestionStatus.ACCEPTED


def test_editor_starts_a_page_from_a_similar_page_of_another_region(app, server, page, content):
    sign_in(page, server, issue(app, "editor", name="Eda Editor"))
    page.goto(f"{server}/ui/pages/a1")
    similar = page.locator(".similar-table tr", has_text="Beta City")
    expect(similar).to_contain_text("b1")
    screenshot_to_docs(page, "similar-pages.png")
    similar.get_by_role("button", name="Start from this page…").click()
    # Nothing is copied before the confirmation, which shows what will be.
    confirm = page.locator(".reuse-confirm")
    expect(confirm.locator(".reuse-languages tbody tr")).to_have_count(3)  # de, en, ar
    expect(confirm).to_contain_text("0821 3102-0")
    expect(page.get_by_label("The new page's id")).to_have_value("beratung")
    screenshot_to_docs(page, "reuse-confirm.png")
    confirm.get_by_role("button", name="Copy 3 languages as drafts").click()
    expect(page).to_have_url(f"{server}/ui/pages/beratung")
    expect(page.locator(".flash-success")).to_contain_text("Started page 'beratung'")
    expect(page.locator(".attribution-box")).to_contain_text("Beta City")
    expect(page.locator(".attribution-box")).to_contain_text("CC BY 4.0")
    expect(page.locator(".specifics").first).to_contain_text("0821 3102-0")


def test_a_segment_decided_meanwhile_says_so_and_keeps_the_translators_text(
    app, server, page, content
):
    token = issue(app, "translator")
    queue(app, token, "a1", "en")
    sign_in(page, server, token)
    page.goto(f"{server}/ui/review?language=en")
    taken = current_segment_id(page)
    with app.app_context():  # a colleague accepts it first
        suggestion_service.review_suggestion(
            db.session, Actor(Role.ADMIN, None, name="colleague"), taken, decision="accept"
        )
    page.keyboard.press("e")
    page.locator(".segment.current textarea").fill("My own title")
    page.keyboard.press("Control+Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Already decided")
    expect(alert.locator("textarea")).to_have_value("My own title")
    expect(page.locator(f"#s-{taken}")).to_have_count(0)


def test_a_global_admin_picks_the_region_and_a_region_token_stays_in_its_own(app, server, page):
    sign_in(page, server, issue(app, "admin", region=None))
    page.goto(f"{server}/ui/review")
    page.get_by_role("link", name="Beta City").click()
    expect(page).to_have_url(f"{server}/ui/review?region=beta")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Beta City")
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, server, issue(app, "translator"))
    response = page.goto(f"{server}/ui/review?region=beta")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Forbidden")


def test_the_session_secret_is_made_once_private_and_shared_by_every_worker(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from tm_service.ui.security import SECRET_KEY_FILE, instance_secret_key

    with ThreadPoolExecutor(max_workers=4) as pool:  # workers starting together agree
        keys = set(pool.map(lambda _: instance_secret_key(tmp_path), range(8)))
    assert len(keys) == 1 and len(keys.pop()) == 64
    assert (tmp_path / SECRET_KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [SECRET_KEY_FILE]  # no temporary files left


def test_the_word_diff_escapes_other_regions_text():
    from tm_service.ui.presentation import word_diff

    html = str(word_diff("Call 0821 3102-0 <b>now</b>", "Call 07151 501-0 <script>x</script>"))
    assert "<script" not in html and "<b>" not in html
    assert "<ins>script</ins>&gt;" in html  # the tag's text, escaped
    assert html.startswith("Call <del>0821 3102</del><ins>07151 501</ins>-0")
