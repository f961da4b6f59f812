"""Running jobs inside an application context, inline or in an ``rq worker``.

An RQ worker imports the job function by name and calls it without Flask:
``with_app`` builds the app once per worker process (from the same
environment as the web) and runs the job inside its context.  Inline (the
embedded default) the job already runs inside the request's app, after its commit.
Either way the job is one unit of work: it commits once at its end (``committed``).
"""

from __future__ import annotations

import functools

from flask import has_app_context
from rq import SimpleWorker

from dhamen import create_app
from dhamen.core.unit import committed

_app = None


def _worker_app():
    global _app
    if _app is None:
        _app = create_app()
    return _app


def with_app(fn):
    job = committed(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if has_app_context():
            return job(*args, **kwargs)
        with _worker_app().app_context():
            return job(*args, **kwargs)

    return wrapper


def _rq_worker_class():
    class AppWorker(SimpleWorker):
        """``rq worker -w dhamen.core.jobs.AppWorker``: the Flask app is built once per worker and
        jobs run in its process (RQ's ``SimpleWorker``: no fork per job; the job timeout still
        applies).  With the forking ``Worker`` every job built the app again in its fork
        (seconds per job).  A worker killed mid-job leaves its job in the started registry,
        requeued by the next worker's maintenance (see ``tests/hostile/test_job_faults.py``)."""

        def work(self, *args, **kwargs):
            _worker_app()
            return super().work(*args, **kwargs)

    return AppWorker


def __getattr__(name: str):
    # Imported lazily: the web process never needs RQ's worker machinery.
    if name == "AppWorker":
        return _rq_worker_class()
    raise AttributeError(name)
