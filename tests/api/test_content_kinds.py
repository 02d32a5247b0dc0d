"""Events, locations (POIs) and the imprint of the Integreat CMS's API v3 outputs as content
kinds: imported next to the pages, served, idempotent; a location's address, coordinates and
phone stay local details and never reach another region's suggestions.

Data: Integreat CMS test data and expected API outputs (digitalfabrik/integreat-cms, in
../shared/corpus/integreat-cms), Augsburg and Nürnberg.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import or_, select

from connectors.cms_fixture import read_cms_fixture
from connectors.integreat_content import read_content_dumps
from memory.authorization import Actor
from memory.models import Role
from memory.services.content_kinds import import_integreat_content
from memory.services.gazetteer import gazetteer_for
from memory.services.imports import import_cms_fixture
from memory.services.pages import push_translation
from memory.services.regions import get_region
from memory.services.translation_memory import refresh_units
from memory.tm_models import TranslationUnit
from tests.conftest import CORPUS, DEMO, bearer, copy_of_seeded_app
from tm_service.extensions import db

API_V3 = CORPUS / "integreat-cms" / "api-v3"
ADDRESS = "Wolfgangstraße 2"
CMS = Actor(role=Role.CMS, region_slug="augsburg", name="cms")


def import_content(region: str):
    items = read_content_dumps(API_V3, source_language="de", region=region)
    report = import_integreat_content(db.session, None, region, items)
    refresh_units(db.session, report.changed_translation_ids)
    return report


@pytest.fixture
def cities(tmp_path: Path, seeded_database: Path):
    """The CMS fixture's Augsburg and Nürnberg with their pages' units."""
    with copy_of_seeded_app(tmp_path, seeded_database) as app:
        with app.app_context():
            fixture = read_cms_fixture(DEMO / "integreat_cms_test_data.json.gz")
            for report in import_cms_fixture(db.session, fixture, regions=["augsburg", "nurnberg"]):
                refresh_units(db.session, report.changed_translation_ids)
        yield app


def test_events_locations_and_imprint_import_and_are_served(cities):
    with cities.app_context():
        first = import_content("augsburg")
        again = import_content("augsburg")
    assert first.kinds == {"event": 1, "location": 1, "imprint": 1}
    assert first.created == {"de": 3, "en": 2}
    assert first.local_details >= 2  # the address, "86153 Augsburg" (the town is known)
    assert sum(again.created.values()) == 0
    assert again.local_details == 0
    client = cities.test_client()

    location = client.get("/api/v1/regions/augsburg/pages/location:2").json
    event = client.get("/api/v1/regions/augsburg/pages/event:test-veranstaltung").json
    imprint = client.get("/api/v1/regions/augsburg/pages/imprint").json

    assert location["kind"] == "location"
    assert location["details"]["place"]["address"] == ADDRESS
    assert location["details"]["place"]["latitude"] == pytest.approx(48.3781092)
    assert [t["title"] for t in location["translations"]] == ["Test-Ort"]
    assert event["kind"] == "event"
    assert event["details"]["start"] == "2030-01-01T13:00:00+01:00"
    assert {t["language"]: t["title"] for t in event["translations"]} == {
        "de": "Test-Veranstaltung",
        "en": "Test-Event",
    }
    assert imprint["kind"] == "imprint"
    assert "Stadt Augsburg" in imprint["translations"][0]["content"]
    listed = client.get("/api/v1/regions/augsburg/pages", query_string={"limit": 100}).json
    kinds = {item["external_id"]: item["kind"] for item in listed["items"]}
    assert kinds["location:2"] == "location"
    assert list(kinds.values()).count("page") >= 10


def test_a_location_address_is_a_local_detail_and_never_in_the_memory(cities):
    with cities.app_context():
        import_content("augsburg")
        units = db.session.scalars(
            select(TranslationUnit).where(
                TranslationUnit.page.has(external_id="event:test-veranstaltung")
            )
        ).all()
        assert units, "the event's text feeds the translation memory"
        assert not db.session.scalar(
            select(TranslationUnit.id).where(
                or_(
                    TranslationUnit.source_text.contains("Wolfgangstraße"),
                    TranslationUnit.target_text.contains("Wolfgangstraße"),
                )
            )
        )
        gazetteer = gazetteer_for(db.session, get_region(db.session, "augsburg"))
        values = {entry.value for entry in gazetteer.entries}
        assert ADDRESS in values
        assert "86153 Augsburg" in values


def test_a_location_address_never_appears_in_a_suggestion_for_another_region(cities):
    with cities.app_context():
        import_content("augsburg")
        for language, title, content in (
            ("de", "Beratung", f"<p>Die Beratung findet in der {ADDRESS} statt.</p>"),
            ("en", "Counselling", f"<p>The counselling takes place at {ADDRESS}.</p>"),
        ):
            result = push_translation(
                db.session, CMS, "augsburg", "beratung", language,
                {"title": title, "content": content},
            )  # fmt: skip
            refresh_units(db.session, [result.view.translation.id])
    client = cities.test_client()
    with cities.app_context():
        from memory.services import tokens as token_service

        secret = token_service.create_token(
            db.session, None, role=Role.TRANSLATOR, region_slug="nurnberg"
        ).plaintext

    response = client.post(
        "/api/v1/regions/nurnberg/suggestions",
        json={
            "text": "<p>Die Beratung findet in der Königstraße 7 statt.</p>",
            "source_language": "de",
            "target_language": "en",
            "machine_translation": False,
        },
        headers=bearer(secret),
    )

    assert response.status_code == 200, response.json
    candidates = [c for s in response.json["segments"] for c in s["candidates"]]
    from_augsburg = [c for c in candidates if c["origin"].get("region") == "augsburg"]
    assert from_augsburg, "the sentence around the address is reused"
    for candidate in from_augsburg:
        # Augsburg's address (its location's local detail) gave way to the query's own.
        assert ADDRESS not in candidate["text"]
        assert "Königstraße 7" in candidate["text"]
        assert {d["value"] for d in candidate["local_details"]} == {ADDRESS}
    assert ADDRESS not in response.json["draft"]["content"]


def test_cli_imports_a_region_s_content_and_leaves_other_regions_files_out(cities):
    runner = cities.test_cli_runner()

    result = runner.invoke(
        args=["tm", "import-integreat-content", str(API_V3), "--region", "nurnberg"]
    )

    assert result.exit_code == 0, result.output
    assert '"kinds": {"event": 1}' in result.output
    broken = runner.invoke(
        args=[
            "tm",
            "import-integreat-content",
            str(API_V3 / "regions.json"),
            "--region",
            "nurnberg",
        ]
    )
    assert broken.exit_code != 0
    assert "no '{language}_events.json'" in broken.output


def test_the_cms_pushes_a_location_with_its_kind_and_local_details(cities):
    with cities.app_context():
        from memory.services import tokens as token_service

        secret = token_service.create_token(
            db.session, None, role=Role.CMS, region_slug="augsburg"
        ).plaintext
    client = cities.test_client()
    details = {
        "place": {"address": "Zeugplatz 4", "postcode": "86150", "town": "Augsburg"},
        "phone": "0821 324-0",
    }

    pushed = client.put(
        "/api/v1/regions/augsburg/pages/location:77/translations/de",
        json={
            "title": "Bürgerbüro",
            "content": "<p>Anmeldung und Pässe.</p>",
            "kind": "location",
            "details": details,
        },
        headers=bearer(secret),
    )
    bad = client.put(
        "/api/v1/regions/augsburg/pages/location:78/translations/de",
        json={"title": "X", "kind": "shop"},
        headers=bearer(secret),
    )

    assert pushed.status_code == 201, pushed.json
    assert bad.status_code == 422
    page = client.get("/api/v1/regions/augsburg/pages/location:77").json
    assert page["kind"] == "location"
    assert page["details"] == details
    with cities.app_context():
        gazetteer = gazetteer_for(db.session, get_region(db.session, "augsburg"))
        assert "Zeugplatz 4" in {entry.value for entry in gazetteer.entries}
        units = db.session.scalars(
            select(TranslationUnit.source_text).where(
                TranslationUnit.page.has(external_id="location:77")
            )
        ).all()
        assert not any("Zeugplatz" in text for text in units)
