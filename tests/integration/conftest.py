"""Real servers for integration tests. In CI (CI=true) a missing server fails; locally it skips."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from tests.integration.servers import PostgresServer, RedisServer, start_postgres, start_redis


def _missing(what: str):
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed; .ci/run installs it")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory) -> Iterator[PostgresServer]:
    server = start_postgres(tmp_path_factory.mktemp("postgres"))
    if server is None:
        _missing("PostgreSQL")
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's PostgreSQL server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield postgres_server.url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    if server is None:
        _missing("redis-server")
    yield server
    server.stop()


@contextmanager
def redis_backed_app(
    folder: Path, seeded_database: Path, redis_url: str, **config: Any
) -> Iterator[Flask]:
    """An app on a copy of the seeded database whose jobs go to a queue of its own on a real
    Redis (retries without waits, the fake encoder); `config` adds to or overrides that."""
    from tm_service import create_app, jobs
    from tm_service.extensions import db

    path = folder / "tm.sqlite3"
    shutil.copyfile(seeded_database, path)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{path}",
            "REDIS_URL": redis_url,
            "RQ_QUEUE": f"test-{uuid.uuid4().hex[:8]}",
            "EMBEDDING_MODEL": "fake",
            "JOB_RETRY_INTERVALS": [0, 0, 0],
            **config,
        }
    )
    yield app
    with app.app_context():
        jobs.rq_queue(app).connection.close()
        db.engine.dispose()


def work_off_queue(app: Flask) -> None:
    """Run every job on the app's queue in a real rq worker (in this process), then return."""
    from rq import SimpleWorker

    from tm_service import jobs

    with app.app_context():
        queue = jobs.rq_queue(app)
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
