"""Flask extensions, created unbound and initialised in create_app()."""

from __future__ import annotations

import importlib
import sqlite3
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

import click
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine

import memory.cms_models  # noqa: F401 — registers the CMS sync table
import memory.gazetteer_models  # noqa: F401 — registers the gazetteer tables
import memory.review_models  # noqa: F401 — registers the suggestion and review tables
import memory.similarity_models  # noqa: F401 — registers the near-duplicate tables
import memory.terminology_models  # noqa: F401 — registers the termbase tables
import memory.tm_models  # noqa: F401 — registers the translation-memory tables
from memory.models import Base


class DeferredCommand(click.Command):
    """A CLI command whose module is imported only when the command is run or its help shown.

    `target` is "module:attribute" of the real click command; click hands the arguments to it.
    """

    def __init__(self, name: str, target: str, short_help: str) -> None:
        super().__init__(name, short_help=short_help)
        self.target = target

    def load(self) -> click.Command:
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def make_context(self, info_name, args, parent=None, **extra):  # type: ignore[no-untyped-def]
        # click runs `context.command`: the real command, with its own options and help.
        return self.load().make_context(info_name, args, parent=parent, **extra)


class _MigrateConfig:
    """What Flask-Migrate keeps in app.extensions["migrate"], its Migrate made on first use."""

    def __init__(self, db: SQLAlchemy, directory: str, options: dict[str, Any]) -> None:
        self.db = db
        self.directory = directory
        self._options = options

    @cached_property
    def migrate(self) -> Any:
        from flask_migrate import Migrate

        return Migrate(db=self.db, directory=self.directory, **self._options)

    @property
    def configure_args(self) -> dict[str, Any]:
        return self.migrate.alembic_ctx_kwargs

    @property
    def metadata(self) -> Any:
        return self.db.metadata


class DeferredMigrate:
    """Flask-Migrate, imported only when a migration command runs.

    Importing flask_migrate imports alembic (about half a second), which every other command
    and every web worker would otherwise pay at start-up. `flask db …` and
    `flask_migrate.upgrade()` work as with `Migrate`.
    """

    def init_app(
        self, app: Flask, db: SQLAlchemy, directory: str = "migrations", **options: Any
    ) -> None:
        app.extensions["migrate"] = _MigrateConfig(db, str(directory), options)
        app.cli.add_command(
            DeferredCommand("db", "flask_migrate.cli:db", "Perform database migrations.")
        )


db = SQLAlchemy(model_class=Base)
migrate = DeferredMigrate()


@event.listens_for(Engine, "connect")
def _sqlite_write_ahead_log(dbapi_connection: Any, _record: Any) -> None:
    """SQLite in write-ahead-log mode: readers never wait for a writer. In the embedded default
    the first background job rewrites hundreds of pages in one transaction; in rollback-journal
    mode its lock kept every request waiting until it failed with "database is locked"."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA journal_mode=WAL")


View = TypeVar("View", bound=Callable[..., Any])


def read_only(view: View) -> View:
    """Mark a route whose requests only read (lookups, page reads): their statements run without
    a transaction (the connection in AUTOCOMMIT), so a pooled connection needs neither a BEGIN
    nor a ROLLBACK round trip. On PostgreSQL each statement sees its own snapshot either way
    (READ COMMITTED). A write such a request makes (a queued job row) commits on its own.
    Place it under `@blp.route`; the request hook reads it (`start_request_session`)."""
    view.read_only = True  # type: ignore[attr-defined]
    return view


def start_request_session(view: Callable[..., Any] | None) -> None:
    """Before a request's first statement: a route marked `read_only` gets its connection in
    AUTOCOMMIT."""
    if getattr(view, "read_only", False):
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
