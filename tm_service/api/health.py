"""Liveness and readiness."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import fields
from sqlalchemy import text

from tm_service.api.schemas import HealthSchema
from tm_service.extensions import db
from tm_service.jobs import redis_reachable

blp = Blueprint("health", __name__, description="Service health")


class ServiceHealthSchema(HealthSchema):
    redis = fields.String(
        metadata={
            "description": "With TM_REDIS_URL: `ok` or `unavailable` (pushes still store their "
            "versions; their jobs are enqueued once Redis is back). Absent without Redis."
        }
    )


@cache
def _version() -> str:
    # Read once per process: the installed package's metadata does not change under a running
    # process, and reading it parses a file (≈ 1 ms, on a route load balancers poll).
    try:
        return version("tm-service")
    except PackageNotFoundError:
        return "unknown"


@blp.route("/health")
@blp.response(200, ServiceHealthSchema)
def health():
    """Whether the service, its database and (with TM_REDIS_URL) its job queue answer."""
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # noqa: BLE001 — health reports, it doesn't raise
        db.session.rollback()
        database = "unavailable"
    body = {"database": database, "version": _version()}
    healthy = database == "ok"
    if current_app.config.get("REDIS_URL"):
        body["jobs"] = "redis"
        body["redis"] = "ok" if redis_reachable() else "unavailable"
        healthy = healthy and body["redis"] == "ok"
    else:
        body["jobs"] = "in-process"
    return {"status": "ok" if healthy else "degraded", **body}
