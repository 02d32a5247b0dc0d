"""TMX import and export through the API and the CLI: round trip with translate-toolkit,
idempotent and atomic imports, authorization, size limit."""

from __future__ import annotations

import io
import json
import time

import pytest
from sqlalchemy import func, select
from translate.storage import tmx

from memory.authorization import Actor
from memory.models import Language, Role
from memory.services.pages import push_translation
from memory.services.translation_memory import refresh_units
from memory.tm_models import TranslationUnit
from tests.conftest import bearer
from tm_service.extensions import db

PAIRS = [
    ("Rufen Sie uns an: 0821 3102-0", "Call us: 0821 3102-0"),
    ("Die Beratung ist kostenlos.", "The counselling is free of charge."),
    ("Bringen Sie Ihren Pass mit.", "Bring your passport."),
]


# An import without a region names the licence and attribution of its units.
LICENSED = {"license": "CC BY 4.0", "attribution": "Stadt Augsburg"}


def toolkit_tmx(pairs=PAIRS, target="en") -> bytes:
    store = tmx.tmxfile(sourcelanguage="de", targetlanguage=target)
    for source, translation in pairs:
        store.addtranslation(source, "de", translation, target)
    return bytes(store)


def unit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(TranslationUnit.id))) or 0


def post_tmx(client, token, body: bytes, *, content_type="application/xml", **query):
    return client.post(
        "/api/v1/tm/import",
        data=body,
        headers={**bearer(token), "Content-Type": content_type},
        query_string=query,
    )


def test_import_of_a_translate_toolkit_file_then_lookup(app, client, make_token):
    token = make_token("admin", None)
    response = post_tmx(client, token, toolkit_tmx(), batch="toolkit", **LICENSED)
    assert response.status_code == 200, response.json
    assert response.json["created"] == 3
    assert response.json["batch"] == "toolkit"
    found = client.post(
        "/api/v1/tm/lookup",
        json={
            "text": "Rufen Sie uns an: 07151 501-0",
            "source_language": "de",
            "target_language": "en",
        },
    ).json["matches"][0]
    assert found["text"] == "Call us: 07151 501-0"
    assert found["origin"]["import_batch"] == "toolkit"


def test_importing_the_same_file_twice_changes_nothing(app, client, make_token):
    token = make_token("admin", None)
    first = post_tmx(client, token, toolkit_tmx(), **LICENSED)
    second = post_tmx(client, token, toolkit_tmx(), **LICENSED)
    assert first.json["created"] == 3
    assert second.json["created"] == 0
    assert second.json["unchanged"] == 3
    assert unit_count(app) == 3


def test_a_truncated_file_is_rejected_and_leaves_nothing(app, client, make_token):
    token = make_token("admin", None)
    # Enough units that some are flushed before the file breaks off.
    many = [(f"Satz Nummer {n} hier.", f"Sentence number {n} here.") for n in range(2500)]
    whole = toolkit_tmx(many, target="uk")
    response = post_tmx(client, token, whole[: len(whole) - 200], **LICENSED)
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "line" in response.json["detail"]
    assert "file" in response.json["errors"]
    assert unit_count(app) == 0
    with app.app_context():  # the language it would have created is gone too
        assert db.session.scalar(select(Language).where(Language.code == "uk")) is None


def test_multipart_upload_works_too(app, client, make_token):
    token = make_token("admin", None)
    response = client.post(
        "/api/v1/tm/import",
        data={"file": (io.BytesIO(toolkit_tmx()), "memory.tmx")},
        headers=bearer(token),
        content_type="multipart/form-data",
        query_string={"region": "alpha"},
    )
    assert response.status_code == 200, response.json
    assert response.json["created"] == 3
    assert response.json["region"] == "alpha"


