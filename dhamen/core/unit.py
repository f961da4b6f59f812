"""One unit of work per request, per job and per command.

Operations flush; they never commit.  The request commits once, here, after the view
(whatever its status: a refused login keeps its audit row and its throttle counters);
a refusal that must change nothing is a :class:`~dhamen.core.errors.ServiceError`, rolled
back by the edge (:mod:`dhamen.core.http`), as is any unexpected exception.  Jobs queued
with ``after_commit`` run once that commit succeeded.  A job (``with_app``) and a CLI
command (``committed``) commit once at their end, or roll back.
"""

from __future__ import annotations

import functools

from flask import current_app

from dhamen.core.http import outage_response
from dhamen.core.outages import OUTAGE_CLASSES
from dhamen.core.services import run_inline_jobs
from dhamen.extensions import db


def commit_request(response):
    """``after_request``: the request's one commit, then the jobs it queued (embedded mode)."""
    if db.session().in_transaction():
        try:
            db.session.commit()
        except OUTAGE_CLASSES as exc:  # the database went away before the commit: 503, not 500
            return current_app.make_response(outage_response(exc))
    run_inline_jobs()
    return response


def committed(fn):
    """A job or command body: commit once at its end, roll back if it raises."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            result = fn(*args, **kwargs)
        except BaseException:
            db.session.rollback()
            raise
        db.session.commit()
        return result

    return wrapper


def register_unit_of_work(app) -> None:
    app.after_request(commit_request)
