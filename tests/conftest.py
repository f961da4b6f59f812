"""Test harness.

By default the suite runs on the embedded defaults (SQLite file, fakeredis,
local storage folder).  With ``DATABASE_URL`` / ``REDIS_URL`` /
``STORAGE_URL`` (+ ``S3_*``) in the environment — as ``.ci/run`` does in its
second pass — the same tests run against the real PostgreSQL, Redis and S3
server.  Under pytest-xdist each worker gets its own PostgreSQL database,
Redis database and bucket.
"""

from __future__ import annotations

import contextlib
import os
import re

import pytest
import sqlalchemy as sa

from dhamen.access.auth import passwords

REAL_DATABASE_URL = os.environ.get("DATABASE_URL")
REAL_REDIS_URL = os.environ.get("REDIS_URL")
REAL_STORAGE_URL = os.environ.get("STORAGE_URL")
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
WORKER_NUM = int(re.sub(r"\D", "", WORKER) or 0)

# Tests must not spend their time in bcrypt.
passwords.BCRYPT_ROUNDS = 4


def _worker_database_url(base_url: str) -> str:
    """One PostgreSQL database per xdist worker, created on demand."""
    url = sa.engine.make_url(base_url)
    if not url.drivername.startswith("postgresql"):
        return base_url
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    name = f"{url.database}_{WORKER}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _worker_redis_url(base_url: str) -> str:
    return re.sub(r"/\d*$", "", base_url.rstrip("/")) + f"/{15 - WORKER_NUM % 15}"


def base_env(tmp_path_factory) -> dict[str, str]:
    instance = tmp_path_factory.mktemp("instance")
    env = {
        "ENVIRONMENT": "development",
        "DHAMEN_INSTANCE_PATH": str(instance),
        "RATELIMIT_ENABLED": "true",
    }
    if REAL_DATABASE_URL:
        env["DATABASE_URL"] = _worker_database_url(REAL_DATABASE_URL)
    if REAL_REDIS_URL:
        env["REDIS_URL"] = _worker_redis_url(REAL_REDIS_URL)
    if REAL_STORAGE_URL:
        env["STORAGE_URL"] = REAL_STORAGE_URL.rstrip("/") + f"-{WORKER}"
        for name in ("S3_ENDPOINT_URL", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_REGION"):
            if os.environ.get(name):
                env[name] = os.environ[name]
    return env


@pytest.fixture(scope="session")
def app_env(tmp_path_factory) -> dict[str, str]:
    return base_env(tmp_path_factory)


@pytest.fixture(scope="session")
def app(app_env):
    from flask_migrate import downgrade, upgrade

    from dhamen import create_app
    from dhamen.extensions import db

    application = create_app(app_env)
    application.config.update(TESTING=True)
    with application.app_context():
        if db.engine.dialect.name == "postgresql":
            # Start from an empty database whatever a previous run left.
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        storage = application.extensions["dhamen.services"].storage
        if storage.kind == "s3":
            storage.ensure_bucket()
    yield application
    with application.app_context():
        db.session.remove()
        if db.engine.dialect.name == "postgresql":
            downgrade(revision="base")
        db.engine.dispose()


def truncate_all(db) -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(sa.text("TRUNCATE " + ", ".join(tables) + " CASCADE"))
        else:
            for name in tables:
                conn.execute(sa.text(f"DELETE FROM {name}"))


@pytest.fixture(autouse=True)
def _clean(request):
    """Every test that uses the app starts from empty tables and an empty cache."""
    yield
    if "app" not in request.fixturenames:
        return
    application = request.getfixturevalue("app")
    from dhamen.extensions import db

    with application.app_context():
        db.session.remove()
        truncate_all(db)
        application.extensions["dhamen.services"].redis.flushdb()
        limiter = application.extensions.get("limiter")
        if limiter is not None:
            for lim in limiter if isinstance(limiter, set) else [limiter]:
                with contextlib.suppress(Exception):  # some storages cannot reset; flushdb did it
                    lim.reset()


@pytest.fixture
def ctx(app):
    with app.app_context() as context:
        yield context


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def demo(ctx):
    """A small demo dataset (30 members) with the demo users, committed (a live server reads it)."""
    from dhamen.extensions import db
    from dhamen.seed.demo import seed_demo

    report = seed_demo(members=30)
    db.session.commit()
    return report
