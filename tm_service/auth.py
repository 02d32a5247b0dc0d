"""Bearer tokens → Actor. Public reads need none; a bad token is refused, not ignored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, request
from flask_smorest import Blueprint

from memory.authorization import Actor
from memory.errors import Unauthorized
from memory.services.tokens import authenticate
from tm_service.extensions import db

# The OpenAPI security scheme of `Authorization: Bearer <token>` (the Swagger UI's Authorize).
BEARER_SCHEME = "bearerAuth"
View = TypeVar("View", bound=Callable[..., Any])


def current_actor() -> Actor | None:
    """The actor of this request (None: anonymous); 401 for an unknown, expired, revoked token."""
    if "actor" in g:
        return g.actor
    header = request.headers.get("Authorization", "")
    actor = None
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("Use 'Authorization: Bearer <token>'.")
        actor = authenticate(db.session, value.strip())
        if actor is None:
            raise Unauthorized("The token is unknown, expired or revoked.")
    g.actor = actor
    return actor


def token_required(view: View) -> View:
    """Mark an API route as needing a token: documented with the bearer security scheme, and an
    anonymous call is refused with 401 before its body is read or validated (see the app's
    request hooks). Place it under `@blp.route`."""
    documented = Blueprint.doc(security=[{BEARER_SCHEME: []}])(view)
    documented.token_required = True  # type: ignore[attr-defined] — read by the request hook
    return documented  # type: ignore[return-value]


def refuse_anonymous_calls_of_token_routes(view: Callable[..., Any] | None) -> None:
    """401 for a call without Authorization to a route marked `token_required`."""
    if getattr(view, "token_required", False) and not request.headers.get("Authorization"):
        raise Unauthorized("This operation needs an API token (Authorization: Bearer …).")
