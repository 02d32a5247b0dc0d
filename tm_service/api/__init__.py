"""JSON API under /api/v1: one blueprint per resource."""

from __future__ import annotations

import http
import json
from typing import Any

from flask import Flask
from flask_smorest import Api, Blueprint
from flask_smorest.utils import prepare_response
from marshmallow import RAISE, Schema, ValidationError, fields, missing
from webargs.flaskparser import FlaskParser, abort, is_json_request

from tm_service.auth import BEARER_SCHEME
from tm_service.problems import MAX_FIELD_ERRORS, http_exception_problem

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ProblemSchema(Schema):
    """An error as every route sends it: RFC 9457 problem details."""

    type = fields.String(metadata={"description": "A URI naming the kind of problem."})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String(allow_none=True, metadata={"description": "The request path."})
    errors = fields.Dict(
        metadata={
            "description": f"Invalid input: each offending field with its messages (the first "
            f"{MAX_FIELD_ERRORS})."
        }
    )
    error_count = fields.Integer(
        metadata={"description": "How many fields were invalid (`errors` lists the first ones)."}
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


class DuplicateKey(ValueError):
    """A JSON object names one key twice."""


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys; a sender writing "status" twice meant one of
    # them, and we cannot tell which.
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(f"duplicate key '{key}'")
            seen.add(key)
    return result


MAX_INTEGER_DIGITS = 4000


def _int_or_float(digits: str) -> int | float:
    # Python refuses to convert more than 4300 digits (a ValueError, not a JSONDecodeError); such a
    # number is no valid integer for any field, so hand the schema a float to refuse by name.
    if len(digits) > MAX_INTEGER_DIGITS:
        return float(digits)
    return int(digits)


class HardenedParser(FlaskParser):
    """webargs' parser, refusing what json.loads lets through or fails on badly: duplicate keys,
    nesting past the recursion limit and integers too long to convert are a 400 or 422; a PUT or
    PATCH without a body is a 400; more unknown fields than an error list shows are refused
    without validating each."""

    BODY_REQUIRED_METHODS = frozenset({"PUT", "PATCH"})

    def _raw_load_json(self, req):  # type: ignore[no-untyped-def]
        if not is_json_request(req):
            return missing
        raw = req.get_data(cache=True)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise json.JSONDecodeError(f"not UTF-8 ({error.reason})", repr(raw[:50]), 0) from error
        try:
            return json.loads(
                text, object_pairs_hook=_object_without_duplicate_keys, parse_int=_int_or_float
            )
        except RecursionError as error:
            raise json.JSONDecodeError("nested too deeply", text[:50] or " ", 0) from error
        except DuplicateKey as error:
            raise json.JSONDecodeError(str(error), text[:50] or " ", 0) from error

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):  # type: ignore[no-untyped-def]
        # Say what is wrong ("duplicate key 'status'"), not only that something is.
        reason = getattr(error, "msg", None)
        message = f"Invalid JSON body: {reason}." if reason else "Invalid JSON body."
        abort(400, exc=error, messages={"json": [message]})

    def load_json(self, req, schema):  # type: ignore[no-untyped-def]
        data = super().load_json(req, schema)
        if data is missing:
            if req.method in self.BODY_REQUIRED_METHODS:
                # Without this an empty PUT or PATCH validates as "change nothing" and answers 200.
                abort(400, messages={"json": ["A JSON body is required."]})
            return data
        if isinstance(data, dict) and schema.unknown == RAISE:
            known = {field.data_key or name for name, field in schema.load_fields.items()}
            unknown = [key for key in data if key not in known]
            if len(unknown) > MAX_FIELD_ERRORS:
                # Validating each of 200 000 unknown fields takes marshmallow seconds; the answer
                # is the same without it.
                raise ValidationError({key: ["Unknown field."] for key in unknown})
        return data


# Every blueprint's @arguments binds this parser when its module is imported, and every blueprint
# module imports this package first: set it here, at import time.
Blueprint.ARGUMENTS_PARSER = HardenedParser()


def create_api(app: Flask) -> ProblemApi:
    """One Api per app (its OpenAPI document is built from the blueprints registered on it)."""
    from tm_service.api import (
        gazetteer,
        health,
        jobs,
        leverage,
        pages,
        region_jobs,
        regions,
        reuse,
        review_queue,
        similar,
        suggestions,
        terminology,
        tm,
        xliff,
    )

    api = ProblemApi(app)
    # Routes marked `token_required` refer to it: the Swagger UI gets an Authorize button.
    api.spec.components.security_scheme(
        BEARER_SCHEME,
        {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "tm_<prefix>_<secret>",
            "description": "An API token (`flask --app wsgi tm token create`).",
        },
    )
    for module in (
        health,
        regions,
        pages,
        tm,
        similar,
        jobs,
        suggestions,
        review_queue,
        reuse,
        leverage,
        region_jobs,
        gazetteer,
        terminology,
        xliff,
    ):
        api.register_blueprint(module.blp, url_prefix="/api/v1")
    app.extensions["tm_api"] = api
    return api
