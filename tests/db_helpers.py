"""A fresh, empty database for the migration tests (SQLite file, or a PostgreSQL database beside the worker's)."""

from __future__ import annotations

import sqlalchemy as sa


def fresh_database_url(app_env, tmp_path, suffix: str = "mig") -> str:
    base = app_env.get("DATABASE_URL")
    if base and base.startswith("postgresql"):
        url = sa.engine.make_url(base)
        name = f"{url.database}_{suffix}"
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return url.set(database=name).render_as_string(hide_password=False)
    return f"sqlite:///{tmp_path / (suffix + '.db')}"
