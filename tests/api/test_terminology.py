"""The termbase through the API: TBX/CSV import (atomic, idempotent), who may write which
scope, export, recognition, the deprecated-terms report on the real Landkreis Augsburg pages,
and the push warning."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from translate.storage.tbx import tbxfile

from memory.models import Role
from memory.services import tokens as token_service
from memory.termbase_files import read_tbx
from tests.conftest import app_with_augsburg, bearer
from tm_service.demo import DEMO_DIR, load_starter_termbase
from tm_service.extensions import db

STARTER = (DEMO_DIR / "terminology_starter.tbx").read_bytes()
TBX = "application/x-tbx+xml"
CSV = (
    b"concept,language,term,status,source,license,attribution\n"
    b"amt,de,Landratsamt,preferred,Satzung,CC BY 4.0,Alpha County\n"
    b"amt,en,district office,preferred,,,\n"
    b"amt,en,county office,deprecated,,,\n"
)


def concepts(client, **query) -> list[dict]:
    return client.get("/api/v1/terminology/concepts", query_string=query).json["items"]


def test_a_tbx_file_imports_and_the_same_file_again_changes_nothing(client, make_token):
    admin = bearer(make_token("admin", None))
    first = client.post("/api/v1/terminology/import", data=STARTER, content_type=TBX, headers=admin)
    assert first.status_code == 200, first.json
    assert first.json["created"] == 5 and first.json["languages"] == ["de", "en"]
    before = concepts(client, scope="shared")
    again = client.post("/api/v1/terminology/import", data=STARTER, content_type=TBX, headers=admin)
    assert again.json | {"unchanged": 0} == first.json | {"created": 0, "unchanged": 0}
    assert again.json["unchanged"] == 5 and again.json["updated"] == 0
    assert concepts(client, scope="shared") == before  # updated_at too
    (buergergeld,) = [c for c in before if c["key"] == "buergergeld"]
    assert {"language": "de", "text": "Hartz IV", "status": "deprecated"}.items() <= next(
        t for t in buergergeld["terms"] if t["text"] == "Hartz IV"
    ).items()
    assert buergergeld["source_url"] == "https://www.gesetze-im-internet.de/sgb_2/__19.html"
    assert buergergeld["license"] == "CC BY 4.0" and buergergeld["attribution"]


def test_a_changed_term_updates_only_its_concept(client, make_token):
    admin = bearer(make_token("admin", None))
    client.post("/api/v1/terminology/import", data=STARTER, content_type=TBX, headers=admin)
    changed = STARTER.replace(b"<term>job centre</term>", b"<term>job center</term>")
    report = client.post(
        "/api/v1/terminology/import", data=changed, content_type=TBX, headers=admin
    ).json
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 1, 4)
    assert concepts(client, q="job center")[0]["key"] == "jobcenter"
    assert concepts(client, q="job centre") == []


@pytest.mark.parametrize(
    "body",
    [
        STARTER.replace(b"</termEntry>\n      <termEntry", b"</termEntry>\n      <termEntr", 1),
        STARTER.replace(b'xml:lang="en"', b'xml:lang="english"', 1),
        # The last concept lacks a licence: the four before it are not kept either.
        STARTER.replace(
            b'<admin type="x-license">CC BY 4.0</admin>\n        <admin type="x-attribution">'
            b"tm-service starter termbase, after \xc2\xa7 60a",
            b'<admin type="x-attribution">tm-service starter termbase, after \xc2\xa7 60a',
        ).replace(b"after \xc2\xa7 60a AufenthG and its English translation", b""),
    ],
)
def test_a_bad_file_is_refused_with_a_clear_error_and_stores_nothing(client, make_token, body):
    assert body != STARTER
    response = client.post(
        "/api/v1/terminology/import",
        data=body,
        content_type=TBX,
        headers=bearer(make_token("admin", None)),
    )
    assert response.status_code == 422, response.json
    assert response.json["detail"]
    assert concepts(client) == []


def test_csv_import_into_a_region_scope_by_its_admin(client, make_token):
    response = client.post(
        "/api/v1/terminology/import?scope=alpha",
        data=CSV,
        content_type="text/csv",
        headers=bearer(make_token("admin", "alpha")),
    )
    assert response.status_code == 200, response.json
    (concept,) = concepts(client, scope="alpha")
    assert concept["scope"] == "alpha" and concept["source"] == "Satzung"
    assert concepts(client, scope="shared") == []


@pytest.mark.parametrize(
    ("role", "region", "scope", "status"),
    [
        ("admin", "alpha", "shared", 403),  # the shared termbase is the global admins'
        ("admin", "beta", "alpha", 403),  # another region's
        ("editor", "alpha", "alpha", 403),  # not an admin
        ("cms", "alpha", "alpha", 403),
        ("admin", None, "alpha", 200),
        ("admin", "alpha", "alpha", 200),
    ],
)
def test_who_may_write_which_scope(client, make_token, role, region, scope, status):
    response = client.post(
        f"/api/v1/terminology/import?scope={scope}",
        data=CSV,
        content_type="text/csv",
        headers=bearer(make_token(role, region)),
    )
    assert response.status_code == status, response.json
    put = client.put(
        f"/api/v1/terminology/{scope}/concepts/duldung",
        json={"terms": [{"language": "de", "text": "Duldung"}]},
        headers=bearer(make_token(role, region)),
    )
    assert put.status_code == (201 if status == 200 else status), put.json


def test_anonymous_writes_need_a_token(client):
    assert (
        client.post("/api/v1/terminology/import", data=CSV, content_type="text/csv").status_code
        == 401
    )
    assert client.delete("/api/v1/terminology/concepts/1").status_code == 401


def test_put_replaces_a_concept_and_delete_removes_it(client, make_token):
    admin = bearer(make_token("admin", None))
    url = "/api/v1/terminology/shared/concepts/duldung"
    body = {
        "license": "CC BY 4.0",
        "attribution": "Residence Act",
        "terms": [{"language": "de", "text": "Duldung"}, {"language": "en", "text": "toleration"}],
    }
    created = client.put(url, json=body, headers=admin)
    assert created.status_code == 201, created.json
    body["terms"][1] = {"language": "en", "text": "toleration", "status": "admitted"}
    replaced = client.put(url, json=body, headers=admin)
    assert replaced.status_code == 200 and replaced.json["id"] == created.json["id"]
    assert replaced.json["terms"][1]["status"] == "admitted"
    twice = client.put(url, json={**body, "terms": body["terms"] * 2}, headers=admin)
    assert twice.status_code == 422
    deleted = client.delete(f"/api/v1/terminology/concepts/{created.json['id']}", headers=admin)
    assert deleted.status_code == 204
    assert client.get(f"/api/v1/terminology/concepts/{created.json['id']}").status_code == 404


def test_export_reads_back_in_translate_toolkit_with_every_term(client, make_token):
    admin = bearer(make_token("admin", None))
    client.post("/api/v1/terminology/import", data=STARTER, content_type=TBX, headers=admin)
    exported = client.get("/api/v1/terminology/export")
    assert exported.status_code == 200 and exported.mimetype == TBX
    store = tbxfile.parsestring(exported.data)
    terms = {
        (unit.getid(), node.get("{http://www.w3.org/XML/1998/namespace}lang"), term.text)
        for unit in store.units
        for node in unit.getlanguageNodes()
        for term in unit._get_terms(node)
    }
    starter = {(c.key, t.language, t.text) for c in read_tbx(STARTER) for t in c.terms}
    assert terms == starter
    again = client.post(
        "/api/v1/terminology/import", data=exported.data, content_type=TBX, headers=admin
    )
    assert again.json["unchanged"] == 5


def test_recognize_lists_terms_with_their_preferred_target(client, make_token, app):
    with app.app_context():
        load_starter_termbase(db.session)
    response = client.post(
        "/api/v1/terminology/recognize",
        json={
            "text": "Den Bürgergeldantrag (früher Hartz IV) stellen Sie beim Jobcenter.",
            "source_language": "de",
            "target_language": "en",
        },
    )
    assert response.status_code == 200, response.json
    found = {(t["term"], t["surface"]): t for t in response.json["terms"]}
    assert found[("Bürgergeld", "Bürgergeld")]["preferred"] == ["citizen's benefit"]
    assert found[("Hartz IV", "Hartz IV")]["status"] == "deprecated"
    assert "unemployment benefit II" in found[("Hartz IV", "Hartz IV")]["avoid"]
    assert found[("Jobcenter", "Jobcenter")]["preferred"] == ["Jobcenter"]


# --------------------------------------------------------------------------- real pages


@pytest.fixture(scope="module")
def augsburg(tmp_path_factory, seeded_database: Path) -> Iterator[Flask]:
    app = app_with_augsburg(tmp_path_factory.mktemp("terminology"), seeded_database)
    with app.app_context():
        load_starter_termbase(db.session)
    yield app
    with app.app_context():
        db.engine.dispose()


def test_the_report_lists_the_demo_pages_that_still_say_hartz_iv(augsburg):
    report = augsburg.test_client().get("/api/v1/terminology/deprecated-terms").json
    (region,) = report["regions"]
    assert region["region"] == "lkaugsburg"
    assert region["terms"]["Hartz IV"] >= 1 and region["terms"]["Arbeitslosengeld II"] >= 1
    sentences = [
        (item["language"], o["term"], o["sentence"], tuple(o["preferred"]))
        for item in region["items"]
        for o in item["occurrences"]
    ]
    # Landkreis Augsburg's "Jobcenter und Bürgergeld" page (5408035), both languages.
    assert any(
        lang == "de"
        and term == "Hartz IV"
        and sentence.startswith("Suchbegriffe: ")
        and pref == ("Bürgergeld",)
        for lang, term, sentence, pref in sentences
    )
    assert any(
        lang == "en" and term == "unemployment benefit II" and pref == ("citizen's benefit",)
        for lang, term, _, pref in sentences
    )
    assert region["occurrences"] == sum(len(i["occurrences"]) for i in region["items"])
    assert region["pages"] == len(region["items"])


def test_a_push_that_introduces_a_deprecated_term_is_warned_about(augsburg):
    client = augsburg.test_client()
    with augsburg.app_context():
        token = token_service.create_token(
            db.session, None, role=Role.CMS, region_slug="lkaugsburg"
        ).plaintext
    url = "/api/v1/regions/lkaugsburg/pages/term-warning/translations/de"
    clean_html = "<p>Das Jobcenter zahlt Bürgergeld.</p>"
    clean = client.put(
        url,
        json={"title": "Leistungen", "content": clean_html},
        headers=bearer(token),
    )
    assert clean.status_code == 201 and clean.json["terminology_warnings"] == []
    old = client.put(
        url,
        json={
            "title": "Leistungen",
            "content": "<p>Das Jobcenter zahlt Bürgergeld.</p>"
            "<p>Hartz-IV-Empfänger melden sich.</p>",
        },
        headers=bearer(token),
    )
    assert old.status_code == 201
    (warning,) = old.json["terminology_warnings"]
    assert warning["term"] == "Hartz IV" and warning["preferred"] == ["Bürgergeld"]
    assert warning["sentence"] == "Hartz-IV-Empfänger melden sich."
