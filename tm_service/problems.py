"""Every error as application/problem+json (RFC 9457)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException, InternalServerError

from memory.errors import DomainError
from tm_service.extensions import db

PROBLEM_TYPE_BASE = "https://tm-service.invalid/problems/"
# A body with 200 000 unknown fields would otherwise get a 7.8 MB answer; the first few name the
# problem, `error_count` says how many there were.
MAX_FIELD_ERRORS = 50
log = logging.getLogger(__name__)


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    type_slug: str | None = None,
    errors: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (type_slug or str(status)),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path if request else None,
    }
    if errors:
        body["errors"] = dict(itertools.islice(errors.items(), MAX_FIELD_ERRORS))
        body["error_count"] = len(errors)
    # RFC 9457 extension members (e.g. the failed quality checks); never the standard ones.
    body.update({k: v for k, v in (extensions or {}).items() if k not in body})
    response = Response(
        json.dumps(body), status=status, mimetype="application/problem+json", headers=headers
    )
    return response


def _flatten_webargs(messages: Mapping[str, Any]) -> dict[str, Any]:
    # webargs nests by location ({"json": {"title": [...]}}); clients want the field names.
    flat: dict[str, Any] = {}
    for location, fields in messages.items():
        if isinstance(fields, Mapping):
            for name, problems in fields.items():
                key = name if location in ("json", "view_args", "form") else f"{location}.{name}"
                if name == "_schema":
                    key = "body"
                flat[key] = problems
        else:
            # A non-mapping at the top is about the body as a whole (e.g. "Invalid JSON body.").
            flat["body" if location == "json" else location] = fields
    return flat


def _invalid_fields_detail(errors: Mapping[str, Any]) -> str:
    body = errors.get("body")
    if len(errors) == 1 and isinstance(body, list) and all(isinstance(m, str) for m in body):
        return " ".join(body)  # about the body as a whole: say what is wrong with it
    names = list(itertools.islice(errors, MAX_FIELD_ERRORS))
    more = len(errors) - len(names)
    listed = ", ".join(sorted(names)) + (f" and {more} more" if more else "")
    return f"The request has invalid fields: {listed}."


def http_exception_problem(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = _flatten_webargs(data["messages"]) if "messages" in data else None
    detail = error.description or error.name
    if errors:
        detail = _invalid_fields_detail(errors)
    if status == 413:
        detail = "The request body is larger than this service accepts."
    headers = dict(getattr(error, "headers", None) or {})
    if hasattr(error, "get_headers"):
        for key, value in error.get_headers():
            if key.lower() not in ("content-type", "content-length"):
                headers[key] = value
    return problem_response(
        status, error.name, detail, type_slug=str(status), errors=errors, headers=headers
    )


def register_problem_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError) -> Response:
        db.session.rollback()
        retry_after = getattr(error, "retry_after", None)
        return problem_response(
            error.status,
            error.title,
            error.detail,
            type_slug=error.type_slug,
            errors=error.errors,
            headers={"Retry-After": str(int(retry_after))} if retry_after else None,
            extensions=getattr(error, "extensions", None),
        )

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        if (error.code or 500) >= 500:
            db.session.rollback()
        return http_exception_problem(error)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        # Never a stack trace to the client; the log keeps it.
        db.session.rollback()
        log.exception("Unhandled error on %s %s", request.method, request.path)
        return problem_response(
            500, InternalServerError().name, "An unexpected error occurred; it has been logged."
        )
