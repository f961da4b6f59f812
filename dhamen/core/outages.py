"""A service the application needs is unreachable: a clear 503, never a 500.

PostgreSQL, Redis (sessions, refresh tokens, rate limits, queues) and the
object storage can each go away.  Every page then answers the French 503
page and every API call the 503 envelope, with ``Retry-After``; nothing is
half-written (the session is rolled back).  Nothing needs a restart when the
service returns: the SQLAlchemy pool checks a connection before lending it
(``pool_pre_ping``) and drops the broken ones, redis-py reconnects on the
next command, boto3 opens a new connection per call.

The 503 page is rendered for an anonymous visitor (asking Redis or the
database who is signed in would fail again), and if even that fails — a
template helper that needs the missing service — a plain French page is sent.
"""

from __future__ import annotations

import redis
import sqlalchemy.exc
from flask import g, request

from dhamen.access.auth.sessions import SessionStoreDown
from dhamen.core.storage import StorageError

RETRY_AFTER_SECONDS = 5

# (exception classes, API message, log name)
OUTAGES = (
    ((SessionStoreDown, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
      redis.exceptions.BusyLoadingError),
     "Service d'authentification momentanément indisponible.", "Redis"),
    ((sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, sqlalchemy.exc.TimeoutError,
      sqlalchemy.exc.DisconnectionError),
     "Base de données momentanément indisponible.", "base de données"),
    ((StorageError,), "Stockage des documents momentanément indisponible.", "stockage objet"),
)

FALLBACK_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Service indisponible — Dhamen</title></head>
<body><main><h1>Service indisponible</h1>
<p>Un service nécessaire est momentanément indisponible. Réessayez dans un instant.</p>
<p><a href="/">Retour à l'accueil</a></p></main></body></html>
"""


def outage_message(exc: BaseException) -> tuple[str, str] | None:
    """(API message, service name) when ``exc`` means a service is unreachable, else None."""
    for classes, message, name in OUTAGES:
        if isinstance(exc, classes):
            return message, name
    return None


def register_outage_handlers(app) -> None:
    def _unavailable(exc: BaseException):
        from werkzeug.exceptions import ServiceUnavailable

        from dhamen.core.api import error_response, is_api_request
        from dhamen.core.web import render_error_page
        from dhamen.extensions import db

        message, name = outage_message(exc) or ("Service temporairement indisponible.", "service")
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001 - the database itself may be the missing service
            db.session.remove()
        app.logger.error("%s injoignable (%s) sur %s %s", name, exc.__class__.__name__, request.method,
                         request.path)
        g.retry_after = RETRY_AFTER_SECONDS
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if is_api_request():
            return error_response(503, "SERVICE_UNAVAILABLE", message, headers=headers)
        # The page must not ask Redis or the database who is signed in: an anonymous visitor.
        g._login_user = app.login_manager.anonymous_user()
        try:
            body, status, _ = render_error_page(ServiceUnavailable())
        except Exception:  # noqa: BLE001 - a template helper needing the missing service
            app.logger.exception("page 503 non rendue: page de secours")
            body, status = FALLBACK_PAGE, 503
        return body, status, headers

    for classes, _message, _name in OUTAGES:
        for cls in classes:
            app.register_error_handler(cls, _unavailable)
