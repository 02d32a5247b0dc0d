"""Reuse of a neighbour's page: drafts with attribution, local specifics, upstream-change flags."""

from __future__ import annotations

import pytest

from tests.conftest import bearer

REUSE = "/api/v1/regions/alpha/pages/reuse"
CHANGES = "/api/v1/regions/alpha/upstream-changes"
UPSTREAM = "/api/v1/regions/alpha/pages/anmeldung/upstream"

GERMAN = {
    "title": "Anmeldung",
    "content": (
        "<p>Melden Sie Ihren Wohnsitz an. Das Bürgeramt hilft Ihnen dabei.</p>"
        "<p>Bringen Sie Ihren Pass mit.</p>"
    ),
    "url": "https://beta.example/de/anmeldung",
}
ENGLISH = {
    "title": "Registration",
    "content": "<p>Register your address. The citizens' office helps you.</p>",
    "url": "https://beta.example/en/registration",
}


@pytest.fixture
def beta(client, make_token):
    """Region beta with an attribution and a public page '50' in German and English."""
    admin = make_token("admin", region="beta")
    response = client.patch(
        "/api/v1/regions/beta",
        json={"attribution": "Stadt Beta, Integrationsbüro", "base_url": "https://beta.example"},
        headers=bearer(admin),
    )
    assert response.status_code == 200, response.json
    token = make_token("cms", region="beta")
    push_beta(client, token, "de", GERMAN)
    push_beta(client, token, "en", ENGLISH)
    return token


def push_beta(client, token, language, body, page="50"):
    response = client.put(
        f"/api/v1/regions/beta/pages/{page}/translations/{language}",
        json=body,
        headers=bearer(token),
    )
    assert response.status_code in (200, 201), response.json
    return response


def reuse(client, token, **body):
    return client.post(
        REUSE, json={"from_region": "beta", "from_page": "50", **body}, headers=bearer(token)
    )


def alpha_pages(client, make_token):
    response = client.get(
        "/api/v1/regions/alpha/pages?include_drafts=true", headers=bearer(make_token("admin"))
    )
    return response.json["total"]


def test_editor_starts_page_from_neighbours_page_with_attribution_and_draft_status(
    client, make_token, beta
):
    editor = make_token("editor")
    response = reuse(client, editor)

    assert response.status_code == 201, response.json
    result = response.json
    assert result["external_id"] == "anmeldung"
    assert result["derived_from"] == {"region": "beta", "external_id": "50"}
    assert result["source_language"] == "de"
    assert [t["language"] for t in result["translations"]] == ["de", "en"]
    for translation in result["translations"]:
        assert translation["status"] == "draft"
        assert translation["origin"] == "reused"
        assert translation["review_status"] == "unreviewed"
        assert translation["version"] == 1
        assert translation["origin_version"] == 1
        assert translation["review_before_publishing"] is True
    assert result["attribution"] == {
        "region": "beta",
        "region_name": "Beta City",
        "page": "50",
        "license": "CC BY 4.0",
        "license_url": "https://creativecommons.org/licenses/by/4.0/",
        "attribution": "Stadt Beta, Integrationsbüro",
        "url": "https://beta.example/de/anmeldung",
    }

    # A draft: the public does not see it, the region's tokens do, with its origin recorded.
    assert client.get("/api/v1/regions/alpha/pages/anmeldung").status_code == 404
    page = client.get(
        "/api/v1/regions/alpha/pages/anmeldung?include_drafts=true", headers=bearer(editor)
    ).json
    assert page["derived_from"] == {"region": "beta", "external_id": "50"}
    english = next(t for t in page["translations"] if t["language"] == "en")
    assert english["content"] == ENGLISH["content"]
    assert english["source_version"] == 1  # made from the German copy
    assert english["outdated"] is False


