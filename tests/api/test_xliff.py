"""XLIFF 1.2 and 2.0 round trip on Landkreis Augsburg's pages (de → en): exports that
translate-toolkit reads with one pre-filled unit per segment, imports of returned files that
store a draft version and reviewed units, idempotent and atomic, through the API and the CLI.

Page texts: Integreat / Tür an Tür – Digitalfabrik gGmbH and Landkreis Augsburg, CC BY 4.0.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from translate.storage import xliff, xliff2

from memory.models import Page, PageTranslation, Region, Role, TranslationStatus
from memory.segmentation import build_template
from memory.services import tokens as token_service
from memory.services.translation_memory import REVIEW_BATCH
from memory.tm_models import TmRevision, TranslationUnit
from tests.conftest import app_with_augsburg, bearer, copy_of_seeded_app
from tm_service.extensions import db

REGION = "lkaugsburg"
# Two real pages: one with an own English translation of most segments, memory candidates and
# segments without any; one with links (inline tags).
PAGES = ["5405874", "5387617"]
EDITED = "Edited by the agency: everybody belongs."
XLIFF12 = "{urn:oasis:names:tc:xliff:document:1.2}"
XLIFF20 = "{urn:oasis:names:tc:xliff:document:2.0}"


@pytest.fixture(scope="module")
def augsburg_database(tmp_path_factory: pytest.TempPathFactory, seeded_database: Path) -> Path:
    folder = tmp_path_factory.mktemp("xliff")
    app = app_with_augsburg(folder, seeded_database)
    with app.app_context():
        db.engine.dispose()
    return folder / "tm.sqlite3"


@pytest.fixture
def augsburg(tmp_path: Path, augsburg_database: Path):
    with copy_of_seeded_app(tmp_path, augsburg_database) as app:
        yield app


@pytest.fixture
def client(augsburg):
    return augsburg.test_client()


def token(app, role: str = "cms") -> str:
    with app.app_context():
        return token_service.create_token(
            db.session, None, role=Role(role), region_slug=REGION
        ).plaintext


def export(client, secret: str, version: str, pages=PAGES) -> bytes:
    response = client.get(
        f"/api/v1/regions/{REGION}/xliff",
        query_string={"target_language": "en", "version": version, "page": pages},
        headers=bearer(secret),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/xliff+xml"
    return response.get_data()


def post(client, secret: str, body: bytes, **query):
    return client.post(
        f"/api/v1/regions/{REGION}/xliff",
        data=body,
        headers={**bearer(secret), "Content-Type": "application/xliff+xml"},
        query_string=query,
    )


def parse(data: bytes, version: str):
    store = (xliff.xlifffile if version == "1.2" else xliff2.Xliff2File).parsestring(data)
    assert store.units
    return store


def local_id(unit, version: str) -> str:
    element = unit.xmlelement if version == "1.2" else unit.getunitelement()
    return element.get("id")


def notes_of(unit, version: str) -> str:
    if version == "1.2":
        return unit.getnotes()
    # XLIFF 2.0 puts notes in the <unit>, before its segments.
    return " ".join(note.text or "" for note in unit.getunitelement().iter(f"{XLIFF20}note"))


def returned(data: bytes, version: str, edits: dict[str, str]) -> bytes:
    """The agency's file: `edits` by unit id, every empty target translated, all settled."""
    store = parse(data, version)
    for unit in store.units:
        identifier = local_id(unit, version)
        if identifier in edits:
            unit.target = edits[identifier]
        elif not unit.target:
            unit.target = f"EN {unit.source}"
        if version == "1.2":
            unit.set_state_n(unit.statemap["translated"])
        else:
            unit.marktranslated()
    return bytes(store)


def segments_of(app, page: str) -> list[str]:
    """The unit ids the page's current German version needs: its title and every segment."""
    with app.app_context():
        source = db.session.scalars(
            select(PageTranslation)
            .join(Page)
            .join(Region)
            .where(Region.slug == REGION, Page.external_id == page)
            .where(PageTranslation.language.has(code="de"))
            .order_by(PageTranslation.version.desc())
        ).first()
        assert source is not None
        template = build_template(source.content, "de")
        ids = [f"{page}.v{source.version}.title-0"] if source.title.strip() else []
        return ids + [f"{page}.v{source.version}.content-{s.index}" for s in template.segments]


