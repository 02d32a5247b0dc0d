"""Bearer tokens → Actor. Public reads need none; a bad token is refused, not ignored."""

from __future__ import annotations

from flask import g, request

from memory.authorization import Actor
from memory.errors import Unauthorized
from memory.services.tokens import authenticate
from tm_service.extensions import db


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