@pytest.mark.parametrize(
    ("role", "region", "query_region", "status"),
    [
        (None, None, None, 401),
        ("cms", "alpha", "alpha", 403),
        ("admin", "beta", "alpha", 403),
        ("admin", "alpha", None, 403),
        ("admin", "alpha", "alpha", 200),
        ("admin", None, None, 200),
    ],
)
def test_only_admins_import(client, make_token, role, region, query_region, status):
    headers = {"Content-Type": "application/xml"}
    if role:
        headers.update(bearer(make_token(role, region)))
    query = {"region": query_region} if query_region else LICENSED
    response = client.post(
        "/api/v1/tm/import", data=toolkit_tmx(), headers=headers, query_string=query
    )
    assert response.status_code == status


def test_wrong_media_type_and_oversized_body_are_refused(app, client, make_token):
    token = make_token("admin", None)
    assert post_tmx(client, token, b"hello", content_type="text/plain").status_code == 415
    app.config["MAX_CONTENT_LENGTH"] = 1000
    too_big = post_tmx(client, token, toolkit_tmx([("a " * 600, "b " * 600)]))
    assert too_big.status_code == 413
    assert too_big.headers["Content-Type"] == "application/problem+json"


def build_page_units(app) -> None:
    actor = Actor(role=Role.CMS, region_slug="alpha")
    with app.app_context():
        for language, title, content in (
            ("de", "Anmeldung", "<p>Melden Sie sich an.</p><p>Das ist kostenlos.</p>"),
            ("en", "Registration", "<p>Please register.</p><p>It is free.</p>"),
        ):
            push_translation(
                db.session, actor, "alpha", "5", language, {"title": title, "content": content}
            )
        push_translation(
            db.session,
            actor,
            "alpha",
            "6",
            "de",
            {"title": "Entwurf", "content": "<p>Geheim.</p>"},
        )
        push_translation(
            db.session,
            actor,
            "alpha",
            "6",
            "en",
            {"title": "Draft", "content": "<p>Secret.</p>", "status": "draft"},
        )
        from memory.models import PageTranslation

        refresh_units(db.session, db.session.scalars(select(PageTranslation.id)).all())


def test_export_is_read_by_translate_toolkit_with_provenance(app, client):
    build_page_units(app)
    response = client.get(
        "/api/v1/tm/export",
        query_string={"source_language": "de", "target_language": "en", "region": "alpha"},
    )
    assert response.status_code == 200
    assert response.mimetype == "application/x-tmx+xml"
    assert "attachment" in response.headers["Content-Disposition"]
    store = tmx.tmxfile(io.BytesIO(response.data))
    assert len(store.units) == unit_count(app) == 3
    assert {unit.source for unit in store.units} == {
        "Anmeldung",
        "Melden Sie sich an.",
        "Das ist kostenlos.",
    }
    assert b"Secret" not in response.data
    assert b'<prop type="x-license">CC BY 4.0</prop>' in response.data
    assert b'<prop type="x-region">alpha</prop>' in response.data
    assert b'<prop type="x-origin">human</prop>' in response.data
    # Alpha published these pages: approved translations, as lookups show them.
    assert response.data.count(b'<prop type="x-trust">approved</prop>') == 3


def test_export_then_import_round_trips_through_the_cli(app, runner, tmp_path):
    build_page_units(app)
    out = tmp_path / "alpha.tmx"
    exported = runner.invoke(
        args=[
            "tm",
            "tmx-export",
            str(out),
            "--source-language",
            "de",
            "--target-language",
            "en",
        ]
    )
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.output)["units"] == 3
    assert len(tmx.tmxfile(io.BytesIO(out.read_bytes())).units) == 3
    imported = runner.invoke(args=["tm", "tmx-import", str(out), "--region", "beta"])
    assert imported.exit_code == 0, imported.output
    # The report on stdout; progress (embedding the new units' sentences) on stderr.
    assert json.loads(imported.stdout)["created"] == 3
    again = runner.invoke(args=["tm", "tmx-import", str(out), "--region", "beta"])
    assert json.loads(again.stdout)["created"] == 0
    with app.app_context():
        licences = db.session.scalars(
            select(TranslationUnit.license).where(TranslationUnit.import_batch.is_not(None))
        ).all()
    assert licences == ["CC BY 4.0"] * 3


