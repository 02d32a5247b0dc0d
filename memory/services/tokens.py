"""API tokens: random secrets, stored as SHA-256, scoped to one region and one role."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from memory.authorization import Action, Actor, authorize
from memory.errors import InvalidInput, NotFound
from memory.models import ApiToken, Region, Role, utcnow
from memory.services.regions import get_region

TOKEN_PREFIX = "tm"  # noqa: S105 — a public marker, not a secret


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    plaintext: str  # shown once; never stored


def _hash_secret(secret: str) -> str:
    # Secrets are 256-bit random values, so a plain SHA-256 suffices (no password stretching).
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(
    session: Session,
    actor: Actor | None,
    *,
    role: Role,
    region_slug: str | None,
    name: str = "",
    expires_in_days: int | None = None,
) -> IssuedToken:
    """Issue a token; `actor=None` is the operator at the command line."""
    if actor is not None:
        authorize(actor, Action.ADMINISTER)
    if region_slug is None and role is not Role.ADMIN:
        raise InvalidInput(
            "Only admin tokens may be global; give a region.",
            errors={"region": ["Required for cms, editor and translator tokens."]},
        )
    region = get_region(session, region_slug) if region_slug else None
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        prefix=prefix,
        secret_hash=_hash_secret(secret),
        role=role,
        region=region,
        expires_at=(utcnow() + timedelta(days=expires_in_days)) if expires_in_days else None,
    )
    session.add(token)
    session.commit()
    return IssuedToken(token=token, plaintext=f"{TOKEN_PREFIX}_{prefix}_{secret}")


def revoke_token(session: Session, actor: Actor | None, prefix: str) -> ApiToken:
    """Revoke a token by its public prefix (idempotent)."""
    if actor is not None:
        authorize(actor, Action.ADMINISTER)
    token = session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    if token is None:
        raise NotFound(f"No token with prefix '{prefix}'.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.commit()
    return token


def end_sessions(session: Session, token_id: int) -> None:
    """End every review-UI session signed in with this token (sign-out): one atomic update."""
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id)
        .values(session_epoch=ApiToken.session_epoch + 1)
    )
    session.commit()


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were stored as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


# Every authenticated request runs this: built once, the prefix bound per call (building it per
# request and loading an ORM token cost ≈ 0.1 ms more than the statement itself).
_TOKEN_BY_PREFIX = (
    select(
        ApiToken.id,
        ApiToken.name,
        ApiToken.role,
        ApiToken.secret_hash,
        ApiToken.expires_at,
        ApiToken.revoked_at,
        Region.slug,
    )
    .outerjoin(Region, Region.id == ApiToken.region_id)
    .where(ApiToken.prefix == bindparam("prefix"))
)


def authenticate(session: Session, plaintext: str) -> Actor | None:
    """The actor behind a presented token, or None if unknown, expired or revoked."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    # One statement: the token with its region's slug (no second query for the region).
    token = session.execute(_TOKEN_BY_PREFIX, {"prefix": parts[1]}).first()
    if token is None:
        return None
    if not hmac.compare_digest(token.secret_hash, _hash_secret(parts[2])):
        return None
    now = utcnow()
    if token.revoked_at is not None or (
        token.expires_at is not None and _aware(token.expires_at) <= now
    ):
        return None
    return Actor(
        role=token.role,
        region_slug=token.slug,
        token_id=token.id,
        name=token.name,
    )
