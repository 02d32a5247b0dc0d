"""Hashes stored by an earlier version of the content hash are recomputed in place: after that,
the same text pushed again is the same version, and nothing becomes outdated or flagged."""

from __future__ import annotations

import hashlib

from flask import Flask
from sqlalchemy import select

from memory.authorization import Actor
from memory.models import PageTranslation, Role
from memory.review_models import PageDerivation
from memory.services.content_hashes import recompute_content_hashes
from memory.services.pages import push_translation
from memory.services.reuse import reuse_page, upstream_changes
from tm_service.extensions import db

GERMAN = {"title": "Gebühren", "content": "<p>Die Gebühr beträgt 12 €.</p>"}
ENGLISH = {"title": "Fees", "content": "<p>The fee is €12.</p>"}


def earlier(value: str | None) -> str | None:
    """A hash as an earlier version of the function would have written it: different, consistent."""
    return None if value is None else hashlib.sha256(b"earlier" + value.encode()).hexdigest()


def store_as_an_earlier_version_did(app: Flask) -> None:
    with app.app_context():
        for translation in db.session.scalars(select(PageTranslation)):
            translation.content_hash = earlier(translation.content_hash)
            translation.source_content_hash = earlier(translation.source_content_hash)
        for derivation in db.session.scalars(select(PageDerivation)):
            derivation.origin_content_hash = earlier(derivation.origin_content_hash)
        db.session.commit()


def test_recomputed_hashes_keep_versions_current_and_nothing_outdated(app, client):
    cms_beta = Actor(role=Role.CMS, region_slug="beta")
    with app.app_context():
        push_translation(db.session, cms_beta, "beta", "1", "de", dict(GERMAN))
        push_translation(db.session, cms_beta, "beta", "1", "en", dict(ENGLISH))
        reuse_page(
            db.session, Actor(role=Role.EDITOR, region_slug="alpha"), "alpha",
            from_region="beta", from_page="1", external_id="9",
        )  # fmt: skip
    store_as_an_earlier_version_did(app)

    with app.app_context():
        report = recompute_content_hashes(db.session)
    assert report.content_hashes == 4  # two in beta, two drafts copied into alpha
    assert report.source_hashes == 2  # each English (beta's, the copy) made from its German
    assert report.origin_hashes == 2

    with app.app_context():
        again = push_translation(db.session, cms_beta, "beta", "1", "de", dict(GERMAN))
        assert (again.created, again.view.translation.version) == (False, 1)
        editor = Actor(role=Role.EDITOR, region_slug="alpha")
        assert upstream_changes(db.session, editor, "alpha") == []
    english = client.get("/api/v1/regions/beta/pages/1/translations/en").json
    assert english["outdated"] is False

    with app.app_context():
        assert recompute_content_hashes(db.session).as_dict() == {
            "content_hashes": 0, "source_hashes": 0, "origin_hashes": 0
        }  # fmt: skip


def test_an_outdated_translation_stays_outdated(app, client):
    cms = Actor(role=Role.CMS, region_slug="beta")
    with app.app_context():
        push_translation(db.session, cms, "beta", "1", "de", dict(GERMAN))
        push_translation(db.session, cms, "beta", "1", "en", dict(ENGLISH))
        push_translation(db.session, cms, "beta", "1", "de", {**GERMAN, "title": "Kosten"})
    store_as_an_earlier_version_did(app)
    with app.app_context():
        recompute_content_hashes(db.session)
    assert client.get("/api/v1/regions/beta/pages/1/translations/en").json["outdated"] is True
