"""Fixtures of the access tests (authentication, RBAC, tenancy): a world of organisations and
users, a second app with probe routes, and the app's own logs."""

from __future__ import annotations

import logging

import pytest
from auth_helpers import build_world, register_probe_routes

from dhamen import create_app
from dhamen.extensions import db


@pytest.fixture
def world(ctx):
    return build_world()


@pytest.fixture
def probe_app(app_env):
    """A second app on the same database, with probe routes added before its first request."""
    made = []

    def factory(register=None, **overrides):
        application = create_app(dict(app_env, **overrides))
        application.config.update(TESTING=True)
        register_probe_routes(application)
        if register is not None:
            register(application)
        made.append(application)
        return application

    yield factory
    for application in made:
        with application.app_context():
            db.session.remove()
            application.extensions["dhamen.services"].redis.flushdb()
            db.engine.dispose()


@pytest.fixture
def app_logs(caplog):
    """Capture the app's own logs.

    Alembic's ``fileConfig`` (run by the migrations in the ``app`` fixture) disables
    every logger that existed then, ``dhamen`` included: without re-enabling them a
    test of what the app logs would see nothing.
    """
    names = [n for n in logging.root.manager.loggerDict if n == "dhamen" or n.startswith("dhamen.")]
    loggers = [logging.getLogger(n) for n in {"dhamen", "dhamen.sms", *names}]
    saved = [(lg, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.disabled = False
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="dhamen")
    yield caplog
    for lg, disabled in saved:
        lg.disabled = disabled
