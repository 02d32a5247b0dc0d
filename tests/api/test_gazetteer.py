"""Each region's gazetteer through the API, and what it does to suggestions and page reuse:
another region's local details never reach a draft unflagged (real Landkreis Augsburg,
München and Integreat CMS fixture pages)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from connectors.cms_fixture import read_cms_fixture
from connectors.integreat import read_dump_file
from memory.models import Role
from memory.services import tokens as token_service
from memory.services.imports import import_cms_fixture, import_integreat_pages
from memory.services.translation_memory import refresh_units
from tests.conftest import CORPUS, DEMO, app_with_augsburg, bearer
from tm_service.extensions import db

# München pages on the topics Landkreis Augsburg writes about too (real, independently written).
MUENCHEN_PAGES = (1451669, 261520, 273826)  # youth migration advice, about, pregnancy advice
# A München editor's own short page, worded like a Landkreis Augsburg sentence without its place.
ORIENTATION = "<p>Sie können Dir bei der Orientierung im Landkreis helfen.</p>"


def token_for(app: Flask, role: str, region: str | None) -> str:
    with app.app_context():
        return token_service.create_token(
            db.session, None, role=Role(role), region_slug=region
        ).plaintext


@pytest.fixture(scope="module")
def two_regions(tmp_path_factory, seeded_database: Path) -> Iterator[Flask]:
    """Landkreis Augsburg (German, English, units) and a slice of München (German)."""
    app = app_with_augsburg(tmp_path_factory.mktemp("gazetteer"), seeded_database)
    with app.app_context():
        pages = [
            page
            for page in read_dump_file(CORPUS / "muenchen" / "de_pages.json")
            if page.id in MUENCHEN_PAGES
        ]
        report = import_integreat_pages(db.session, None, "muenchen", pages)
        refresh_units(db.session, report.changed_translation_ids)
    editor = token_for(app, "editor", "muenchen")
    response = app.test_client().put(
        "/api/v1/regions/muenchen/pages/orientierung/translations/de",
        json={"title": "Orientierung", "content": ORIENTATION},
        headers=bearer(editor),
    )
    assert response.status_code == 201, response.json
    yield app
    with app.app_context():
        db.engine.dispose()


def suggestions(app: Flask, region: str, page: str) -> dict:
    token = token_for(app, "translator", region)
    response = app.test_client().post(
        f"/api/v1/regions/{region}/suggestions",
        json={
            "page": page,
            "target_language": "en",
            "machine_translation": False,
            "min_score": 60,
        },
        headers=bearer(token),
    )
    assert response.status_code == 200, response.json
    return response.json


def candidates_from(result: dict, region: str, containing: str) -> list[tuple[dict, dict]]:
    return [
        (segment, candidate)
        for segment in result["segments"]
        for candidate in segment["candidates"]
        if candidate["origin"].get("region") == region
        and containing in (candidate["match_source_text"] or "")
    ]


def penalty(candidate: dict, code: str = "foreign_local_detail") -> dict | None:
    return next((p for p in candidate["penalties"] if p["code"] == code), None)


# --------------------------------------------------------------------------- reading, editing


def test_gazetteer_is_public_and_built_from_the_region_s_pages(two_regions):
    body = two_regions.test_client().get("/api/v1/regions/lkaugsburg/gazetteer").json
    assert body["region"] == "lkaugsburg"
    assert body["built_at"] is None  # never built: what a build finds now
    assert body["license"]["name"] == "CC BY 4.0"
    found = {(e["kind"], e["value"]) for e in body["entries"]}
    assert {
        ("place", "Augsburg"),
        ("postal_code_town", "86150 Augsburg"),
        ("office", "Landratsamt Augsburg"),
        ("url", "landkreis-augsburg.de"),
    } <= found
    offices = two_regions.test_client().get("/api/v1/regions/lkaugsburg/gazetteer?kind=office")
    assert {e["kind"] for e in offices.json["entries"]} == {"office"}


def test_unknown_region_and_kind_are_named(client):
    assert client.get("/api/v1/regions/nowhere/gazetteer").status_code == 404
    response = client.get("/api/v1/regions/alpha/gazetteer?kind=river")
    assert response.status_code == 422
    assert "kind" in str(response.json["errors"])


@pytest.mark.parametrize(
    ("role", "region", "status"),
    [
        ("editor", "alpha", 201),
        ("admin", "alpha", 201),
        ("admin", None, 201),
        ("translator", "alpha", 403),
        ("cms", "alpha", 403),
        ("editor", "beta", 403),
    ],
)
def test_only_editors_and_admins_of_the_region_edit_its_gazetteer(
    client, make_token, role, region, status
):
    response = client.put(
        "/api/v1/regions/alpha/gazetteer/entries",
        json={"kind": "place", "value": "Alphadorf"},
        headers=bearer(make_token(role, region)),
    )
    assert response.status_code == status, response.json


def test_anonymous_edits_are_refused(client):
    response = client.put(
        "/api/v1/regions/alpha/gazetteer/entries", json={"kind": "place", "value": "Alphadorf"}
    )
    assert response.status_code == 401


def test_editor_entries_and_removals_survive_a_rebuild(app, client, make_token):
    editor = bearer(make_token("editor", "alpha"))
    # A real Landkreis Augsburg page pushed into region alpha: its details become alpha's.
    [page] = [p for p in read_dump_file(DEMO / "lkaugsburg_de_pages.json.gz") if p.id == 5599110]
    pushed = client.put(
        "/api/v1/regions/alpha/pages/sprachberatung/translations/de",
        json={"title": page.title, "content": page.content},
        headers=bearer(make_token("cms", "alpha")),
    )
    assert pushed.status_code == 201
    built = client.post("/api/v1/regions/alpha/gazetteer/rebuild", headers=editor)
    assert built.status_code == 200, built.json
    assert built.json["entries"] > 0

    entries = client.get("/api/v1/regions/alpha/gazetteer").json["entries"]
    phone = next(e for e in entries if e["kind"] == "phone")
    assert phone["origin"] == "auto" and phone["id"] is not None
    added = client.put(
        "/api/v1/regions/alpha/gazetteer/entries",
        json={"kind": "office", "value": "Landratsamt Alphadorf", "names": {"en": "Alpha Office"}},
        headers=editor,
    )
    assert added.status_code == 201
    assert added.json["origin"] == "manual"
    again = client.put(
        "/api/v1/regions/alpha/gazetteer/entries",
        json={"kind": "office", "value": "Landratsamt  Alphadorf"},
        headers=editor,
    )
    assert again.status_code == 200 and again.json["id"] == added.json["id"]
    removed = client.delete(
        f"/api/v1/regions/alpha/gazetteer/entries/{phone['id']}", headers=editor
    )
    assert removed.status_code == 204

    client.post("/api/v1/regions/alpha/gazetteer/rebuild", headers=editor)
    after = client.get("/api/v1/regions/alpha/gazetteer?include_removed=true").json["entries"]
    by_id = {e["id"]: e for e in after}
    assert by_id[phone["id"]]["removed"] is True  # a rebuild does not bring it back
    assert by_id[added.json["id"]]["value"] == "Landratsamt Alphadorf"
    visible = client.get("/api/v1/regions/alpha/gazetteer").json["entries"]
    assert phone["id"] not in {e["id"] for e in visible}


def test_patch_corrects_names_and_restores_a_removed_entry(client, make_token):
    editor = bearer(make_token("editor", "alpha"))
    entry = client.put(
        "/api/v1/regions/alpha/gazetteer/entries",
        json={"kind": "place", "value": "Alphadorf"},
        headers=editor,
    ).json
    url = f"/api/v1/regions/alpha/gazetteer/entries/{entry['id']}"
    patched = client.patch(
        url, json={"names": {"en": "Alpha Village"}, "removed": True}, headers=editor
    )
    assert patched.status_code == 200
    assert patched.json["names"] == {"en": "Alpha Village"} and patched.json["removed"] is True
    assert client.patch(url, json={"removed": False}, headers=editor).json["removed"] is False
    other = bearer(make_token("editor", "beta"))
    assert client.patch(url, json={"removed": True}, headers=other).status_code == 403
    assert (
        client.patch(
            "/api/v1/regions/beta/gazetteer/entries/" + str(entry["id"]),
            json={"removed": True},
            headers=other,
        ).status_code
        == 404
    )
    phone = client.put(
        "/api/v1/regions/alpha/gazetteer/entries",
        json={"kind": "phone", "value": "no number"},
        headers=editor,
    )
    assert phone.status_code == 422 and "value" in phone.json["errors"]


def test_cli_builds_the_gazetteer(app, runner):
    result = runner.invoke(args=["tm", "gazetteer-build", "--region", "alpha"])
    assert result.exit_code == 0, result.output
    assert '"region": "alpha"' in result.output
    assert runner.invoke(args=["tm", "gazetteer-build", "--region", "nowhere"]).exit_code != 0


# --------------------------------------------------------------------------- suggestions


def test_the_donor_s_county_in_a_real_muenchen_sentence_becomes_muenchen(two_regions):
    # München: "Dieser Leitfaden unterstützt Sie in Ihrem Alltag in München."; Landkreis
    # Augsburg: "… in Deinem Alltag im Landkreis Augsburg." → "… in the district of Augsburg."
    result = suggestions(two_regions, "muenchen", "261520")
    found = candidates_from(result, "lkaugsburg", "Alltag im Landkreis Augsburg")
    assert found, "Landkreis Augsburg's guide sentence is a candidate"
    for _segment, candidate in found:
        assert "Augsburg" not in candidate["text"]
        assert "München" in candidate["text"]
        assert penalty(candidate)["amount"] == 2.0
        [detail] = candidate["local_details"]
        assert (detail["status"], detail["replacement"], detail["region"]) == (
            "replaced",
            "München",
            "lkaugsburg",
        )


def test_donor_place_the_query_lacks_costs_ten_points_and_keeps_the_candidate_out(two_regions):
    result = suggestions(two_regions, "muenchen", "273826")
    found = candidates_from(result, "lkaugsburg", "pro familia Augsburg")
    assert found
    for segment, candidate in found:
        foreign = penalty(candidate)
        assert foreign["amount"] == 10.0 and "Augsburg" in foreign["detail"]
        assert any(d["status"] == "review" for d in candidate["local_details"])
        assert candidate["score"] <= candidate["base_score"] - 10
        if candidate["score"] < 75:
            assert segment["chosen"] is None or segment["candidates"][segment["chosen"]] != (
                candidate
            )
    assert "pro familia Augsburg" not in result["draft"]["content"]


def test_a_drafted_donor_detail_is_marked_for_review(two_regions):
    result = suggestions(two_regions, "muenchen", "orientierung")
    [segment] = [s for s in result["segments"] if s["part"] == "content"]
    chosen = segment["candidates"][segment["chosen"]]
    assert chosen["origin"]["region"] == "lkaugsburg"
    assert "Augsburg" in chosen["text"]
    assert penalty(chosen)["amount"] == 10.0
    draft = result["draft"]
    assert (
        '<mark data-local-detail="office" data-region="lkaugsburg">Augsburg</mark>'
        in (draft["content"])
        or '<mark data-local-detail="place" data-region="lkaugsburg">Augsburg</mark>'
        in (draft["content"])
    )
    assert [(d["part"], d["span"], d["status"]) for d in draft["local_details"]] == [
        ("content", "Augsburg", "review")
    ]


def test_augsburg_phone_and_address_are_no_leak_in_augsburg_s_own_suggestions(two_regions):
    # Landkreis Augsburg's own page: its details are its own, nothing is flagged.
    result = suggestions(two_regions, "lkaugsburg", "5599110")
    for segment in result["segments"]:
        for candidate in segment["candidates"]:
            assert penalty(candidate) is None


@pytest.fixture(scope="module")
def two_cities(tmp_path_factory, seeded_database: Path) -> Iterator[Flask]:
    """The Integreat CMS fixture's Augsburg (every version, units built), and Nürnberg with
    only its German "Wissenswertes über Nürnberg" page, to be translated."""
    fixture = read_cms_fixture(CORPUS / "integreat-cms" / "test_data.json")
    app = app_with_augsburg(
        tmp_path_factory.mktemp("cities"),
        seeded_database,
        before_import=lambda: refresh_units(
            db.session,
            [
                i
                for r in import_cms_fixture(db.session, fixture, regions=["augsburg"])
                for i in r.changed_translation_ids
            ],
        ),
    )
    [german] = [
        t
        for page in fixture.regions["nurnberg"].pages
        for t in page.translations
        if t.title == "Wissenswertes über Nürnberg" and t.status == "public"
    ][-1:]
    admin = token_for(app, "admin", None)
    client = app.test_client()
    created = client.post(
        "/api/v1/regions",
        json={"slug": "nurnberg", "name": "Nürnberg", "languages": [{"code": "de"}]},
        headers=bearer(admin),
    )
    assert created.status_code == 201, created.json
    pushed = client.put(
        "/api/v1/regions/nurnberg/pages/wissenswertes/translations/de",
        json={"title": german.title, "content": german.content},
        headers=bearer(admin),
    )
    assert pushed.status_code == 201, pushed.json
    yield app
    with app.app_context():
        db.engine.dispose()


def test_wissenswertes_ueber_nuernberg_is_never_offered_trivia_about_augsburg(two_cities):
    result = suggestions(two_cities, "nurnberg", "wissenswertes")
    [title] = [s for s in result["segments"] if s["part"] == "title"]
    assert title["source_text"] == "Wissenswertes über Nürnberg"
    from_augsburg = [c for c in title["candidates"] if c["origin"].get("region") == "augsburg"]
    assert from_augsburg, title["candidates"]
    assert "Trivia about Augsburg" not in [c["text"] for c in title["candidates"]]
    best = from_augsburg[0]
    assert best["match_source_text"] == "Wissenswertes über Augsburg"
    assert best["text"] == "Trivia about Nürnberg"
    assert penalty(best)["code"] == "foreign_local_detail"
    assert "Augsburg" not in (result["draft"]["title"] or "")


# --------------------------------------------------------------------------- page reuse


def test_start_from_an_augsburg_page_lists_its_details_with_muenchen_values(two_regions):
    editor = bearer(token_for(two_regions, "editor", "muenchen"))
    client = two_regions.test_client()
    added = client.put(
        "/api/v1/regions/muenchen/gazetteer/entries",
        json={"kind": "office", "value": "Landeshauptstadt München"},
        headers=editor,
    )
    assert added.status_code in (200, 201), added.json
    response = client.post(
        "/api/v1/regions/muenchen/pages/reuse",
        json={"from_region": "lkaugsburg", "from_page": "5484733", "languages": ["de"]},
        headers=editor,
    )
    assert response.status_code == 201, response.json
    [german] = response.json["translations"]
    details = {(d["kind"], d["value"]): d for d in german["local_details"]}
    assert details[("place", "Augsburg")]["proposed"] == "München"
    # The donor's local authority: the recipient's is proposed.
    assert details[("office", "Stadt Augsburg")]["proposed"] == "Landeshauptstadt München"
    assert all(d["occurrences"] >= 1 for d in german["local_details"])