def test_reused_translations_are_announced_to_memory_and_index(client, make_token, beta):
    jobs_before = {job["id"] for job in client.get("/api/v1/jobs").json["items"]}
    reuse(client, make_token("editor"))

    new = [job for job in client.get("/api/v1/jobs").json["items"] if job["id"] not in jobs_before]
    assert len(new) == 1
    job = client.get(f"/api/v1/jobs/{new[0]['id']}").json
    assert job["state"] == "finished"
    assert job["result"]["translations"] == 2


def test_local_phone_numbers_are_listed_for_review(client, make_token, beta):
    push_beta(
        client,
        beta,
        "de",
        {
            "title": "Ausländerbehörde",
            "content": (
                "<p>Rufen Sie uns an: 0821 3102-0 oder schreiben Sie an "
                "auslaender@beta.example.</p><p>Mehr unter https://beta.example/amt "
                "— geöffnet ab 01.03.2025, 8:00 Uhr, Gebühr 12,50 €.</p>"
            ),
        },
        page="60",
    )

    response = reuse(client, make_token("editor"), from_page="60")

    assert response.status_code == 201, response.json
    specifics = response.json["translations"][0]["local_specifics"]
    assert {"kind": "phone", "value": "0821 3102-0"} in specifics
    assert {"kind": "email", "value": "auslaender@beta.example"} in specifics
    assert {"kind": "url", "value": "https://beta.example/amt"} in specifics
    assert {"kind": "date", "value": "01.03.2025"} in specifics
    assert {"kind": "time", "value": "8:00"} in specifics
    assert {"kind": "amount", "value": "12,50 €"} in specifics


def test_reusing_into_own_region_is_rejected(client, make_token, beta):
    response = client.post(
        "/api/v1/regions/beta/pages/reuse",
        json={"from_region": "beta", "from_page": "50"},
        headers=bearer(beta),
    )
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "from_region" in response.json["errors"]


@pytest.mark.parametrize("role", ["cms", "editor", "admin"])
def test_beta_token_cannot_reuse_into_alpha(client, make_token, beta, role):
    response = reuse(client, make_token(role, region="beta"))
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/problem+json"
    assert alpha_pages(client, make_token) == 0


def test_translator_and_anonymous_cannot_reuse(client, make_token, beta):
    assert reuse(client, make_token("translator")).status_code == 403
    anonymous = client.post(REUSE, json={"from_region": "beta", "from_page": "50"})
    assert anonymous.status_code == 401
    assert alpha_pages(client, make_token) == 0


def test_drafts_of_origin_are_never_copied(client, make_token, beta):
    push_beta(
        client, beta, "de", {"title": "Entwurf", "content": "<p>geheim</p>", "status": "draft"}
    )
    push_beta(client, beta, "ar", {"title": "مسودة", "status": "draft"})
    push_beta(client, beta, "de", {"title": "Nur Entwurf", "status": "draft"}, page="70")
    editor = make_token("editor")

    result = reuse(client, editor).json
    german = next(t for t in result["translations"] if t["language"] == "de")
    assert german["title"] == "Anmeldung"
    assert german["origin_version"] == 1
    assert "ar" not in [t["language"] for t in result["translations"]]
    page = client.get(
        "/api/v1/regions/alpha/pages/anmeldung/translations/de?include_drafts=true",
        headers=bearer(editor),
    ).json
    assert "geheim" not in page["content"]

    asked_for_draft = reuse(client, editor, external_id="other", languages=["ar"])
    assert asked_for_draft.status_code == 422
    assert "languages" in asked_for_draft.json["errors"]
    draft_only_page = reuse(client, editor, from_page="70")
    assert draft_only_page.status_code == 404


def test_only_languages_of_the_region_are_copied(client, make_token, beta):
    push_beta(client, beta, "fa", {"title": "ثبت نام", "content": "<p>نشانی خود را ثبت کنید.</p>"})
    editor = make_token("editor")

    result = reuse(client, editor).json
    assert [t["language"] for t in result["translations"]] == ["de", "en"]

    refused = reuse(client, editor, external_id="with-fa", languages=["de", "fa"])
    assert refused.status_code == 422
    [problem] = refused.json["errors"]["languages"]
    assert problem.startswith("Region 'alpha' has no language 'fa' yet.")
    assert "add_languages: true" in problem and "PATCH /api/v1/regions/alpha" in problem
    chosen = reuse(client, editor, external_id="german-only", languages=["de"])
    assert [t["language"] for t in chosen.json["translations"]] == ["de"]


