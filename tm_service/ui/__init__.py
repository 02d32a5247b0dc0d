"""Web review UI under /ui: server-rendered pages for translators and editors.

Sign in with an API token, review the suggestion queue segment by segment with the keyboard,
ask for suggestions for a page, and start a page from a similar page of another region. The
views call the same services as the JSON API; templates are in `tm_service/templates/ui/`,
the one stylesheet and script in `tm_service/static/ui/`.
"""

from __future__ import annotations

from flask import Flask

from tm_service.ui.security import configure_session
from tm_service.ui.terminology import register_terminology_helpers
from tm_service.ui.views import bp


def register_ui(app: Flask) -> None:
    """Mount the UI at /ui with a session secret (TM_SECRET_KEY or the instance folder's)."""
    configure_session(app)
    app.register_blueprint(bp)
    register_terminology_helpers(app)
