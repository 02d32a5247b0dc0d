"""API: similar."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("similar", __name__, description="similar")