def beta_translates_farsi_from_english(client, make_token):
    """Beta's language tree: Farsi from English, and a public Farsi page 50."""
    response = client.patch(
        "/api/v1/regions/beta",
        json={
            "languages": [
                {"code": "de"},
                {"code": "en", "parent": "de"},
                {"code": "fa", "parent": "en"},
            ]
        },
        headers=bearer(make_token("admin", region="beta")),
    )
    assert response.status_code == 200, response.json
    push_beta(
        client,
        make_token("cms", region="beta"),
        "fa",
        {"title": "ثبت نام", "content": "<p>نشانی خود را ثبت کنید.</p>"},
    )


def alpha_languages(client):
    return {
        node["code"]: node["parent"]
        for node in client.get("/api/v1/regions/alpha").json["languages"]
    }


def test_an_admin_of_the_region_adds_a_language_it_lacks_with_the_donors_parent(
    client, make_token, beta
):
    beta_translates_farsi_from_english(client, make_token)

    response = reuse(client, make_token("admin"), languages=["de", "en", "fa"], add_languages=True)

    assert response.status_code == 201, response.json
    assert response.json["languages_added"] == [{"code": "fa", "parent": "en", "visible": True}]
    assert [t["language"] for t in response.json["translations"]] == ["de", "en", "fa"]
    assert alpha_languages(client)["fa"] == "en"
    page = client.get(
        "/api/v1/regions/alpha/pages/anmeldung?include_drafts=true",
        headers=bearer(make_token("editor")),
    ).json
    farsi = next(t for t in page["translations"] if t["language"] == "fa")
    assert farsi["source_version"] == 1  # made from the English copy, as in beta


def test_without_languages_add_languages_copies_every_public_language_of_the_origin(
    client, make_token, beta
):
    beta_translates_farsi_from_english(client, make_token)

    response = reuse(client, make_token("admin"), add_languages=True)

    assert response.status_code == 201, response.json
    assert [t["language"] for t in response.json["translations"]] == ["de", "en", "fa"]
    assert [node["code"] for node in response.json["languages_added"]] == ["fa"]


def test_a_donor_parent_the_region_lacks_becomes_its_source_language(client, make_token, beta):
    # Beta translates Farsi from English; gamma has German only, so Farsi comes from German.
    beta_translates_farsi_from_english(client, make_token)

    gamma = client.post(
        "/api/v1/regions",
        json={"slug": "gamma", "name": "Gamma", "kind": "city"},
        headers=bearer(make_token("admin", region=None)),
    )
    assert gamma.status_code == 201, gamma.json
    added = client.post(
        "/api/v1/regions/gamma/pages/reuse",
        json={"from_region": "beta", "from_page": "50", "languages": ["fa"], "add_languages": True},
        headers=bearer(make_token("admin", region=None)),
    )
    assert added.status_code == 201, added.json
    assert added.json["languages_added"] == [{"code": "fa", "parent": "de", "visible": True}]
    gamma_tree = client.get("/api/v1/regions/gamma").json["languages"]
    assert {node["code"]: node["parent"] for node in gamma_tree} == {"de": None, "fa": "de"}


@pytest.mark.parametrize("role", ["editor", "cms"])
def test_only_an_admin_may_add_languages_and_a_refusal_writes_nothing(
    client, make_token, beta, role
):
    beta_translates_farsi_from_english(client, make_token)
    before = alpha_pages(client, make_token)

    response = reuse(client, make_token(role), languages=["de", "fa"], add_languages=True)

    assert response.status_code == 403
    assert "fa" not in alpha_languages(client)
    assert alpha_pages(client, make_token) == before


