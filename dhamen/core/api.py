"""The JSON API under ``/api/v1``: one blueprint, built per app from the route tables
that each feature lists (``ROUTES``: rule, view, methods) — no route is added by the
side effect of an import.  Answers and errors: :mod:`dhamen.core.http`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Blueprint, current_app

from dhamen.extensions import limiter

NAME = "api"
Route = tuple[str, Callable, tuple[str, ...]]
_limited: set[str] = set()


def _api_limit() -> str:
    return current_app.config["RATELIMIT_API"]


def api_blueprint(*tables: Iterable[Route]) -> Blueprint:
    """The ``/api/v1`` blueprint with these routes (endpoint: the view's name)."""
    bp = Blueprint(NAME, __name__, url_prefix="/api/v1")
    for table in tables:
        for rule, view, methods in table:
            bp.add_url_rule(rule, endpoint=view.__name__, view_func=view, methods=list(methods))
    # API limits per token (or per IP before login), configurable per environment.  The
    # limiter is shared by every app the process creates and keys its limits by blueprint
    # name: declare them once.
    if NAME not in _limited:
        limiter.limit(_api_limit)(bp)
        _limited.add(NAME)
    return bp