def test_cli_rejects_a_broken_file(app, runner, tmp_path):
    broken = tmp_path / "broken.tmx"
    broken.write_bytes(toolkit_tmx()[:-40])
    result = runner.invoke(
        args=[
            "tm",
            "tmx-import",
            str(broken),
            "--license",
            "CC BY 4.0",
            "--attribution",
            "Augsburg",
        ]
    )
    assert result.exit_code != 0
    assert "rejected at line" in result.output
    assert unit_count(app) == 0


def test_rebuild_units_and_index_commands(app, runner):
    build_page_units(app)
    rebuilt = runner.invoke(args=["tm", "rebuild-units", "--region", "alpha"])
    assert rebuilt.exit_code == 0, rebuilt.output
    report = json.loads(rebuilt.stdout.strip().splitlines()[-1])
    assert report["created"] == 0 and report["unchanged"] == 3
    index = runner.invoke(args=["tm", "rebuild-index"])
    assert index.exit_code == 0, index.output
    assert json.loads(index.output)["units"] == 3


def test_export_of_an_unknown_language_names_the_field(client):
    response = client.get(
        "/api/v1/tm/export", query_string={"source_language": "de", "target_language": "xx"}
    )
    assert response.status_code == 404
    assert "target_language" in response.json["errors"]


# --- bounds, language tags, unit identity, licence ----------------------------------------

TMX_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<tmx version="1.4"><header creationtool="t" '
    'creationtoolversion="1" datatype="plaintext" segtype="sentence" adminlang="en" '
    'srclang="de" o-tmf="t"/><body>\n'
)


def hand_written_tmx(body: str) -> bytes:
    return (TMX_HEAD + body + "\n</body></tmx>\n").encode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '<tu><tuv xml:lang="de"><seg>' + "Wort " * 1_800_000 + "</seg></tuv>"
            '<tuv xml:lang="en"><seg>word</seg></tuv></tu>',
            "<seg> longer than 10000 characters",
        ),
        (
            '<tu><tuv xml:lang="de"><seg>Hallo</seg></tuv>'
            + "".join(f'<tuv xml:lang="en"><seg>x{n}</seg></tuv>' for n in range(100_000))
            + "</tu>",
            "<tu> with more than",
        ),
    ],
    ids=["9 MB segment", "100 000 tuvs"],
)
def test_a_tu_over_the_bounds_is_refused_fast_with_422_and_stores_nothing(
    app, client, make_token, body, message
):
    token = make_token("admin", "alpha")
    started = time.perf_counter()
    response = post_tmx(client, token, hand_written_tmx(body), region="alpha")
    elapsed = time.perf_counter() - started

    assert response.status_code == 422, response.json
    assert response.headers["Content-Type"] == "application/problem+json"
    assert message in response.json["detail"]
    assert "at line 3" in response.json["detail"]
    assert unit_count(app) == 0
    # Far inside a worker timeout (before: 20–40 s of matching-form work, then a 200).
    assert elapsed < 3.0


def test_a_tmx_language_that_is_not_bcp_47_is_refused_and_creates_no_language(
    app, client, make_token
):
    token = make_token("admin", "alpha")
    body = hand_written_tmx(
        '<tu><tuv xml:lang="de"><seg>Hallo</seg></tuv><tuv xml:lang="12"><seg>Hi</seg></tuv></tu>'
    )

    response = post_tmx(client, token, body, region="alpha")

    assert response.status_code == 422
    assert "not a language code: '12'" in response.json["detail"]
    assert unit_count(app) == 0
    with app.app_context():
        assert db.session.scalar(select(Language).where(Language.code == "12")) is None
    assert client.get("/api/v1/languages/12").status_code in (404, 422)


ROOMS = [(f"Raum {n}", f"Room {n}") for n in (202, 303, 404, 505, 606)]


