"""Every write route × every kind of caller. A new write route without an entry here fails."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from connectors.xliff import WriteFile, WriteUnit, unit_id, write_xliff
from memory.authorization import Actor
from memory.models import ApiToken, Role, utcnow
from memory.services.gazetteer import put_entry
from memory.services.pages import push_translation
from memory.services.reuse import reuse_page
from memory.services.suggestions import suggest_translations
from memory.services.terminology import put_concept
from memory.services.translation_memory import TranslationMemoryIndex
from tests.conftest import bearer
from tm_service.extensions import db

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
ROLES = ("cms", "editor", "translator", "admin")
_counter = itertools.count()

TMX = """<?xml version="1.0" encoding="UTF-8"?>
<tmx version="1.4"><header creationtool="t" creationtoolversion="1" datatype="plaintext"
segtype="sentence" adminlang="en" srclang="de" o-tmf="t"/><body>
<tu><tuv xml:lang="de"><seg>Guten Tag {n}</seg></tuv>
<tuv xml:lang="en"><seg>Good day {n}</seg></tuv></tu>
</body></tmx>"""


@dataclass(frozen=True)
class Entry:
    """How to call one write route against `region`, and who may."""

    request: Callable[..., tuple[str, str, dict]]  # region → (method, url, client kwargs)
    roles: frozenset[str]  # roles allowed with a token of the target region
    global_admin: bool = True
    public: bool = False  # a POST that only reads (lookups): anyone may
    # Builds what the call acts on (app, region) → passed to `request` as its second argument.
    setup: Callable[[Flask, str], Any] | None = None
    # A token of another region: 403, or 404 where the route names a resource by a bare id
    # (a 403 would tell that the id exists in some other region).
    other_region_status: int = 403


def _push(region: str):
    return (
        "PUT",
        f"/api/v1/regions/{region}/pages/p{next(_counter)}/translations/de",
        {"json": {"title": "Seite"}},
    )


def _patch_region(region: str):
    return ("PATCH", f"/api/v1/regions/{region}", {"json": {"name": f"Name {next(_counter)}"}})


def _create_region(region: str):
    return ("POST", "/api/v1/regions", {"json": {"slug": f"new-{next(_counter)}", "name": "New"}})


def _put_language(region: str):
    return (
        "PUT",
        f"/api/v1/languages/x{chr(97 + next(_counter) % 26)}",
        {"json": {"name": "X"}},
    )


def _tmx_import(region: str):
    body = TMX.replace("{n}", str(next(_counter))).encode()
    return (
        "POST",
        f"/api/v1/tm/import?region={region}",
        {"data": body, "content_type": "application/xml"},
    )


def _lookup(region: str):
    body = {"text": "Guten Tag", "source_language": "de", "target_language": "en", "region": region}
    return ("POST", "/api/v1/tm/lookup", {"json": body})


def _suggest(region: str):
    body = {
        "text": f"Guten Tag {next(_counter)}",
        "source_language": "de",
        "target_language": "en",
        "queue": True,
    }
    return ("POST", f"/api/v1/regions/{region}/suggestions", {"json": body})


def _pending_suggestion(app: Flask, region: str) -> int:
    """A queued suggestion of `region` with one candidate, stored through the service."""
    with app.app_context():
        result = suggest_translations(
            db.session,
            TranslationMemoryIndex(),
            Actor(role=Role.ADMIN, region_slug=None),
            region,
            text=f"Guten Abend {next(_counter)}",
            source_language="de",
            target_language="en",
            queue=True,
        )
        suggestion = result.segments[0].suggestion
        assert suggestion is not None
        suggestion.candidates = [{"text": "Good evening", "kind": "fuzzy", "source": "x"}]
        db.session.commit()
        return suggestion.id


def _review(region: str, suggestion_id: int):
    # Permissions, not quality: the text's failed checks (the source's number) are confirmed.
    body = {"decision": "edit", "text": "Good evening", "confirm_checks": True}
    return ("POST", f"/api/v1/suggestions/{suggestion_id}/review", {"json": body})


def _public_page_of_alpha(app: Flask, region: str) -> str:
    """A public page of region alpha, to be reused by `region`."""
    external_id = f"origin{next(_counter)}"
    with app.app_context():
        push_translation(
            db.session,
            Actor(role=Role.ADMIN, region_slug=None),
            "alpha",
            external_id,
            "de",
            {"title": "Seite"},
        )
    return external_id


def _reuse(region: str, origin: str):
    body = {"from_region": "alpha", "from_page": origin}
    return ("POST", f"/api/v1/regions/{region}/pages/reuse", {"json": body})


def _reused_page(app: Flask, region: str) -> str:
    origin = _public_page_of_alpha(app, region)
    with app.app_context():
        return reuse_page(
            db.session,
            Actor(role=Role.ADMIN, region_slug=None),
            region,
            from_region="alpha",
            from_page=origin,
        ).page.external_id


def _acknowledge(region: str, external_id: str):
    url = f"/api/v1/regions/{region}/pages/{external_id}/upstream/acknowledge"
    return ("POST", url, {"json": {}})


def _gazetteer_entry(app: Flask, region: str) -> int:
    """An editor's gazetteer entry of `region`, stored through the service."""
    with app.app_context():
        entry, _ = put_entry(
            db.session,
            Actor(role=Role.ADMIN, region_slug=None),
            region,
            kind="place",
            value=f"Ort {next(_counter)}",
        )
        assert entry.id is not None
        return entry.id


