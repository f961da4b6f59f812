"""A service the application needs is unreachable: which exceptions say so.

PostgreSQL, Redis (sessions, refresh tokens, rate limits, queues) and the
object storage can each go away.  ``dhamen.core.http`` answers these
exceptions with the French 503 page or the 503 envelope, with
``Retry-After``, after rolling the session back: nothing is half-written.
Nothing needs a restart when the service returns: the SQLAlchemy pool checks
a connection before lending it (``pool_pre_ping``) and drops the broken
ones, redis-py reconnects on the next command, boto3 opens a new connection
per call.
"""

from __future__ import annotations

import redis
import sqlalchemy.exc

from dhamen.access.auth.sessions import SessionStoreDown
from dhamen.core.storage import StorageError

RETRY_AFTER_SECONDS = 5

# (exception classes, French message of the API envelope, service named in the log)
OUTAGES = (
    ((SessionStoreDown, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
      redis.exceptions.BusyLoadingError),
     "Service d'authentification momentanément indisponible.", "Redis"),
    ((sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, sqlalchemy.exc.TimeoutError,
      sqlalchemy.exc.DisconnectionError),
     "Base de données momentanément indisponible.", "base de données"),
    ((StorageError,), "Stockage des documents momentanément indisponible.", "stockage objet"),
)
OUTAGE_CLASSES = tuple(cls for classes, _m, _n in OUTAGES for cls in classes)

# Sent when even the 503 template cannot be rendered (a helper needing the missing service).
FALLBACK_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Service indisponible — Dhamen</title></head>
<body><main><h1>Service indisponible</h1>
<p>Un service nécessaire est momentanément indisponible. Réessayez dans un instant.</p>
<p><a href="/">Retour à l'accueil</a></p></main></body></html>
"""


def outage_of(exc: BaseException) -> tuple[str, str]:
    """(API message, service name) for an exception of :data:`OUTAGE_CLASSES`."""
    for classes, message, name in OUTAGES:
        if isinstance(exc, classes):
            return message, name
    return "Service temporairement indisponible.", "service"
