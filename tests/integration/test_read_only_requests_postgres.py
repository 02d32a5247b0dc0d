"""Read-only routes (lookups, page reads) run their statements outside a transaction on
PostgreSQL: no BEGIN and no ROLLBACK round trip per request. Writes keep their transaction."""

from __future__ import annotations

import pytest
from flask_migrate import upgrade
from sqlalchemy import event

from memory.models import Role
from memory.services import tokens as token_service
from tests.conftest import bearer, seed_regions
from tm_service import create_app
from tm_service.extensions import db

pytestmark = pytest.mark.postgres

LOOKUP = {"text": "Melden Sie Ihren Wohnsitz an.", "source_language": "de", "target_language": "en"}
PAGE = "/api/v1/regions/alpha/pages/1/translations/de"


@pytest.fixture
def pg(postgres_url):
    """A client of an app on PostgreSQL, a cms token of alpha, and the list every statement
    appends (autocommit?, the server's transaction status before it, the SQL's first word)."""
    app = create_app({"TESTING": True, "DATABASE_URL": postgres_url, "EMBEDDING_MODEL": "fake"})
    with app.app_context():
        upgrade()
    seed_regions(app)
    statements: list[tuple[bool, str, str]] = []

    def record(conn, _cursor, statement, *_args):
        dbapi = conn.connection.dbapi_connection
        status = dbapi.info.transaction_status.name
        statements.append((dbapi.autocommit, status, statement.split()[0].upper()))

    with app.app_context():
        token = token_service.create_token(
            db.session, None, role=Role.CMS, region_slug="alpha"
        ).plaintext
        event.listen(db.engine, "before_cursor_execute", record)
    yield app.test_client(), bearer(token), statements
    with app.app_context():
        event.remove(db.engine, "before_cursor_execute", record)
        db.engine.dispose()


def test_lookups_and_page_reads_send_no_begin(pg):
    client, token, statements = pg
    assert client.put(PAGE, json={"title": "Hallo", "content": "<p>Hallo</p>"}, headers=token)
    # The first lookup builds the fuzzy index: that streams units through a server-side
    # cursor, in a transaction of its own.
    statements.clear()
    assert client.post("/api/v1/tm/lookup", json=LOOKUP, headers=token).status_code == 200
    assert any(status == "INTRANS" for _, status, _ in statements)
    statements.clear()
    assert client.post("/api/v1/tm/lookup", json=LOOKUP, headers=token).status_code == 200
    assert statements and all(auto and status == "IDLE" for auto, status, _ in statements)
    for url in (PAGE, "/api/v1/regions/alpha/pages/1", "/api/v1/regions/alpha/pages"):
        statements.clear()
        assert client.get(url, headers=token).status_code == 200
        assert statements and all(auto for auto, _, _ in statements), url


def test_a_push_still_runs_in_one_transaction(pg):
    client, token, statements = pg
    statements.clear()
    response = client.put(PAGE, json={"title": "Hallo", "content": "<p>Hallo</p>"}, headers=token)
    assert response.status_code == 201
    writes = [(auto, status) for auto, status, word in statements if word in {"INSERT", "UPDATE"}]
    assert writes and all(not auto and status == "INTRANS" for auto, status in writes)
