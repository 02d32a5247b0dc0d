"""Demo data shipped in the repo: Landkreis Augsburg dumps and the CMS fixture's two cities."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.cms_fixture import read_cms_fixture
from connectors.integreat import read_dumps
from memory.models import Region
from memory.services.imports import ImportReport, import_cms_fixture, import_integreat_pages
from memory.services.regions import get_region

DEMO_DIR = Path(__file__).resolve().parent / "demo"
INTEGREAT_ATTRIBUTION = "Integreat / Tür an Tür – Digitalfabrik gGmbH and {name}"


def demo_loaded(session: Session) -> bool:
    return session.scalar(select(Region.id).where(Region.slug == "lkaugsburg")) is not None


def load_demo(session: Session) -> list[ImportReport]:
    """Import the demo regions (idempotent) and connect the neighbouring ones."""
    reports = import_cms_fixture(
        session,
        read_cms_fixture(DEMO_DIR / "integreat_cms_test_data.json.gz"),
        regions=["augsburg", "nurnberg"],
    )
    reports.append(
        import_integreat_pages(
            session,
            None,
            "lkaugsburg",
            read_dumps(DEMO_DIR),
            region_name="Landkreis Augsburg",
        )
    )
    county = get_region(session, "lkaugsburg")
    county.latitude, county.longitude = 48.3755, 10.7167
    city = get_region(session, "augsburg")
    for region in (county, city, get_region(session, "nurnberg")):
        region.attribution = INTEGREAT_ATTRIBUTION.format(name=region.name)
        region.base_url = "https://integreat.app"
    # The county surrounds the city of Augsburg.
    if city not in county.neighbours:
        county.neighbours.append(city)
        city.neighbours.append(county)
    session.commit()
    load_starter_termbase(session)
    return reports


def load_starter_termbase(session: Session) -> None:
    """The shared starter termbase (real deprecations and names, with sources); idempotent."""
    from memory.services.terminology import import_termbase

    with (DEMO_DIR / "terminology_starter.tbx").open("rb") as stream:
        import_termbase(session, None, stream, format="tbx", scope="shared")
