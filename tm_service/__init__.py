"""tm-service web edge: app factory, configuration, API, CLI, job wiring."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, request, send_from_directory
from werkzeug.exceptions import UnsupportedMediaType

from tm_service.config import DEFAULTS, database_uri

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")
JSON_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then TM_* environment variables, then `config` (tests)."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("TM")
    if config:
        app.config.from_mapping(config)
    app.json.ensure_ascii = False  # type: ignore[attr-defined] — readable German, Arabic, Farsi
    os.makedirs(app.instance_path, exist_ok=True)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_uri(app.config, app.instance_path)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Waiting writers queue instead of failing at once with "database is locked".
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}

    # TM_SCAN_THREADS is read when matchers.segmented is imported: a bad value stops the start.
    import matchers.segmented  # noqa: F401
    from memory.errors import NotFound
    from tm_service.api import create_api
    from tm_service.auth import current_actor, refuse_anonymous_calls_of_token_routes
    from tm_service.cli import register_cli
    from tm_service.extensions import db, migrate, start_request_session
    from tm_service.problems import register_problem_handlers
    from tm_service.ui import register_ui

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)
    create_api(app)
    register_problem_handlers(app)
    register_cli(app)
    _register_docs_assets(app)
    register_ui(app)

    @app.before_request
    def _read_only_routes_without_a_transaction():
        # First: the token check below is the request's first statement.
        start_request_session(app.view_functions.get(request.endpoint))

    @app.before_request
    def _authenticate_presented_tokens():
        # A token that is sent is checked on every route, public ones too: a bad one is a 401,
        # never silently anonymous. On a route that needs one, no token is a 401 before the body
        # is parsed: anonymous callers cannot make the server validate megabytes.
        if request.path.startswith("/api/"):
            if request.headers.get("Authorization"):
                current_actor()
            else:
                refuse_anonymous_calls_of_token_routes(app.view_functions.get(request.endpoint))

    @app.before_request
    def _refuse_nul_in_path_parameters():
        # No region, page, language or job is named with a NUL, and PostgreSQL cannot even
        # compare text holding one (a 500): it is a 404 naming the parameter.
        if not request.path.startswith("/api/"):
            return
        for name, value in (request.view_args or {}).items():
            if isinstance(value, str) and "\x00" in value:
                raise NotFound(
                    f"No {name} contains a NUL character.",
                    errors={name: ["Contains a NUL character."]},
                )

    @app.before_request
    def _require_json_bodies():
        # A body that isn't JSON would otherwise read as "missing fields"; say what is wrong.
        if (
            request.method in JSON_BODY_METHODS
            and request.path.startswith("/api/")
            and request.content_length
            and not request.is_json
            and not getattr(app.view_functions.get(request.endpoint), "accepts_files", False)
        ):
            raise UnsupportedMediaType("Send the body as application/json.")

    return app


def _register_docs_assets(app: Flask) -> None:
    """Serve Swagger UI's files from the swagger-ui-bundle package: the docs work offline."""
    import swagger_ui_bundle

    assets = swagger_ui_bundle.swagger_ui_path

    @app.route("/api/docs/assets/<path:filename>")
    def swagger_assets(filename: str):
        return send_from_directory(assets, filename)
