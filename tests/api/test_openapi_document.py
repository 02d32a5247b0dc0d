"""The committed OpenAPI document (docs/openapi.json) is the one the app generates, so every API
change shows up in review as a diff of that file."""

from __future__ import annotations

import json
from pathlib import Path

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
REGENERATE = "TM_DATABASE_URL=sqlite:// .venv/bin/flask --app wsgi openapi write docs/openapi.json"


def test_committed_openapi_document_is_current(client):
    generated = client.get("/api/openapi.json").json
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert generated == committed, f"the API changed: regenerate the document with `{REGENERATE}`"
