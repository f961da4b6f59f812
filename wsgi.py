"""Entry point for gunicorn: ``gunicorn wsgi:app``."""

from dhamen import create_app

app = create_app()