def test_unknown_origin_is_404_and_leaves_nothing(client, make_token, beta):
    editor = make_token("editor")
    unknown_page = reuse(client, editor, from_page="404")
    assert unknown_page.status_code == 404
    assert "from_page" in unknown_page.json["errors"]
    assert reuse(client, editor, from_region="gamma").status_code == 404
    assert alpha_pages(client, make_token) == 0


def test_same_external_id_twice_is_409(client, make_token, beta):
    editor = make_token("editor")
    assert reuse(client, editor).status_code == 201
    again = reuse(client, editor)
    assert again.status_code == 409
    assert again.json["errors"]["external_id"]
    assert alpha_pages(client, make_token) == 1


def test_a_page_called_reuse_is_still_a_page(client, make_token, beta):
    token = make_token("cms")
    client.put(
        "/api/v1/regions/alpha/pages/reuse/translations/de",
        json={"title": "Wiederverwendung"},
        headers=bearer(token),
    )
    assert client.get(REUSE).json["external_id"] == "reuse"
    assert reuse(client, token).status_code == 201


def test_origin_change_flags_derived_page_with_sentence_diff(client, make_token, beta):
    editor = make_token("editor")
    reuse(client, editor)
    assert client.get(CHANGES, headers=bearer(editor)).json["items"] == []

    push_beta(
        client,
        beta,
        "de",
        {
            "title": "Anmeldung des Wohnsitzes",
            "content": (
                "<p>Melden Sie Ihren Wohnsitz innerhalb von zwei Wochen an. "
                "Das Bürgeramt hilft Ihnen dabei.</p>"
                "<p>Vereinbaren Sie einen Termin online.</p>"
            ),
        },
    )

    changes = client.get(CHANGES, headers=bearer(editor)).json
    assert changes["total"] == 1
    item = changes["items"][0]
    assert item["external_id"] == "anmeldung"
    assert item["flagged"] is True
    assert [language["language"] for language in item["languages"]] == ["de"]
    german = item["languages"][0]
    assert german["origin_version"] == 1
    assert german["current_origin_version"] == 2
    assert german["title_change"] == {"before": "Anmeldung", "after": "Anmeldung des Wohnsitzes"}
    assert german["changes"] == [
        {
            "op": "changed",
            "before": "Melden Sie Ihren Wohnsitz an.",
            "after": "Melden Sie Ihren Wohnsitz innerhalb von zwei Wochen an.",
        },
        {
            "op": "changed",
            "before": "Bringen Sie Ihren Pass mit.",
            "after": "Vereinbaren Sie einen Termin online.",
        },
    ]

    # The page's own view lists every reused language, flagged or not.
    page = client.get(UPSTREAM, headers=bearer(editor)).json
    assert {lang["language"]: lang["flagged"] for lang in page["languages"]} == {
        "de": True,
        "en": False,
    }
    assert page["attribution"]["region"] == "beta"


def test_added_and_removed_sentences_are_listed(client, make_token, beta):
    editor = make_token("editor")
    reuse(client, editor)
    push_beta(
        client,
        beta,
        "en",
        {
            "title": ENGLISH["title"],
            "content": (
                "<p>Register your address. The citizens' office helps you.</p>"
                "<p>Bring your passport.</p>"
            ),
        },
    )
    english = client.get(UPSTREAM, headers=bearer(editor)).json["languages"][1]
    assert english["title_change"] is None
    assert english["changes"] == [{"op": "added", "before": None, "after": "Bring your passport."}]

    push_beta(client, beta, "en", {"title": ENGLISH["title"], "content": "<p>Register.</p>"})
    english = client.get(UPSTREAM, headers=bearer(editor)).json["languages"][1]
    assert {change["op"] for change in english["changes"]} == {"changed", "removed"}


