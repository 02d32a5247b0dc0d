"""Liveness and readiness."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from flask import current_app
from flask_smorest import Blueprint
from sqlalchemy import text

from tm_service.api.schemas import HealthSchema
from tm_service.extensions import db

blp = Blueprint("health", __name__, description="Service health")


def _version() -> str:
    try:
        return version("tm-service")
    except PackageNotFoundError:
        return "unknown"


@blp.route("/health")
@blp.response(200, HealthSchema)
def health():
    """Whether the service and its database answer."""
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # noqa: BLE001 — health reports, it doesn't raise
        db.session.rollback()
        database = "unavailable"
    jobs = "redis" if current_app.config.get("REDIS_URL") else "in-process"
    status = "ok" if database == "ok" else "degraded"
    return {"status": status, "database": database, "jobs": jobs, "version": _version()}
