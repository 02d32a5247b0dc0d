"""A new user's first command on a fresh database gets the schema, not a traceback."""

from __future__ import annotations

from tm_service import create_app
from tm_service.extensions import db


def test_token_commands_on_a_fresh_database_build_the_schema_first(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
            "EMBEDDING_MODEL": "fake",
        }
    )
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["tm", "token", "list"])
    assert listed.exit_code == 0, listed.output
    created = runner.invoke(args=["tm", "token", "create", "--role", "admin", "--name", "ops"])
    assert created.exit_code == 0, created.output
    assert created.stdout.startswith("tm_")
    assert "ops" in runner.invoke(args=["tm", "token", "list"]).stdout
    with app.app_context():
        db.engine.dispose()
