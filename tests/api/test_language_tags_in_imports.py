"""Every importer refuses a language tag that is not BCP 47, and creates no such language."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from memory.errors import InvalidInput
from memory.models import Language, PageTranslation
from memory.services.regions import ensure_language
from tm_service.extensions import db


def languages(app) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(select(Language.code)))


def test_an_integreat_dump_in_language_12_is_refused_and_stores_nothing(app, runner, tmp_path):
    dump = tmp_path / "pages.json"
    page = {"id": 7, "path": "/alpha/12/willkommen/", "title": "Willkommen", "content": "<p/>"}
    dump.write_text(json.dumps([page]), encoding="utf-8")
    before = languages(app)

    result = runner.invoke(args=["tm", "import-integreat", str(dump), "--region", "alpha"])

    assert result.exit_code != 0
    assert "not a language code: '12'" in result.output
    assert languages(app) == before
    with app.app_context():
        assert db.session.scalars(select(PageTranslation.id)).all() == []


@pytest.mark.parametrize("code", ["12", "zz", "DE", "x-klingon"])
def test_no_service_creates_a_language_whose_code_is_not_a_language_code(app, code):
    with app.app_context(), pytest.raises(InvalidInput) as raised:
        ensure_language(db.session, code)

    assert "language" in raised.value.errors
    assert code not in languages(app)


def test_known_and_new_valid_languages_are_still_ensured(app):
    with app.app_context():
        assert ensure_language(db.session, "de").code == "de"
        assert ensure_language(db.session, "de-si").code == "de-si"
        db.session.commit()
    assert "de-si" in languages(app)
