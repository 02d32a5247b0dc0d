"""The units a lookup reads (`found_units.units_of_forms`): the oldest few per source form, with
the region and page a match shows, and scored exactly as the ORM units they stand for."""

from __future__ import annotations

from dataclasses import fields

from sqlalchemy import select

from memory.models import Language, Origin, Page, Region
from memory.services.translation_memory import lookup, segment_key, unit_key
from memory.services.translation_memory.found_units import (
    MAX_UNITS_PER_FORM,
    FoundUnit,
    RegionRef,
    units_of_forms,
)
from memory.tm_models import TranslationUnit
from tests.api.test_translation_memory import push, refresh_everything
from tm_service.extensions import db
from tm_service.jobs import get_tm_index


def add_units(source: str, targets: list[str], **fields) -> list[int]:
    """Units of `source` (de → en) with these targets, no region or page unless given."""
    session = db.session
    de, en = (
        session.scalar(select(Language).where(Language.code == code)) for code in ("de", "en")
    )
    source_key = segment_key(source, "de")
    ids = []
    for target in targets:
        target_key = segment_key(target, "en")
        unit = TranslationUnit(
            unit_key=unit_key(source, target, de.id, en.id, fields.get("region_id"), None),
            source_language_id=de.id,
            target_language_id=en.id,
            source_text=source,
            target_text=target,
            source_form=source_key.form,
            target_form=target_key.form,
            source_hash=source_key.hash,
            target_hash=target_key.hash,
            license="CC BY 4.0",
            attribution="a test",
            **fields,
        )
        session.add(unit)
        session.flush()
        ids.append(unit.id)
    session.commit()
    return ids


def test_a_form_with_more_units_than_the_cap_gives_its_oldest(app):
    with app.app_context():
        crowded = add_units(
            "Bitte melden Sie sich an.", [f"Please register, variant {n}." for n in range(60)]
        )
        other = add_units("Die Kita ist geschlossen.", ["The daycare is closed."])
        de, en = (
            db.session.scalar(select(Language.id).where(Language.code == code))
            for code in ("de", "en")
        )
        hashes = [
            segment_key("Bitte melden Sie sich an.", "de").hash,
            segment_key("Die Kita ist geschlossen.", "de").hash,
            segment_key("Nicht im Speicher.", "de").hash,
        ]
        found = units_of_forms(db.session, de, en, hashes)

    assert [unit.id for unit in found] == sorted(crowded)[:MAX_UNITS_PER_FORM] + other
    assert {unit.region for unit in found} == {None} and {unit.page for unit in found} == {None}
    assert found[0].origin is Origin.HUMAN and found[0].target_text.startswith("Please register")
    assert units_of_forms(db.session, de, en, []) == []


def test_a_page_unit_names_its_region_and_page_and_matches_as_the_orm_unit(app):
    push(app, "alpha", "p1", "de", "Anmeldung", "<p>Melden Sie Ihren Wohnsitz im Rathaus an.</p>")
    push(app, "alpha", "p1", "en", "Registration", "<p>Register your address at city hall.</p>")
    refresh_everything(app)
    with app.app_context():
        unit = db.session.scalars(
            select(TranslationUnit).where(TranslationUnit.source_text.contains("Wohnsitz"))
        ).one()
        region = db.session.get(Region, unit.region_id)
        page = db.session.get(Page, unit.page_id)
        (found,) = units_of_forms(
            db.session, unit.source_language_id, unit.target_language_id, [unit.source_hash]
        )
        # Every column a FoundUnit has holds what the ORM unit holds, with the same types.
        for field in fields(FoundUnit):
            if field.name not in ("region", "page"):
                assert getattr(found, field.name) == getattr(unit, field.name), field.name
        assert found.origin is Origin.HUMAN and found.translated_at.tzinfo is not None
        assert found.region == RegionRef(region.slug, region.name)
        assert found.page.external_id == page.external_id == "p1"

        (fuzzy,) = lookup(
            db.session,
            get_tm_index(app),
            text="Melden Sie Ihren Wohnsitz im Rathaus an!",
            source_language="de",
            target_language="en",
            region="beta",
        )
        assert fuzzy.match.target_text == "Register your address at city hall."
        assert fuzzy.match.base_score < 100 and fuzzy.match.unit_id == unit.id
        origin = fuzzy.match.origin
        assert (origin["region"], origin["region_name"], origin["page"]) == (
            "alpha",
            region.name,
            "p1",
        )
        assert origin["date"] == unit.translated_at.isoformat()
