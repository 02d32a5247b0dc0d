"""JSON API under /api/v1: one blueprint per resource."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from tm_service.problems import http_exception_problem


class ProblemApi(Api):
    """flask-smorest's Api, answering its own errors as application/problem+json too."""

    def handle_http_exception(self, error):  # type: ignore[override]
        return http_exception_problem(error)


def create_api(app: Flask) -> ProblemApi:
    """One Api per app (its OpenAPI document is built from the blueprints registered on it)."""
    from tm_service.api import health, jobs, pages, regions, similar, tm

    api = ProblemApi(app)
    for module in (health, regions, pages, tm, similar, jobs):
        api.register_blueprint(module.blp, url_prefix="/api/v1")
    app.extensions["tm_api"] = api
    return api
