"""Meta descriptions: kept and versioned with a page translation (a changed one is a new version
and makes the translations outdated), one unit of the memory like the title, suggested and
pre-translated like the title, and a unit of its own in XLIFF exports and imports."""

from __future__ import annotations

from translate.storage import xliff

from memory.content_hash import content_hash
from tests.conftest import bearer

META_DE = "Wie Sie Ihren Wohnsitz in Alpha anmelden: Fristen, Unterlagen und Gebühren."
META_EN = "How to register your residence in Alpha: deadlines, documents and fees."
PAGE_DE = {"title": "Anmeldung", "content": "<p>Melden Sie Ihren Wohnsitz an.</p>"}
PAGE_EN = {"title": "Registration", "content": "<p>Register your residence.</p>"}


def put(client, token, page, language, body):
    return client.put(
        f"/api/v1/regions/alpha/pages/{page}/translations/{language}",
        json=body,
        headers=bearer(token),
    )


def test_a_meta_description_is_kept_and_versioned(client, make_token):
    token = make_token("cms", "alpha")
    plain = put(client, token, "100", "de", PAGE_DE)
    assert put(client, token, "100", "en", PAGE_EN).status_code == 201

    with_meta = put(client, token, "100", "de", {**PAGE_DE, "meta_description": META_DE})
    again = put(client, token, "100", "de", {**PAGE_DE, "meta_description": META_DE})

    assert plain.json["meta_description"] == ""
    assert with_meta.status_code == 201
    assert with_meta.json["version"] == 2
    assert with_meta.json["meta_description"] == META_DE
    assert again.status_code == 200
    # A translation made before the meta description changed is outdated.
    english = client.get("/api/v1/regions/alpha/pages/100/translations/en").json
    assert english["outdated"] is True
    # Without a meta description, the hash is what it always was.
    assert plain.headers["ETag"].startswith(
        f'"v1-{content_hash(PAGE_DE["title"], PAGE_DE["content"])[:16]}'
    )


def test_a_meta_description_is_suggested_like_the_title(client, make_token):
    token = make_token("cms", "alpha")
    put(client, token, "100", "de", {**PAGE_DE, "meta_description": META_DE})
    put(client, token, "100", "en", {**PAGE_EN, "meta_description": META_EN})
    put(client, token, "200", "de", {"title": "Ummeldung", "meta_description": META_DE})

    response = client.post(
        "/api/v1/regions/alpha/suggestions",
        json={"page": "200", "target_language": "en", "machine_translation": False},
        headers=bearer(token),
    )

    assert response.status_code == 200, response.json
    (meta,) = [s for s in response.json["segments"] if s["part"] == "meta_description"]
    assert meta["source_text"] == META_DE
    assert meta["candidates"][0]["text"] == META_EN
    assert meta["candidates"][0]["origin"]["page"] == "100"
    assert response.json["draft"]["meta_description"] == META_EN


def test_a_meta_description_is_a_unit_of_its_own_in_xliff(client, make_token):
    token = make_token("cms", "alpha")
    put(client, token, "100", "de", {**PAGE_DE, "meta_description": META_DE})
    put(client, token, "100", "en", {**PAGE_EN, "meta_description": META_EN})
    put(client, token, "200", "de", {"title": "Ummeldung", "meta_description": META_DE})

    exported = client.get(
        "/api/v1/regions/alpha/xliff",
        query_string={"target_language": "en", "page": "200"},
        headers=bearer(token),
    )

    assert exported.status_code == 200, exported.get_data(as_text=True)
    store = xliff.xlifffile.parsestring(exported.get_data())
    units = {unit.xmlelement.get("id"): unit for unit in store.units}
    assert set(units) == {"200.v1.title-0", "200.v1.meta_description-0"}
    assert units["200.v1.meta_description-0"].target == META_EN
    units["200.v1.title-0"].target = "Change of address"
    for unit in store.units:
        unit.set_state_n(unit.statemap["translated"])

    imported = client.post(
        "/api/v1/regions/alpha/xliff",
        data=bytes(store),
        headers={**bearer(token), "Content-Type": "application/xliff+xml"},
        query_string={"publish": "true"},
    )

    assert imported.status_code == 200, imported.json
    stored = client.get("/api/v1/regions/alpha/pages/200/translations/en").json
    assert stored["title"] == "Change of address"
    assert stored["meta_description"] == META_EN