def _put_gazetteer_entry(region: str):
    body = {"kind": "place", "value": f"Dorf {next(_counter)}"}
    return ("PUT", f"/api/v1/regions/{region}/gazetteer/entries", {"json": body})


def _patch_gazetteer_entry(region: str, entry_id: int):
    url = f"/api/v1/regions/{region}/gazetteer/entries/{entry_id}"
    return ("PATCH", url, {"json": {"names": {"en": "Village"}}})


def _delete_gazetteer_entry(region: str, entry_id: int):
    return ("DELETE", f"/api/v1/regions/{region}/gazetteer/entries/{entry_id}", {})


def _rebuild_gazetteer(region: str):
    return ("POST", f"/api/v1/regions/{region}/gazetteer/rebuild", {})


GAZETTEER_EDITORS = frozenset({"editor", "admin"})


def _put_concept(region: str):
    body = {"terms": [{"language": "de", "text": f"Begriff {next(_counter)}"}]}
    return ("PUT", f"/api/v1/terminology/{region}/concepts/c{next(_counter)}", {"json": body})


def _term_import(region: str):
    body = f"concept,language,term\nc{next(_counter)},de,Wort {next(_counter)}\n".encode()
    return (
        "POST",
        f"/api/v1/terminology/import?scope={region}",
        {"data": body, "content_type": "text/csv"},
    )


def _region_concept(app: Flask, region: str) -> int:
    """A concept of `region`'s own termbase, stored through the service."""
    with app.app_context():
        concept, _ = put_concept(
            db.session,
            Actor(role=Role.ADMIN, region_slug=None),
            region,
            {"key": f"k{next(_counter)}", "terms": [{"language": "de", "text": "Amt"}]},
        )
        return concept.id


def _delete_concept(region: str, concept_id: int):
    return ("DELETE", f"/api/v1/terminology/concepts/{concept_id}", {})


def _recognize(region: str):
    body = {"text": "Jobcenter", "source_language": "de", "target_language": "en", "region": region}
    return ("POST", "/api/v1/terminology/recognize", {"json": body})


TERMBASE_ADMINS = frozenset({"admin"})  # a region's admins for its own concepts


def _pretranslate(region: str):
    body = {"target_language": "en", "machine_translation": False}
    return ("POST", f"/api/v1/regions/{region}/pretranslate", {"json": body})


def _leverage_job(region: str):
    return ("POST", f"/api/v1/regions/{region}/leverage/jobs", {"json": {}})


def _decided_suggestion(app: Flask, region: str) -> int:
    """A suggestion of `region` with a decision to undo (a rejection of a candidate without a
    unit: the setup itself changes nothing the public sees)."""
    from memory.services.suggestions import review_suggestion

    suggestion_id = _pending_suggestion(app, region)
    with app.app_context():
        review_suggestion(
            db.session, Actor(role=Role.ADMIN, region_slug=None), suggestion_id, decision="reject"
        )
    return suggestion_id


def _undo(region: str, suggestion_id: int):
    return ("POST", f"/api/v1/suggestions/{suggestion_id}/undo", {})


def _xliff_file(app: Flask, region: str) -> bytes:
    """A returned XLIFF file for a new draft page of `region` (drafts leave its public state)."""
    page = f"x{next(_counter)}"
    with app.app_context():
        push_translation(
            db.session,
            Actor(role=Role.ADMIN, region_slug=None),
            region,
            page,
            "de",
            {"title": "Seite", "status": "draft"},
        )
    unit = WriteUnit(unit_id(page, 1, "title", 0), "Seite", frozenset(), "Page", done=True)
    return write_xliff(
        [WriteFile(page, (unit,))], version="1.2", source_language="de", target_language="en"
    )


