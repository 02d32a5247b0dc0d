"""`flask tm gazetteer-build`: build the regions' gazetteers of local details."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from memory.errors import DomainError
from memory.models import Region
from memory.services import gazetteer as gazetteer_service
from tm_service.extensions import db


def register_gazetteer_commands(group: AppGroup) -> None:
    """Add the gazetteer commands to the `tm` group."""

    @group.command("gazetteer-build")
    @click.option("--region", "region_slugs", multiple=True, help="Only this region (repeatable).")
    def gazetteer_build(region_slugs: tuple[str, ...]) -> None:
        """Build (or rebuild) each region's gazetteer from its pages and settings; editors'
        entries and removals stay. One JSON report per region."""
        slugs = list(region_slugs) or list(
            db.session.scalars(select(Region.slug).order_by(Region.slug))
        )
        for slug in slugs:
            try:
                report = gazetteer_service.build_gazetteer(db.session, None, slug)
            except DomainError as error:
                raise click.ClickException(str(error.detail)) from error
            click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
