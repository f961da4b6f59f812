"""Dhamen — plateforme de tiers payant santé.

``create_app()`` loads the configuration from the environment, checks it,
initialises the extensions in a fixed order, then registers blueprints and
CLI commands.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

__version__ = "1.0.0"

ROOT = Path(__file__).resolve().parent.parent


def create_app(env: Mapping[str, str] | None = None, instance_path: str | None = None) -> Flask:
    # The imports below stay here: every ``dhamen.*`` import runs this file first, and the app's
    # modules import ``dhamen.create_app`` back (``core.jobs``); the domain must not load the app.
    from dhamen.config import load_config
    from dhamen.core import crypto

    settings = load_config(env, instance_path)

    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=settings.instance_path,
        instance_relative_config=False,
    )
    _configure_logging(app)
    app.json.sort_keys = False
    Path(settings.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(
        DHAMEN=settings,
        ENVIRONMENT=settings.environment,
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings.database_url),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_HEADERS=["X-CSRFToken", "X-CSRF-Token"],
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not settings.is_development,
        SESSION_COOKIE_NAME="dhamen_session" if settings.is_development else "__Host-dhamen_session",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=not settings.is_development,
        PERMANENT_SESSION_LIFETIME=settings.session_absolute_hours * 3600,
        RATELIMIT_ENABLED=settings.ratelimit_enabled,
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 2, "socket_timeout": 3} if settings.redis_url else {},
        RATELIMIT_KEY_PREFIX="dhamen-rl",
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_LOGIN=settings.extra.get("RATELIMIT_LOGIN", "30 per minute"),
        RATELIMIT_API=settings.extra.get("RATELIMIT_API", "300 per minute"),
    )
    crypto.configure(
        crypto.Keyring(settings.data_encryption_keys, settings.data_encryption_key_id, settings.lookup_key)
    )

    from dhamen.core.services import build_services
    from dhamen.extensions import csrf, db, init_limiter, login_manager, migrate

    # Fixed order: database → migrations → cache/queues/storage → rate limits → login → CSRF → blueprints.
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    import dhamen.models  # noqa: F401  (register the tables)

    _sqlite_pragmas(app, db)
    services = build_services(settings)
    app.extensions["dhamen.services"] = services
    # Visible configuration in the health answer (never a secret).
    app.extensions["dhamen.health_extra"] = lambda: {"config": {
        "smsSender": settings.sms_sender,
        "mailSender": settings.mail.kind,
        "jobs": "inline" if services.inline_jobs else "rq",
        "storage": settings.storage.kind,
    }}
    init_limiter(app)
    login_manager.init_app(app)
    login_manager.session_protection = None  # sessions are server-side (Redis), checked on each request
    csrf.init_app(app)

    from dhamen.blueprints import register_blueprints
    from dhamen.core.web import register_template_helpers

    register_template_helpers(app)
    register_blueprints(app)
    from dhamen.core.security import register_security

    register_security(app)

    from dhamen.core.edge import register_input_guard

    register_input_guard(app)

    from dhamen.core.unit import register_unit_of_work

    register_unit_of_work(app)

    from dhamen.cli import register_cli

    register_cli(app)
    app.logger.info(
        "Dhamen %s démarré (ENVIRONMENT=%s, base=%s, cache=%s, stockage=%s)",
        __version__,
        settings.environment,
        settings.database_url.split(":", 1)[0],
        "embarqué" if settings.embedded_redis else "redis",
        settings.storage.kind,
    )
    return app


def _configure_logging(app: Flask) -> None:
    logger = logging.getLogger("dhamen")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 15}}
    return {
        "pool_pre_ping": True,
        "pool_size": 10,
        "max_overflow": 10,
        "pool_timeout": 5,
        "connect_args": {"connect_timeout": 3, "options": "-c statement_timeout=30000"},
    }


def _sqlite_pragmas(app: Flask, db) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return

    with app.app_context():
        engine: Engine = db.engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=15000")
        cur.close()