def _xliff_import(region: str, body: bytes):
    return (
        "POST",
        f"/api/v1/regions/{region}/xliff",
        {"data": body, "content_type": "application/xliff+xml"},
    )


def _batch_accept(region: str):
    body = {"target_language": "en", "suggestion_ids": []}
    return ("POST", f"/api/v1/regions/{region}/suggestions/batch-accept", {"json": body})


MATRIX: dict[tuple[str, str], Entry] = {
    ("POST", "/api/v1/regions"): Entry(_create_region, roles=frozenset()),
    ("PATCH", "/api/v1/regions/<string:region>"): Entry(_patch_region, roles=frozenset({"admin"})),
    ("PUT", "/api/v1/languages/<string:code>"): Entry(_put_language, roles=frozenset()),
    (
        "PUT",
        "/api/v1/regions/<string:region>/pages/<string:external_id>/translations/<string:language>",
    ): Entry(_push, roles=frozenset({"cms", "editor", "admin"})),
    ("POST", "/api/v1/tm/import"): Entry(_tmx_import, roles=frozenset({"admin"})),
    ("POST", "/api/v1/tm/lookup"): Entry(_lookup, roles=frozenset(ROLES), public=True),
    ("POST", "/api/v1/regions/<string:region>/suggestions"): Entry(
        _suggest, roles=frozenset(ROLES)
    ),
    ("POST", "/api/v1/suggestions/<int:suggestion_id>/review"): Entry(
        _review,
        roles=frozenset({"translator", "editor", "admin"}),
        setup=_pending_suggestion,
        other_region_status=404,
    ),
    ("POST", "/api/v1/regions/<string:region>/pages/reuse"): Entry(
        _reuse, roles=frozenset({"cms", "editor", "admin"}), setup=_public_page_of_alpha
    ),
    (
        "POST",
        "/api/v1/regions/<string:region>/pages/<string:external_id>/upstream/acknowledge",
    ): Entry(_acknowledge, roles=frozenset({"cms", "editor", "admin"}), setup=_reused_page),
    ("PUT", "/api/v1/regions/<string:region>/gazetteer/entries"): Entry(
        _put_gazetteer_entry, roles=GAZETTEER_EDITORS
    ),
    ("PATCH", "/api/v1/regions/<string:region>/gazetteer/entries/<int:entry_id>"): Entry(
        _patch_gazetteer_entry, roles=GAZETTEER_EDITORS, setup=_gazetteer_entry
    ),
    ("DELETE", "/api/v1/regions/<string:region>/gazetteer/entries/<int:entry_id>"): Entry(
        _delete_gazetteer_entry, roles=GAZETTEER_EDITORS, setup=_gazetteer_entry
    ),
    ("POST", "/api/v1/regions/<string:region>/gazetteer/rebuild"): Entry(
        _rebuild_gazetteer, roles=GAZETTEER_EDITORS
    ),
    ("PUT", "/api/v1/terminology/<string:scope>/concepts/<string:key>"): Entry(
        _put_concept, roles=TERMBASE_ADMINS
    ),
    ("POST", "/api/v1/terminology/import"): Entry(_term_import, roles=TERMBASE_ADMINS),
    ("DELETE", "/api/v1/terminology/concepts/<int:concept_id>"): Entry(
        _delete_concept, roles=TERMBASE_ADMINS, setup=_region_concept
    ),
    ("POST", "/api/v1/terminology/recognize"): Entry(
        _recognize, roles=frozenset(ROLES), public=True
    ),
    # Pre-translation stores drafts: content writers only; the leverage job only reads.
    ("POST", "/api/v1/regions/<string:region>/pretranslate"): Entry(
        _pretranslate, roles=frozenset({"cms", "editor", "admin"})
    ),
    ("POST", "/api/v1/regions/<string:region>/leverage/jobs"): Entry(
        _leverage_job, roles=frozenset(ROLES)
    ),
    ("POST", "/api/v1/suggestions/<int:suggestion_id>/undo"): Entry(
        _undo,
        roles=frozenset({"translator", "editor", "admin"}),
        setup=_decided_suggestion,
        other_region_status=404,
    ),
    ("POST", "/api/v1/regions/<string:region>/suggestions/batch-accept"): Entry(
        _batch_accept, roles=frozenset({"translator", "editor", "admin"})
    ),
    # A returned XLIFF file stores page versions: content writers only.
    ("POST", "/api/v1/regions/<string:region>/xliff"): Entry(
        _xliff_import, roles=frozenset({"cms", "editor", "admin"}), setup=_xliff_file
    ),
}


