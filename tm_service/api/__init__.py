"""JSON API under /api/v1: one blueprint per resource."""

from __future__ import annotations

import http
import json

from flask import Flask
from flask_smorest import Api, Blueprint
from flask_smorest.utils import prepare_response
from marshmallow import Schema, fields
from webargs.flaskparser import FlaskParser

from tm_service.problems import http_exception_problem

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ProblemSchema(Schema):
    """An error as every route sends it: RFC 9457 problem details."""

    type = fields.String(metadata={"description": "A URI naming the kind of problem."})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String(allow_none=True, metadata={"description": "The request path."})
    errors = fields.Dict(
        metadata={"description": "Invalid input: each offending field with its messages."}
    )


class ProblemApi(Api):
    """flask-smorest's Api, answering its own errors as application/problem+json too, and
    documenting every error response that way (not as flask-smorest's own error schema)."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error):  # type: ignore[override]
        return http_exception_problem(error)

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


class HardenedParser(FlaskParser):
    """webargs' parser; JSON nested past Python's recursion limit is a 400 like broken JSON."""

    def _raw_load_json(self, req):  # type: ignore[no-untyped-def]
        try:
            return super()._raw_load_json(req)
        except RecursionError as error:
            raise json.JSONDecodeError("JSON nested too deeply", "", 0) from error


# Every blueprint's @arguments binds this parser when its module is imported, and every blueprint
# module imports this package first: set it here, at import time.
Blueprint.ARGUMENTS_PARSER = HardenedParser()


def create_api(app: Flask) -> ProblemApi:
    """One Api per app (its OpenAPI document is built from the blueprints registered on it)."""
    from tm_service.api import (
        health,
        jobs,
        leverage,
        pages,
        regions,
        reuse,
        similar,
        suggestions,
        tm,
    )

    api = ProblemApi(app)
    for module in (health, regions, pages, tm, similar, jobs, suggestions, reuse, leverage):
        api.register_blueprint(module.blp, url_prefix="/api/v1")
    app.extensions["tm_api"] = api
    return api
