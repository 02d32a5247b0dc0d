"""Live sync from an Integreat instance, against a local stand-in serving Landkreis Augsburg's
API v3 dumps: one changed page is picked up and nothing else, unchanged listings are not
downloaded again, each failure is named, through the service, the CLI and the job.

Page texts: Integreat / Tür an Tür – Digitalfabrik gGmbH and Landkreis Augsburg, CC BY 4.0.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from connectors.integreat import read_json_file
from connectors.integreat_sync import SyncClient
from memory.cms_models import CmsSyncState
from memory.models import Page, PageTranslation
from memory.services.integreat_sync import sync_integreat
from memory.similarity_models import Job, JobState
from tests.conftest import CORPUS, DEMO
from tests.integreat_standin import IntegreatStandIn, standin_of
from tm_service.extensions import db
from tm_service.sync_jobs import start_integreat_sync

REGION = "lkaugsburg"
SLICE = 25


@pytest.fixture(scope="module")
def dumps() -> dict[str, list[dict[str, Any]]]:
    """The first German pages of the county and the English pages linked to them."""
    german = read_json_file(DEMO / "lkaugsburg_de_pages.json.gz")[:SLICE]
    ids = {page["id"] for page in german}
    english = [
        page
        for page in read_json_file(DEMO / "lkaugsburg_en_pages.json.gz")
        if (page.get("available_languages") or {}).get("de", {}).get("id") in ids
    ]
    assert english
    return {"de": german, "en": english}


@pytest.fixture
def make_standin() -> Iterator[Callable[..., IntegreatStandIn]]:
    """Start stand-ins of an instance (each serves its own copy of the dumps); stop them after."""
    started: list[IntegreatStandIn] = []

    def make(region: str, pages: dict[str, list[dict[str, Any]]], **options: Any):
        started.append(standin_of(region, pages, **options))
        return started[-1]

    yield make
    for standin in started:
        standin.stop()


def sync(app, standin, **options):
    with app.app_context():
        client = SyncClient(standin.url, timeout=5)
        try:
            return sync_integreat(db.session, None, REGION, client, **options)
        finally:
            client.close()


def versions(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(PageTranslation.id))) or 0


def test_sync_picks_up_the_one_changed_page_and_nothing_else(app, dumps, make_standin):
    standin = make_standin(REGION, dumps)
    first = sync(app, standin)
    assert first.languages["de"] == {
        "status": "changed", "pages": SLICE, "created": SLICE, "errors": 0
    }  # fmt: skip
    assert first.languages["en"]["created"] == len(dumps["en"])
    assert first.errors == []
    stored = versions(app)
    changed = dumps["de"][3]
    standin.edit_page(
        "de",
        changed["id"],
        content=changed["content"] + "<p>Neu: Sprechzeiten am Freitag bis 12 Uhr.</p>",
        last_updated="2024-02-01T10:00:00.000+01:00",
    )
    standin.requests.clear()

    second = sync(app, standin)

    assert second.created == 1
    assert second.languages["de"]["status"] == "changed"
    assert second.languages["de"]["created"] == 1
    assert second.languages["en"]["status"] == "not_modified"
    assert versions(app) == stored + 1
    with app.app_context():
        (new,) = [db.session.get(PageTranslation, i) for i in second.changed_translation_ids]
        assert new.page.external_id == str(changed["id"])
        assert new.version == 2
        assert "Sprechzeiten am Freitag" in new.content
        assert new.last_updated.isoformat().startswith("2024-02-01T09:00:00")
    # The unchanged English listing was asked for with its ETag and not sent again.
    english = [r for r in standin.requests if r.path.endswith("/en/pages/")]
    assert english and english[0].if_none_match

    third = sync(app, standin)

    assert third.created == 0
    assert {code: entry["status"] for code, entry in third.languages.items()} == {
        "de": "not_modified",
        "en": "not_modified",
    }


def test_without_validators_only_the_changed_page_is_stored(app, dumps, make_standin):
    standin = make_standin(REGION, dumps, etags=False)
    sync(app, standin)
    stored = versions(app)
    standin.edit_page("de", dumps["de"][0]["id"], title="Willkommen im Landkreis Augsburg!")

    second = sync(app, standin)

    assert second.languages["de"]["status"] == "changed"
    assert second.created == 1
    assert second.unchanged == SLICE - 1 + len(dumps["en"])
    assert versions(app) == stored + 1


def test_a_failing_language_and_a_broken_page_are_named_and_the_rest_is_synced(
    app, dumps, make_standin
):
    standin = make_standin(REGION, dumps)
    broken = dumps["de"][5]["id"]
    standin.edit_page("de", broken, title=None)
    del standin.pages["de"][5]["title"]
    standin.fail_with("en", 500)

    report = sync(app, standin)

    assert report.languages["en"]["status"] == "failed"
    assert report.languages["de"]["created"] == SLICE - 1
    assert any("/en/pages/: HTTP 500" in error for error in report.errors)
    assert any(f"(id {broken}): missing field 'title'" in error for error in report.errors)
    with app.app_context():
        assert db.session.scalar(
            select(Page.id).where(Page.external_id == str(broken))
        ) is None  # fmt: skip
        state = db.session.scalar(select(CmsSyncState).where(CmsSyncState.language_code == "en"))
        assert state is not None and "HTTP 500" in state.error and state.etag is None

    standin.recover()
    again = sync(app, standin)

    assert again.languages["en"]["status"] == "changed"
    assert again.languages["en"]["created"] == len(dumps["en"])


def test_an_unreachable_instance_is_a_clear_error_with_nothing_stored(app):
    before = versions(app)
    with app.app_context():
        client = SyncClient("http://127.0.0.1:9", timeout=2)
        with pytest.raises(Exception, match="Cannot read the languages of region 'lkaugsburg'"):
            sync_integreat(db.session, None, REGION, client)
    assert versions(app) == before


def test_cli_sync_reports_json_and_names_failures(app, dumps, make_standin):
    standin = make_standin(REGION, dumps)
    runner = app.test_cli_runner()

    first = runner.invoke(args=["tm", "sync-integreat", standin.url, "--region", REGION])

    assert first.exit_code == 0, first.output
    report = json.loads(next(line for line in first.output.splitlines() if line.startswith("{")))
    assert report["created"] == SLICE + len(dumps["en"])
    standin.fail_with("de", 503)
    failed = runner.invoke(args=["tm", "sync-integreat", standin.url, "--region", REGION])
    assert failed.exit_code == 1
    assert "error: " in failed.output and "/de/pages/: HTTP 503" in failed.output
    every = runner.invoke(
        args=["tm", "sync-integreat", standin.url, "--region", REGION, "--every", "3600"]
    )
    assert every.exit_code != 0
    assert "TM_REDIS_URL" in every.output


def test_sync_job_records_progress_and_its_report(app, dumps, make_standin):
    standin = make_standin(REGION, dumps)
    with app.app_context():
        job = start_integreat_sync(REGION, standin.url, languages=["de", "en"])
        row = db.session.get(Job, job.id, populate_existing=True)
        assert row is not None
        assert row.state == JobState.FINISHED, row.error
        assert row.progress_done == row.progress_total == 3
        assert row.result["created"] == SLICE + len(dumps["en"])
        assert row.result["languages"]["de"]["status"] == "changed"
        # The stored versions went to the content pipeline as a job of their own.
        content = db.session.get(Job, row.result["content_job"])
        assert content is not None and content.state == JobState.FINISHED


def test_sync_pulls_events_locations_and_the_imprint_and_then_only_what_changed(app, make_standin):
    api_v3 = CORPUS / "integreat-cms" / "api-v3"
    content = {
        "events": {
            code: read_json_file(api_v3 / f"augsburg_{code}_events.json") for code in ("de", "en")
        },
        "locations": {"de": read_json_file(api_v3 / "augsburg_de_locations.json")},
        "disclaimer": {
            code: read_json_file(api_v3 / f"augsburg_{code}_imprint.json") for code in ("de", "en")
        },
    }
    pages = {"de": read_json_file(api_v3 / "augsburg_de_pages.json"), "en": []}
    standin = make_standin("augsburg", pages, content=content)
    with app.app_context():
        client = SyncClient(standin.url, timeout=5)
        first = sync_integreat(db.session, None, "augsburg", client, languages=["de", "en"])
        assert first.errors == []
        assert first.content["de/locations"]["created"] == 1
        assert first.content["en/events"]["created"] == 1
        assert first.content["en/locations"]["status"] == "absent"
        location = db.session.scalar(select(Page).where(Page.external_id == "location:2"))
        assert location is not None and location.kind.value == "location"
        assert location.details["place"]["address"] == "Wolfgangstraße 2"
        standin.content["locations"]["de"][0]["content"] = "<p>Neue Öffnungszeiten ab März.</p>"

        second = sync_integreat(db.session, None, "augsburg", client, languages=["de", "en"])
        client.close()

    assert second.created == 1
    assert second.content["de/locations"] == {
        "status": "changed", "items": 1, "created": 1, "errors": 0
    }  # fmt: skip
    statuses = {key: entry["status"] for key, entry in second.content.items()}
    assert statuses["de/events"] == statuses["de/imprint"] == "not_modified"
    assert second.languages["de"]["status"] == "not_modified"
