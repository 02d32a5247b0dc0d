"""Region-wide pre-translation and leverage as background jobs (API and CLI)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from memory.authorization import Actor
from memory.models import Language, Page, PageTranslation, Role, TranslationStatus
from memory.review_models import Suggestion, SuggestionStatus
from memory.services.regions import get_region, update_region
from memory.similarity_models import Job, JobState
from tests.conftest import CORPUS, bearer, copy_of_seeded_app
from tests.deepl_standin import deepl_standin  # noqa: F401 — fixture
from tm_service.extensions import db

ADMIN = Actor(role=Role.ADMIN, region_slug=None)
PAGES = 4


def county_slice(folder: Path, count: int = PAGES) -> Path:
    """The first Landkreis Augsburg pages with an English translation (CC BY 4.0), de and en."""
    german = json.loads((CORPUS / "lkaugsburg" / "de_pages.json").read_text(encoding="utf-8"))
    english = json.loads((CORPUS / "lkaugsburg" / "en_pages.json").read_text(encoding="utf-8"))
    by_id = {page["id"]: page for page in english}
    picked = [p for p in german if p["available_languages"].get("en", {}).get("id") in by_id]
    picked = [p for p in picked if len(p["content"]) < 3000][:count]
    folder.mkdir(exist_ok=True)
    (folder / "de_pages.json").write_text(json.dumps(picked, ensure_ascii=False), "utf-8")
    translations = [by_id[p["available_languages"]["en"]["id"]] for p in picked]
    (folder / "en_pages.json").write_text(json.dumps(translations, ensure_ascii=False), "utf-8")
    return folder


@pytest.fixture
def app(tmp_path: Path, seeded_database: Path) -> Iterator[Flask]:
    with copy_of_seeded_app(tmp_path, seeded_database, JOB_RETRY_INTERVALS=[0, 0, 0]) as app:
        result = app.test_cli_runner().invoke(
            args=[
                "tm",
                "import-integreat",
                str(county_slice(tmp_path / "dump")),
                "--region",
                "lkaugsburg",
            ]
        )
        assert result.exit_code == 0, result.output
        yield app


def translations(app: Flask, code: str) -> list[PageTranslation]:
    with app.app_context():
        rows = db.session.scalars(
            select(PageTranslation)
            .join(Language, Language.id == PageTranslation.language_id)
            .where(Language.code == code)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def pending(app: Flask, code: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count(Suggestion.id))
            .join(Language, Language.id == Suggestion.target_language_id)
            .where(Language.code == code, Suggestion.status == SuggestionStatus.PENDING)
        )


def test_the_cli_pretranslates_a_language_the_county_lacks_into_drafts_only(app):
    assert translations(app, "fa") == []

    result = app.test_cli_runner().invoke(
        args=["tm", "pretranslate", "lkaugsburg", "--language", "fa"]
    )

    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["state"] == "finished"
    assert (report["pages"], report["pages_done"], report["drafts_stored"]) == (PAGES, PAGES, PAGES)
    stored = translations(app, "fa")
    assert len(stored) == PAGES
    assert {t.status for t in stored} == {TranslationStatus.DRAFT}  # never public
    # Every segment of every page waits in the review queue.
    assert report["segments_pending"] == report["segments"] == pending(app, "fa") > PAGES
    with app.app_context():
        job = db.session.scalars(select(Job).where(Job.kind == "pretranslate")).one()
        assert (job.state, job.progress_done, job.progress_total) == (
            JobState.FINISHED,
            PAGES,
            PAGES,
        )
    # Nobody configured DeepL: the draft keeps the source where the memory has nothing.
    assert report["machine_translation"]["pages_by_status"] == {"not_configured": PAGES}
    assert report["coverage"]["untranslated"] == report["words"]

    again = app.test_cli_runner().invoke(
        args=["tm", "pretranslate", "lkaugsburg", "--language", "fa"]
    )

    assert again.exit_code == 0, again.output
    second = json.loads(again.output.strip().splitlines()[-1])
    assert second["drafts_stored"] == 0 and second["drafts_unchanged"] == PAGES
    assert len(translations(app, "fa")) == PAGES  # no second version
    assert pending(app, "fa") == report["segments"]  # refreshed, not queued twice


def test_drafts_of_the_pretranslation_are_not_served_to_the_public(app, client):
    app.test_cli_runner().invoke(args=["tm", "pretranslate", "lkaugsburg", "--language", "fa"])
    (page,) = translations(app, "fa")[:1]
    with app.app_context():
        external_id = db.session.get(Page, page.page_id).external_id

    response = client.get(f"/api/v1/regions/lkaugsburg/pages/{external_id}/translations/fa")

    assert response.status_code == 404


def test_machine_translation_stops_at_the_regions_budget(app, deepl_standin):  # noqa: F811
    app.config.update(
        DEEPL_API_KEY=deepl_standin.api_key, DEEPL_SERVER_URL=deepl_standin.url, DEEPL_TIMEOUT=2
    )
    with app.app_context():
        update_region(db.session, ADMIN, "lkaugsburg", {"mt_word_budget": 150})

    result = app.test_cli_runner().invoke(
        args=["tm", "pretranslate", "lkaugsburg", "--language", "ar"]
    )

    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    statuses = report["machine_translation"]["pages_by_status"]
    assert statuses.get("used", 0) >= 1 and statuses.get("budget_exceeded", 0) >= 1, statuses
    with app.app_context():
        region = get_region(db.session, "lkaugsburg")
        assert 0 < region.mt_words_used <= 150
        assert region.mt_words_used == report["machine_translation"]["words_charged"]
    assert report["coverage"]["machine_translation"] > 0
    assert {t.status for t in translations(app, "ar")} == {TranslationStatus.DRAFT}


def test_the_api_starts_the_job_and_answers_where_to_follow_it(app, client, make_token):
    editor = make_token("editor", "lkaugsburg")

    response = client.post(
        "/api/v1/regions/lkaugsburg/pretranslate",
        json={"target_language": "fa", "machine_translation": False},
        headers=bearer(editor),
    )

    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    followed = client.get(response.headers["Location"]).get_json()
    assert followed["id"] == body["id"] and followed["kind"] == "pretranslate"
    assert followed["state"] == "finished"  # TESTING without Redis: in the caller
    assert followed["progress"]["done"] == followed["progress"]["total"] == PAGES
    assert followed["result"]["drafts_stored"] == PAGES


@pytest.mark.parametrize(
    ("role", "region", "language", "status"),
    [
        ("translator", "lkaugsburg", "fa", 403),  # drafts are content: editors and admins
        ("editor", "alpha", "fa", 403),  # another region
        ("editor", "lkaugsburg", "de", 422),  # the county's source language
        ("editor", "lkaugsburg", "xx", 404),
    ],
)
def test_the_api_refuses_what_it_may_not_do_and_records_no_job(
    app, client, make_token, role, region, language, status
):
    token = make_token(role, region)

    response = client.post(
        "/api/v1/regions/lkaugsburg/pretranslate",
        json={"target_language": language},
        headers=bearer(token),
    )

    assert response.status_code == status, response.get_json()
    with app.app_context():
        assert db.session.scalar(select(func.count(Job.id)).where(Job.kind == "pretranslate")) == 0


def test_the_leverage_of_the_region_runs_as_a_job_with_the_report_as_result(
    app, client, make_token
):
    token = make_token("translator", "lkaugsburg")
    direct = client.get("/api/v1/regions/lkaugsburg/leverage?target_language=fa").get_json()

    response = client.post(
        "/api/v1/regions/lkaugsburg/leverage/jobs",
        json={"target_language": ["fa"]},
        headers=bearer(token),
    )

    assert response.status_code == 202, response.get_json()
    job = client.get(response.headers["Location"]).get_json()
    assert job["state"] == "finished" and job["kind"] == "leverage"
    assert job["progress"]["done"] == job["progress"]["total"]
    result = job["result"]
    assert result["totals"]["words"] == direct["totals"]["words"] > 0
    assert [band for band in result["languages"][0]["bands"]] == list(
        direct["languages"][0]["bands"]
    )


def test_a_page_whose_source_language_is_missing_waits_and_gets_no_draft(app, make_token):
    # Alpha translates Arabic from English; page p1 has German only.
    app.test_client().put(
        "/api/v1/regions/alpha/pages/p1/translations/de",
        json={"title": "Anmeldung", "content": "<p>Melden Sie sich an.</p>"},
        headers=bearer(make_token("cms", "alpha")),
    )

    result = app.test_cli_runner().invoke(args=["tm", "pretranslate", "alpha", "--language", "ar"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert (report["pages"], report["pages_waiting_for_source"], report["drafts_stored"]) == (
        1,
        1,
        0,
    )
    assert pending(app, "ar") == 0