def test_a_changed_link_target_is_shown_with_its_markup(client, make_token, beta):
    editor = make_token("editor")
    link = '<p>Termine <a href="https://beta.example/{}">online</a>.</p>'
    push_beta(client, beta, "de", {"title": "Termine", "content": link.format("alt")}, page="80")
    reuse(client, editor, from_page="80")
    push_beta(client, beta, "de", {"title": "Termine", "content": link.format("neu")}, page="80")

    german = client.get(
        "/api/v1/regions/alpha/pages/termine/upstream", headers=bearer(editor)
    ).json["languages"][0]
    assert german["changes"] == [
        {
            "op": "changed",
            "before": 'Termine <a href="https://beta.example/alt">online</a>.',
            "after": 'Termine <a href="https://beta.example/neu">online</a>.',
        }
    ]


def test_acknowledge_clears_the_flag(client, make_token, beta):
    editor = make_token("editor")
    reuse(client, editor)
    push_beta(client, beta, "de", {**GERMAN, "title": "Wohnsitz anmelden"})
    push_beta(client, beta, "en", {**ENGLISH, "title": "Registering your address"})

    response = client.post(
        f"{UPSTREAM}/acknowledge", json={"language": "de"}, headers=bearer(editor)
    )

    assert response.status_code == 200, response.json
    languages = {lang["language"]: lang for lang in response.json["languages"]}
    assert languages["de"]["flagged"] is False
    assert languages["de"]["origin_version"] == 2
    assert languages["de"]["acknowledged_at"] is not None
    assert languages["en"]["flagged"] is True
    assert client.post(f"{UPSTREAM}/acknowledge", headers=bearer(editor)).status_code == 200
    assert client.get(CHANGES, headers=bearer(editor)).json["items"] == []

    # The next change upstream is compared with the acknowledged version.
    push_beta(client, beta, "de", {**GERMAN, "title": "Wohnsitz ummelden"})
    flagged = client.get(CHANGES, headers=bearer(editor)).json["items"][0]["languages"][0]
    assert flagged["title_change"] == {"before": "Wohnsitz anmelden", "after": "Wohnsitz ummelden"}


def test_acknowledge_needs_a_writer_of_the_region(client, make_token, beta):
    reuse(client, make_token("editor"))
    url = f"{UPSTREAM}/acknowledge"
    assert client.post(url).status_code == 401
    assert client.post(url, headers=bearer(make_token("translator"))).status_code == 403
    assert client.post(url, headers=bearer(make_token("editor", region="beta"))).status_code == 403
    wrong_language = client.post(url, json={"language": "ar"}, headers=bearer(make_token("cms")))
    assert wrong_language.status_code == 422


def test_unchanged_origin_resave_is_not_flagged(client, make_token, beta):
    editor = make_token("editor")
    reuse(client, editor)
    respaced = {**GERMAN, "content": GERMAN["content"].replace("</p><p>", "</p>\n  <p>")}
    assert push_beta(client, beta, "de", respaced).status_code == 200
    # Unpublished and published again: new versions, same content hash.
    push_beta(client, beta, "de", {**GERMAN, "status": "draft"})
    push_beta(client, beta, "de", GERMAN)

    assert client.get(CHANGES, headers=bearer(editor)).json["items"] == []
    german = client.get(UPSTREAM, headers=bearer(editor)).json["languages"][0]
    assert german["flagged"] is False
    assert german["current_origin_version"] == 3
    assert german["origin_version"] == 1


def test_a_newer_draft_upstream_is_not_a_change(client, make_token, beta):
    editor = make_token("editor")
    reuse(client, editor)
    push_beta(client, beta, "de", {"title": "Entwurf", "content": "<p>neu</p>", "status": "draft"})
    assert client.get(CHANGES, headers=bearer(editor)).json["items"] == []


def test_deleted_origin_is_flagged_as_missing(app, client, make_token, beta):
    editor = make_token("editor")
    reuse(client, editor)
    # No service deletes pages yet (the CMS never does); delete the origin in the database.
    from sqlalchemy import select

    from memory.models import Page, Region
    from tm_service.extensions import db

    with app.app_context():
        origin = db.session.scalar(
            select(Page).join(Region).where(Region.slug == "beta", Page.external_id == "50")
        )
        db.session.delete(origin)
        db.session.commit()

    items = client.get(CHANGES, headers=bearer(editor)).json["items"]
    assert len(items) == 1
    assert items[0]["derived_from"] is None
    assert all(lang["origin_missing"] and lang["flagged"] for lang in items[0]["languages"])