def state(app) -> tuple[int, int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count(PageTranslation.id))) or 0,
            db.session.scalar(select(func.count(TranslationUnit.id))) or 0,
            db.session.scalar(select(TmRevision.revision)) or 0,
        )


@pytest.mark.parametrize("version", ["1.2", "2.0"])
def test_export_parses_with_translate_toolkit_one_prefilled_unit_per_segment(
    augsburg, client, version
):
    store = parse(export(client, token(augsburg), version), version)

    ids = [local_id(unit, version) for unit in store.units]
    assert ids == segments_of(augsburg, PAGES[0]) + segments_of(augsburg, PAGES[1])
    assert store.sourcelanguage == "de"
    assert store.targetlanguage == "en"
    by_id = {local_id(unit, version): unit for unit in store.units}
    # The title: the page's own current English title, sure (translated).
    title = by_id[f"{PAGES[0]}.v1.title-0"]
    assert title.source == "Gemeinsam für Inklusion"
    assert title.target
    assert title.istranslated()
    prefilled = [unit for unit in store.units if unit.target]
    assert len(prefilled) >= 5
    # A segment without any candidate says so; its target is left to the translator.
    assert all("No candidate" in notes_of(unit, version) for unit in store.units if not unit.target)
    # Memory candidates wait for review and say where they come from.
    waiting = [unit for unit in prefilled if not unit.istranslated() or unit.isfuzzy()]
    assert waiting
    assert all("match" in notes_of(unit, version) for unit in waiting)
    # Inline tags of the source are XLIFF inline elements, never escaped text.
    serialized = bytes(store).decode()
    assert ('<g id="1">' if version == "1.2" else '<pc id="1">') in serialized
    assert "&lt;g1&gt;" not in serialized
    if version == "1.2":
        assert any(unit.getalttrans() for unit in store.units)


@pytest.mark.parametrize("version", ["1.2", "2.0"])
def test_edited_target_imports_as_draft_with_a_reviewed_unit_and_twice_changes_nothing(
    augsburg, client, version
):
    secret = token(augsburg)
    edited = f"{PAGES[0]}.v1.content-2"
    body = returned(export(client, secret, version), version, {edited: EDITED})
    before = state(augsburg)

    first = post(client, secret, body)

    assert first.status_code == 200, first.json
    assert first.json["created"] == 2
    assert first.json["status"] == "draft"
    assert first.json["reviewed_units"] >= 1
    with augsburg.app_context():
        unit = db.session.scalar(
            select(TranslationUnit).where(TranslationUnit.target_text == EDITED)
        )
        assert unit is not None
        assert unit.reviewed
        assert unit.import_batch == REVIEW_BATCH
        assert unit.region.slug == REGION
        assert unit.page.external_id == PAGES[0]
        assert unit.source_text.startswith("Inklusion heißt: Jeder Mensch gehört")
    draft = client.get(
        f"/api/v1/regions/{REGION}/pages/{PAGES[0]}/translations/en",
        query_string={"include_drafts": "true"},
        headers=bearer(secret),
    ).json
    assert draft["status"] == "draft"
    assert EDITED in draft["content"]
    assert draft["source_version"] == 1
    public = client.get(f"/api/v1/regions/{REGION}/pages/{PAGES[0]}/translations/en").json
    assert public["status"] == "public"
    assert EDITED not in public["content"]
    after_first = state(augsburg)
    assert after_first[0] == before[0] + 2

    second = post(client, secret, body)

    assert second.status_code == 200, second.json
    assert second.json["created"] == 0
    assert second.json["unchanged"] == 2
    assert second.json["reviewed_units"] == 0
    assert state(augsburg) == after_first


