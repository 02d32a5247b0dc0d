"""Sign-in, the session's secret key and CSRF protection of the review UI.

The token is presented once, at sign-in; the signed session cookie keeps only its id and the
token's session epoch, and every request checks that the token is still valid (a revoked or
expired token signs the user out) and the epoch still current (sign-out moves it on).
Every form that changes something carries a per-session random value (`csrf_token`).
"""

from __future__ import annotations

import hmac
import os
import secrets
import tempfile
from pathlib import Path

from flask import Flask, request, session
from werkzeug.exceptions import BadRequest

from memory.authorization import Actor
from memory.models import ApiToken, utcnow
from memory.services.tokens import authenticate, end_sessions
from tm_service.extensions import db

SECRET_KEY_FILE = "secret_key"  # noqa: S105 — a file name, not a secret
CSRF_FIELD = "csrf_token"  # noqa: S105 — a form field name
_MIN_SECRET_LENGTH = 32


class CsrfRefused(BadRequest):
    description = (
        "This form was not sent from a page of this site, or your session ended. "
        "Reload the page and try again."
    )


def configure_session(app: Flask) -> None:
    """A secret key for signed sessions, and cookies that scripts and other sites can't use."""
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(Path(app.instance_path))
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"


def instance_secret_key(folder: Path) -> str:
    """The key kept in `folder/secret_key` (mode 0600), created once.

    Several workers starting together agree: the key is written to a private temporary file and
    hard-linked into place, which fails for all but the first; the others read the winner's key.
    """
    path = folder / SECRET_KEY_FILE
    existing = _read_key(path)
    if existing is not None:
        return existing
    folder.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".secret_key.")  # mode 0600
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            return _read_key(path) or key
    finally:
        os.unlink(temporary)
    return key


def _read_key(path: Path) -> str | None:
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    if len(key) < _MIN_SECRET_LENGTH:
        raise RuntimeError(
            f"{path} holds no usable secret key: delete it (a new one is made) "
            "or set TM_SECRET_KEY."
        )
    return key


# --------------------------------------------------------------------------- CSRF


def csrf_token() -> str:
    """This session's CSRF value (made on first use)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Refuse a form post whose CSRF value is missing or not this session's."""
    expected = session.get("csrf")
    sent = request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CsrfRefused()


# --------------------------------------------------------------------------- sign-in


def sign_in(plaintext: str) -> Actor | None:
    """Verify a presented token; keep only its id in a fresh session. None: refused."""
    actor = authenticate(db.session, plaintext.strip())
    if actor is None or actor.token_id is None:
        return None
    token = db.session.get(ApiToken, actor.token_id)
    if token is None:
        return None
    session.clear()  # nothing of an earlier session carries over
    session["token_id"] = actor.token_id
    session["epoch"] = token.session_epoch
    session["csrf"] = secrets.token_urlsafe(32)
    return actor


def sign_out() -> None:
    """End the session here and on the server: a copy of the cookie is refused from now on."""
    token_id = session.get("token_id")
    session.clear()
    if token_id is not None:
        # The cookie is client-side, so clearing it ends only this browser's copy; moving the
        # token's epoch on ends every copy (and every other browser signed in with the token).
        end_sessions(db.session, token_id)


def session_actor() -> tuple[Actor | None, str | None]:
    """The signed-in actor, and why a session just ended (None: it did not)."""
    token_id = session.get("token_id")
    if token_id is None:
        return None, None
    token = db.session.get(ApiToken, token_id)
    now = utcnow()
    ended = None
    if (
        token is None
        or token.revoked_at is not None
        or (token.expires_at is not None and token.expires_at <= now)
    ):
        ended = "Your token was revoked or has expired: you have been signed out."
    elif session.get("epoch") != token.session_epoch:
        ended = "This session was signed out. Sign in again."
    if token is None or ended is not None:
        session.clear()
        return None, ended
    return (
        Actor(
            role=token.role,
            region_slug=token.region.slug if token.region is not None else None,
            token_id=token.id,
            name=token.name,
        ),
        None,
    )