def test_upstream_changes_are_read_by_tokens_of_the_region_only(client, make_token, beta):
    reuse(client, make_token("editor"))
    assert client.get(CHANGES).status_code == 401
    assert client.get(UPSTREAM).status_code == 401
    other = bearer(make_token("admin", region="beta"))
    assert client.get(CHANGES, headers=other).status_code == 403
    assert client.get(UPSTREAM, headers=other).status_code == 403
    translator = bearer(make_token("translator"))
    assert client.get(CHANGES, headers=translator).status_code == 200
    assert client.get(UPSTREAM, headers=translator).status_code == 200
    global_admin = bearer(make_token("admin", region=None))
    assert client.get(UPSTREAM, headers=global_admin).status_code == 200


def test_upstream_of_a_page_not_reused_is_404(client, make_token, beta):
    token = make_token("cms")
    client.put(
        "/api/v1/regions/alpha/pages/100/translations/de",
        json={"title": "Eigene Seite"},
        headers=bearer(token),
    )
    response = client.get("/api/v1/regions/alpha/pages/100/upstream", headers=bearer(token))
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"


def test_the_new_page_gets_a_readable_id_from_the_title_and_a_free_one_when_taken(
    client, make_token, beta
):
    editor = make_token("editor")
    cms = make_token("cms")
    client.put(
        "/api/v1/regions/alpha/pages/anmeldung/translations/de",
        json={"title": "Anmeldung", "content": "<p>Unsere eigene Seite.</p>"},
        headers=bearer(cms),
    )
    push_beta(
        client,
        beta,
        "de",
        {"title": "Sprachkurse für Zugewanderte", "content": "<p>Kurse.</p>"},
        page="90",
    )

    first = reuse(client, editor)
    umlaut = reuse(client, editor, from_page="90")

    assert first.status_code == 201, first.json
    assert first.json["external_id"] == "anmeldung-2"  # "anmeldung" is alpha's own page
    assert umlaut.json["external_id"] == "sprachkurse-fuer-zugewanderte"


def test_the_preview_lists_languages_words_and_local_details_and_stores_nothing(
    client, make_token, beta
):
    editor = make_token("editor")

    response = client.get(
        "/api/v1/regions/alpha/pages/reuse/preview",
        query_string={"from_region": "beta", "from_page": "50"},
        headers=bearer(editor),
    )

    assert response.status_code == 200, response.json
    preview = response.json
    assert preview["external_id"] == "anmeldung"
    assert [(item["language"], item["words"]) for item in preview["languages"]] == [
        ("de", 16),
        ("en", 9),
    ]
    assert preview["words"] == 25
    assert preview["nothing_to_gain"] is False
    assert alpha_pages(client, make_token) == 0  # read only
    assert reuse(client, editor).status_code == 201
    again = client.get(
        "/api/v1/regions/alpha/pages/reuse/preview",
        query_string={"from_region": "beta", "from_page": "50"},
        headers=bearer(editor),
    ).json
    assert again["duplicates"] == [{"external_id": "anmeldung", "reason": "started_from_this_page"}]


def test_the_preview_warns_when_the_page_has_every_language_already(client, make_token, beta):
    cms = make_token("cms")
    for language, body in (("de", GERMAN), ("en", ENGLISH)):
        client.put(
            f"/api/v1/regions/alpha/pages/a1/translations/{language}",
            json=body,
            headers=bearer(cms),
        )

    preview = client.get(
        "/api/v1/regions/alpha/pages/reuse/preview",
        query_string={"from_region": "beta", "from_page": "50", "for_page": "a1"},
        headers=bearer(make_token("editor")),
    ).json

    assert preview["nothing_to_gain"] is True
    assert preview["duplicates"][-1]["languages_gained"] == []