def write_routes(app) -> set[tuple[str, str]]:
    """Write routes of the API (the review UI's form posts use a signed-in session and a CSRF
    token instead of bearer tokens; tests/e2e covers them)."""
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods & WRITE_METHODS
    }


def test_every_write_route_has_an_entry(app):
    missing = write_routes(app) - set(MATRIX)
    assert not missing, f"add these write routes to the permission matrix: {sorted(missing)}"


def beta_state(client) -> str:
    """Everything the public sees of region beta (and the region list)."""
    parts = [
        client.get(url).get_data(as_text=True)
        for url in (
            "/api/v1/regions",
            "/api/v1/regions/beta",
            "/api/v1/regions/beta/pages?limit=1000",
            "/api/v1/languages",
            "/api/v1/tm/export?source_language=de&target_language=en&region=beta",
        )
    ]
    # The TMX header's creation date is the time of the export, not data.
    return re.sub(r'creationdate="[0-9TZ]+"', "", "\n".join(parts))


def call(client, entry: Entry, region: str, token: str | None):
    if entry.setup is None:
        method, url, kwargs = entry.request(region)
    else:
        method, url, kwargs = entry.request(region, entry.setup(client.application, region))
    headers = bearer(token) if token else {}
    return client.open(url, method=method, headers=headers, **kwargs)


def allowed(response) -> bool:
    return response.status_code not in (401, 403)


@pytest.mark.parametrize("route", sorted(MATRIX), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_permissions_for_every_kind_of_caller(app, client, make_token, route):
    entry = MATRIX[route]
    own = {role: make_token(role, region="beta") for role in ROLES}
    other = {role: make_token(role, region="alpha") for role in ROLES}
    expired, revoked = make_token("admin", region="beta"), make_token("admin", region=None)
    with app.app_context():
        for token, field in ((expired, "expires_at"), (revoked, "revoked_at")):
            row = db.session.scalar(select(ApiToken).where(ApiToken.prefix == token.split("_")[1]))
            setattr(row, field, utcnow() - timedelta(seconds=1))
        db.session.commit()

    before = beta_state(client)
    refused = []
    anonymous = call(client, entry, "beta", None)
    if entry.public:
        assert anonymous.status_code == 200, anonymous.json
    else:
        assert anonymous.status_code == 401, anonymous.json
        refused.append("anonymous")
    for name, token in (("expired", expired), ("revoked", revoked)):
        response = call(client, entry, "beta", token)
        assert response.status_code == 401, (name, response.json)
    for role in ROLES:
        response = call(client, entry, "beta", other[role])
        if entry.public:
            assert allowed(response), (role, response.json)
        else:
            assert response.status_code == entry.other_region_status, (
                "other region",
                role,
                response.json,
            )
        if role not in entry.roles and not entry.public:
            response = call(client, entry, "beta", own[role])
            assert response.status_code == 403, ("own region, role", role, response.json)
    # Nothing a refused caller sent changed region beta.
    assert beta_state(client) == before

    for role in entry.roles:
        response = call(client, entry, "beta", own[role])
        assert allowed(response), ("own region", role, response.json)
        assert response.status_code < 300, ("own region", role, response.json)
    if entry.global_admin:
        response = call(client, entry, "beta", make_token("admin", region=None))
        assert response.status_code < 300, ("global admin", response.json)


def test_another_regions_suggestion_answers_exactly_like_a_missing_one(app, client, make_token):
    suggestion_id = _pending_suggestion(app, "alpha")
    missing_id = suggestion_id + 1000
    for role in ROLES:
        token = bearer(make_token(role, region="beta"))
        for method, path, kwargs in (
            ("GET", "/api/v1/suggestions/{}", {}),
            ("POST", "/api/v1/suggestions/{}/review", {"json": {"decision": "reject"}}),
        ):
            existing = client.open(
                path.format(suggestion_id), method=method, headers=token, **kwargs
            )
            missing = client.open(path.format(missing_id), method=method, headers=token, **kwargs)
            assert existing.status_code == missing.status_code == 404, (role, existing.json)
            # Nothing but the id differs: the answer does not tell that the id exists elsewhere.
            assert re.sub(rf"\b{suggestion_id}\b", "ID", existing.get_data(as_text=True)) == (
                re.sub(rf"\b{missing_id}\b", "ID", missing.get_data(as_text=True))
            )
    own = client.get(
        f"/api/v1/suggestions/{suggestion_id}", headers=bearer(make_token("translator"))
    )
    assert own.status_code == 200
    assert own.json["status"] == "pending"
