"""Entry point for ``flask --app app ...`` (development server, CLI commands)."""

from dhamen import create_app

app = create_app()
