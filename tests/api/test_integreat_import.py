"""Integreat import: Landkreis Augsburg dumps through the CLI, served by the API, idempotent."""

from __future__ import annotations

import json
import shutil

import pytest
from sqlalchemy import func, select

from memory.models import Language, Page, PageTranslation
from tests.conftest import CORPUS, DEMO
from tm_service.extensions import db

LKAUGSBURG = CORPUS / "lkaugsburg"


@pytest.fixture
def dump_folder(tmp_path):
    """The two real dumps, as a folder (the shared corpus, or the copy shipped as demo data)."""
    folder = tmp_path / "dumps"
    folder.mkdir()
    if LKAUGSBURG.exists():
        for name in ("de_pages.json", "en_pages.json"):
            shutil.copy(LKAUGSBURG / name, folder / name)
    else:
        for name in ("lkaugsburg_de_pages.json.gz", "lkaugsburg_en_pages.json.gz"):
            shutil.copy(DEMO / name, folder / name)
    return folder


def counts(app):
    with app.app_context():
        rows = db.session.execute(
            select(Language.code, func.count(PageTranslation.id))
            .join(PageTranslation.language)
            .group_by(Language.code)
        ).all()
        pages = db.session.scalar(select(func.count(Page.id)))
    return dict(rows), pages


def test_import_twice_gives_the_expected_counts_and_changes_nothing(app, runner, dump_folder):
    first = runner.invoke(
        args=["tm", "import-integreat", str(dump_folder), "--region", "lkaugsburg"]
    )
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout.strip().splitlines()[-1])
    assert report["created"] == {"de": 238, "en": 233}
    assert report["linked_pairs"] == 233
    assert counts(app) == ({"de": 238, "en": 233}, 238)

    second = runner.invoke(
        args=["tm", "import-integreat", str(dump_folder), "--region", "lkaugsburg"]
    )
    assert second.exit_code == 0, second.output
    report = json.loads(second.stdout.strip().splitlines()[-1])
    assert report["created"] == {}
    assert report["unchanged"] == {"de": 238, "en": 233}
    assert counts(app) == ({"de": 238, "en": 233}, 238)


def test_imported_page_is_served_under_its_german_translation_id(app, client, runner, dump_folder):
    runner.invoke(args=["tm", "import-integreat", str(dump_folder), "--region", "lkaugsburg"])
    page = client.get("/api/v1/regions/lkaugsburg/pages/5484709").json
    assert page["parent"] is None
    assert {t["language"] for t in page["translations"]} == {"de", "en"}
    english = next(t for t in page["translations"] if t["language"] == "en")
    assert english["external_translation_id"] == "5484710"
    assert english["url"].startswith("https://admin.integreat-app.de/lkaugsburg/en/")
    assert english["outdated"] is False
    # Parents are linked through paths: the welcome page's first child knows its parent.
    child = client.get(f"/api/v1/regions/lkaugsburg/pages/{page['children'][0]}").json
    assert child["parent"] == "5484709"
    listing = client.get("/api/v1/regions/lkaugsburg/pages?language=en&limit=1000").json
    assert listing["total"] == 233


def test_a_single_dump_file_imports_too(app, runner, dump_folder):
    result = runner.invoke(
        args=[
            "tm",
            "import-integreat",
            str(next(dump_folder.glob("de_*"))),
            "--region",
            "lkaugsburg",
        ]
    )
    assert result.exit_code == 0, result.output
    assert counts(app)[0] == {"de": 238}


def test_broken_dump_is_rejected_and_leaves_nothing(app, runner, tmp_path):
    broken = tmp_path / "de_pages.json"
    broken.write_text(
        '[{"id": 1, "title": "x", "path": "/r/de/x/"}, {"title": "no id", "path": "/r/de/y/"}]'
    )
    result = runner.invoke(args=["tm", "import-integreat", str(broken), "--region", "broken"])
    assert result.exit_code != 0
    assert "missing field 'id'" in result.output
    truncated = tmp_path / "cut" / "de_pages.json"
    truncated.parent.mkdir()
    truncated.write_text('[{"id": 1, "title": "x", "pa')
    result = runner.invoke(
        args=["tm", "import-integreat", str(truncated.parent), "--region", "broken"]
    )
    assert result.exit_code != 0
    assert counts(app) == ({}, 0)


def test_demo_data_loads_three_regions_idempotently(app, runner):
    assert runner.invoke(args=["tm", "load-demo"]).exit_code == 0
    before = counts(app)
    again = runner.invoke(args=["tm", "load-demo"])
    assert again.exit_code == 0
    assert counts(app) == before
    client = app.test_client()
    slugs = {region["slug"] for region in client.get("/api/v1/regions").json}
    assert {"lkaugsburg", "augsburg", "nurnberg"} <= slugs
    assert client.get("/api/v1/regions/lkaugsburg").json["neighbours"] == ["augsburg"]
    # The CMS fixture keeps every version; drafts stay hidden.
    about = client.get("/api/v1/regions/augsburg/pages/3").json
    assert {t["language"] for t in about["translations"]} >= {"de", "en", "ar", "fa"}
    assert all(v["status"] == "public" for v in about["versions"])


def test_token_cli_creates_a_token_that_works_once_shown(app, runner):
    result = runner.invoke(
        args=["tm", "token", "create", "--role", "cms", "--region", "alpha", "--name", "cms"]
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[0]
    client = app.test_client()
    response = client.put(
        "/api/v1/regions/alpha/pages/1/translations/de",
        json={"title": "Hallo"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201
    listing = runner.invoke(args=["tm", "token", "list"])
    # The secret is URL-safe base64 and may itself hold "_": split as the service does.
    assert token.split("_", 2)[2] not in listing.output
    refused = runner.invoke(args=["tm", "token", "create", "--role", "cms"])
    assert refused.exit_code != 0
