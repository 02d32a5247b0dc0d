"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi …`."""

from tm_service import create_app

app = create_app()
