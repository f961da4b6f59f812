"""Runtime services attached to the app: Redis (or its embedded stand-in),
RQ queues, object storage.  ``services()`` returns the current app's.

Jobs are never enqueued inside a transaction: ``after_commit(fn, *args)``
records them on the SQLAlchemy session and they are dispatched once the
request's single commit succeeds (dropped on rollback).  With the embedded
Redis stand-in they run inline right after the commit; with ``REDIS_URL`` they
go to the real RQ queues ``events``, ``reconciliation`` and ``imports``.  Every job has a
timeout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import redis
from flask import current_app
from rq import Queue, Retry
from sqlalchemy import event
from sqlalchemy.orm import Session

from dhamen.config import Settings
from dhamen.core.storage import make_storage
from dhamen.extensions import db

log = logging.getLogger("dhamen")

QUEUES = ("events", "reconciliation", "imports")
DEFAULT_JOB_TIMEOUT = 120
# A job that fails (or whose worker dies) is retried after 10 s, 1 min, then 5 min; after its
# last try it stays in RQ's failed registry (``rq:failed:<queue>``) for 30 days, to be
# inspected and requeued (``rq requeue --queue events --all``).  The delayed retries need a
# worker started with ``--with-scheduler``.
JOB_RETRY_INTERVALS = (10, 60, 300)
FAILED_JOB_TTL = 30 * 24 * 3600


@dataclass
class Services:
    settings: Settings
    redis: Any
    storage: Any
    queues: dict = field(default_factory=dict)
    inline_jobs: bool = True

    def enqueue(self, queue: str, func, *args, job_timeout: int = DEFAULT_JOB_TIMEOUT, **kwargs):
        if queue not in QUEUES:
            raise ValueError(f"unknown queue {queue!r}")
        if self.inline_jobs:
            return func(*args, **kwargs)

        return self.queues[queue].enqueue(
            func, *args, job_timeout=job_timeout, failure_ttl=FAILED_JOB_TTL,
            retry=Retry(max=len(JOB_RETRY_INTERVALS), interval=list(JOB_RETRY_INTERVALS)), **kwargs)


def build_services(settings: Settings) -> Services:
    if settings.embedded_redis:
        import fakeredis  # development and tests only: not loaded with a real Redis

        client = fakeredis.FakeRedis()
        log.warning(
            "REDIS_URL non défini: Redis embarqué en mémoire (fakeredis), tâches exécutées en ligne. "
            "Réservé au développement."
        )
        inline = True
    else:
        client = redis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=2, socket_timeout=3, health_check_interval=30
        )
        inline = False
    storage = make_storage(settings.storage)
    services = Services(settings=settings, redis=client, storage=storage, inline_jobs=inline)
    if not inline:
        services.queues = {name: Queue(name, connection=client) for name in QUEUES}
    return services


def services() -> Services:
    return current_app.extensions["dhamen.services"]


# --- jobs after commit -----------------------------------------------------------------

def after_commit(queue: str, func, *args, **kwargs) -> None:
    """Enqueue ``func`` once the current transaction commits."""

    db.session.info.setdefault("dhamen_jobs", []).append((current_app._get_current_object(), queue, func, args, kwargs))


@event.listens_for(Session, "after_commit")
def _dispatch_jobs(session: Session) -> None:
    jobs = session.info.pop("dhamen_jobs", [])
    for app, queue, func, args, kwargs in jobs:
        svc = app.extensions["dhamen.services"]
        if svc.inline_jobs:
            # No SQL may run inside after_commit: inline jobs wait for the end of the request.
            session.info.setdefault("dhamen_inline", []).append((svc, queue, func, args, kwargs))
            continue
        try:
            svc.enqueue(queue, func, *args, **kwargs)
        except Exception:  # a failed enqueue must not turn a committed request into an error
            log.exception("échec de mise en file de la tâche %s sur %s", getattr(func, "__name__", func), queue)


@event.listens_for(Session, "after_rollback")
def _drop_jobs(session: Session) -> None:
    session.info.pop("dhamen_jobs", None)


def run_inline_jobs() -> int:
    """Run the jobs committed during this request (embedded mode only)."""

    done = 0
    while jobs := db.session.info.pop("dhamen_inline", []):
        for svc, queue, func, args, kwargs in jobs:
            try:
                svc.enqueue(queue, func, *args, **kwargs)
                done += 1
            except Exception:
                db.session.rollback()
                log.exception("échec de la tâche %s (file %s)", getattr(func, "__name__", func), queue)
    return done
