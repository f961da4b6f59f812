"""Extension objects, created here and initialised by ``create_app`` in a fixed order.

Order in ``create_app``: db → migrate → redis (cache) → limiter → login → csrf → storage → jobs.
"""

from __future__ import annotations

from flask import g, request
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()


def _rate_key() -> str:
    """Per token for the API (its subject), per IP otherwise."""
    user = getattr(g, "api_user", None)
    if user is not None:
        return f"user:{user.id}"
    return f"ip:{request.remote_addr or 'unknown'}"


from flask_limiter import Limiter  # noqa: E402

limiter = Limiter(key_func=_rate_key, headers_enabled=True, strategy="fixed-window")

# Flask-Limiter keeps its storage and settings on the Limiter object itself, so
# a second app in the same process (tests, a worker next to a web app) would
# take over the first one's limits.  Each app keeps its own state and puts it
# back on the shared limiter at the start of each of its requests.
_LIMITER_STATE = (
    "enabled", "initialized", "_storage", "_limiter", "_key_prefix", "_strategy", "_headers_enabled",
    "_header_mapping", "_retry_after", "_swallow_errors", "_fail_on_first_breach", "_on_breach",
    "_on_meta_breach", "_meta_limits", "_request_identifier",
)


def init_limiter(app) -> None:
    @app.before_request
    def _use_this_apps_limiter():
        for name, value in app.extensions.get("dhamen.limiter_state", {}).items():
            setattr(limiter, name, value)

    limiter.init_app(app)
    app.extensions["dhamen.limiter_state"] = {
        name: getattr(limiter, name) for name in _LIMITER_STATE if hasattr(limiter, name)
    }