def test_units_that_differ_only_in_numbers_stay_distinct_through_import_and_export(
    app, client, runner, make_token, tmp_path
):
    rooms = tmp_path / "rooms.tmx"
    rooms.write_bytes(toolkit_tmx(ROOMS))
    contacts = [
        ("Rufen Sie 0821 3102-0 an.", "Call 0821 3102-0."),
        ("Rufen Sie 08231 96650 an.", "Call 08231 96650."),
        ("Mehr unter https://www.augsburg.de/", "More at https://www.augsburg.de/"),
        ("Mehr unter https://www.muenchen.de/", "More at https://www.muenchen.de/"),
    ]
    token = make_token("admin", "alpha")

    response = post_tmx(client, token, rooms.read_bytes(), region="alpha")
    assert (response.json["created"], response.json["unchanged"]) == (5, 0)
    response = post_tmx(client, token, toolkit_tmx(contacts), region="alpha")
    assert (response.json["created"], response.json["unchanged"]) == (4, 0)

    exported = client.get(
        "/api/v1/tm/export",
        query_string={"source_language": "de", "target_language": "en", "region": "alpha"},
    )
    store = tmx.tmxfile(io.BytesIO(exported.data))
    assert sorted((unit.source, unit.target) for unit in store.units) == sorted(ROOMS + contacts)

    # The export round-trips: into another region as new units, into its own as unchanged.
    out = tmp_path / "alpha.tmx"
    out.write_bytes(exported.data)
    into_beta = runner.invoke(args=["tm", "tmx-import", str(out), "--region", "beta"])
    assert json.loads(into_beta.stdout)["created"] == 9, into_beta.output
    again = post_tmx(client, token, out.read_bytes(), region="alpha")
    assert (again.json["created"], again.json["unchanged"]) == (0, 9)
    assert unit_count(app) == 18

    # Each unit is found with its own number when asked for it exactly.
    found = client.post(
        "/api/v1/tm/lookup",
        json={"text": "Raum 303", "source_language": "de", "target_language": "en"},
    ).json["matches"]
    assert found[0]["kind"] == "exact" and found[0]["text"] == "Room 303"


def test_an_import_without_region_or_licence_is_refused_and_stores_nothing(app, client, make_token):
    token = make_token("admin", None)

    response = post_tmx(client, token, toolkit_tmx())
    no_attribution = post_tmx(client, token, toolkit_tmx(), license="CC BY 4.0")

    assert response.status_code == 422
    assert "license" in response.json["errors"]
    assert "no licence" in response.json["detail"]
    assert no_attribution.status_code == 422
    assert "attribution" in no_attribution.json["errors"]
    assert unit_count(app) == 0


def test_matches_of_an_import_without_region_name_the_licence_attribution_and_link(
    app, client, make_token
):
    token = make_token("admin", None)
    response = post_tmx(
        client,
        token,
        toolkit_tmx(),
        license="CC BY-SA 4.0",
        attribution="Übersetzungsbüro Beispiel",
        url="https://example.org/tm",
    )
    assert response.status_code == 200, response.json

    found = client.post(
        "/api/v1/tm/lookup",
        json={
            "text": "Bringen Sie Ihren Pass mit.",
            "source_language": "de",
            "target_language": "en",
        },
    ).json["matches"][0]

    assert found["origin"]["license"] == "CC BY-SA 4.0"
    assert found["origin"]["attribution"] == "Übersetzungsbüro Beispiel"
    assert found["origin"]["url"] == "https://example.org/tm"


def test_units_carrying_their_own_licence_need_no_import_licence(app, client, make_token):
    build_page_units(app)
    exported = client.get(
        "/api/v1/tm/export", query_string={"source_language": "de", "target_language": "en"}
    ).data
    token = make_token("admin", None)

    response = post_tmx(client, token, exported)

    assert response.status_code == 200, response.json
    assert response.json["created"] == 3
    with app.app_context():
        imported = db.session.scalars(
            select(TranslationUnit).where(TranslationUnit.import_batch.is_not(None))
        ).all()
        assert {(unit.license, unit.attribution) for unit in imported} == {
            ("CC BY 4.0", "Alpha County — shared under CC BY 4.0")
        }