def test_truncated_file_stores_nothing(augsburg, client):
    secret = token(augsburg)
    body = returned(export(client, secret, "1.2"), "1.2", {})
    before = state(augsburg)

    response = post(client, secret, body[: len(body) * 2 // 3])

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "not well-formed" in response.json["detail"]
    assert state(augsburg) == before


def test_a_missing_unit_or_a_foreign_tag_is_refused_naming_the_unit(augsburg, client):
    secret = token(augsburg)
    data = returned(export(client, secret, "1.2"), "1.2", {})
    store = parse(data, "1.2")
    dropped = store.units[3]
    dropped_id = local_id(dropped, "1.2")
    dropped.xmlelement.getparent().remove(dropped.xmlelement)
    tagged = store.units[4]
    tagged.target = "Call <x7/> now"
    tagged_node = tagged.xmlelement.find(f"{XLIFF12}target")
    tagged_node.text = "Call "
    extra = tagged_node.makeelement(f"{XLIFF12}x", {"id": "77"})
    extra.tail = " now"
    tagged_node.append(extra)
    before = state(augsburg)

    response = post(client, secret, bytes(store))

    assert response.status_code == 422
    listed = " ".join(response.json["errors"]["units"])
    assert f"unit {dropped_id}: missing" in listed
    assert f"unit {local_id(tagged, '1.2')}: the target has inline tags the source lacks" in listed
    assert state(augsburg) == before


def test_a_page_changed_since_export_is_refused_or_imported_as_outdated(augsburg, client):
    secret = token(augsburg)
    body = returned(export(client, secret, "2.0", pages=[PAGES[0]]), "2.0", {})
    current = client.get(f"/api/v1/regions/{REGION}/pages/{PAGES[0]}/translations/de").json
    pushed = client.put(
        f"/api/v1/regions/{REGION}/pages/{PAGES[0]}/translations/de",
        json={"title": current["title"], "content": current["content"] + "<p>Neu.</p>"},
        headers=bearer(secret),
    )
    assert pushed.status_code == 201, pushed.json
    before = state(augsburg)

    refused = post(client, secret, body)

    assert refused.status_code == 422
    assert PAGES[0] in refused.json["detail"]
    assert "on_changed=outdated" in refused.json["detail"]
    assert state(augsburg) == before

    outdated = post(client, secret, body, on_changed="outdated", publish="true")

    assert outdated.status_code == 200, outdated.json
    assert outdated.json["outdated"] == [PAGES[0]]
    stored = client.get(f"/api/v1/regions/{REGION}/pages/{PAGES[0]}/translations/en").json
    assert stored["status"] == TranslationStatus.PUBLIC.value
    assert stored["outdated"] is True
    assert stored["source_version"] == 1


def test_a_translator_token_may_export_but_not_import(augsburg, client):
    translator = token(augsburg, "translator")
    body = returned(export(client, translator, "1.2", pages=[PAGES[1]]), "1.2", {})

    response = post(client, translator, body)

    assert response.status_code == 403


def test_cli_exports_and_imports_a_region_page(augsburg, tmp_path):
    runner = augsburg.test_cli_runner()
    out = tmp_path / "lkaugsburg-en.xlf"

    exported = runner.invoke(
        args=["tm", "xliff-export", str(out), "--region", REGION, "--target-language", "en",
              "--version", "2.0", "--page", PAGES[1]]
    )  # fmt: skip

    assert exported.exit_code == 0, exported.output
    assert '"units": ' in exported.output
    ids = [local_id(unit, "2.0") for unit in parse(out.read_bytes(), "2.0").units]
    assert ids == segments_of(augsburg, PAGES[1])
    out.write_bytes(returned(out.read_bytes(), "2.0", {}))

    imported = runner.invoke(args=["tm", "xliff-import", str(out), "--region", REGION])

    assert imported.exit_code == 0, imported.output
    assert '"created": 1' in imported.output
    again = runner.invoke(args=["tm", "xliff-import", str(out), "--region", REGION])
    assert '"created": 0' in again.output
    out.write_bytes(out.read_bytes()[:-300])
    broken = runner.invoke(args=["tm", "xliff-import", str(out), "--region", REGION])
    assert broken.exit_code != 0
    assert "Nothing was imported" in broken.output
