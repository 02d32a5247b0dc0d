"""API: tm."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("tm", __name__, description="tm")
