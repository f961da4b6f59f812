"""``GET /api/v1/health`` exactly as the spec's section 5 shows.

Each dependency is probed with a short timeout.  Database down → the whole
service is ``unhealthy``; cache or storage down → ``degraded``; either way
HTTP 503 and the failed check says ``"status": "error"`` with a reason.
This is the one API answer that is not wrapped in the envelope: the spec
gives its body verbatim and load balancers read it as is.
"""

from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from dhamen import __version__
from dhamen.access.rbac import public
from dhamen.core.services import services
from dhamen.core.storage import timed_probe
from dhamen.extensions import db

STARTED = time.monotonic()


def format_uptime(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {seconds % 60}s"


def _ms(start: float) -> int:
    return round((time.perf_counter() - start) * 1000)


def check_database() -> dict:
    start = time.perf_counter()
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "latencyMs": _ms(start)}
    except Exception as exc:  # noqa: BLE001
        current_app.logger.warning("health: base de données injoignable: %s", exc.__class__.__name__)
        return {"status": "error", "latencyMs": _ms(start), "error": "base de données injoignable"}


def check_cache() -> dict:
    start = time.perf_counter()
    svc = services()
    try:
        svc.redis.ping()
        result = {"status": "ok", "latencyMs": _ms(start)}
        if svc.settings.embedded_redis:
            result["mode"] = "embedded"
        return result
    except Exception as exc:  # noqa: BLE001
        current_app.logger.warning("health: cache injoignable: %s", exc.__class__.__name__)
        return {"status": "error", "latencyMs": _ms(start), "error": "cache (Redis) injoignable"}


def check_storage() -> dict:
    ok, latency, reason = timed_probe(services().storage)
    if ok:
        return {"status": "ok", "latencyMs": latency}
    current_app.logger.warning("health: stockage injoignable: %s", reason)
    return {"status": "error", "latencyMs": latency, "error": "stockage objet injoignable"}


# Its own blueprint: load balancers poll it, and it must answer even when
# Redis (which backs the API rate limits) is down.
health_bp = Blueprint("health", __name__, url_prefix="/api/v1")


@health_bp.get("/health")
@public
def health():
    settings = services().settings
    checks = {"database": check_database(), "cache": check_cache(), "storage": check_storage()}
    if checks["database"]["status"] != "ok":
        status = "unhealthy"
    elif any(c["status"] != "ok" for c in checks.values()):
        status = "degraded"
    else:
        status = "healthy"
    body = {
        "status": status,
        "version": __version__,
        "environment": settings.environment,
        "checks": checks,
        "uptime": format_uptime(time.monotonic() - STARTED),
    }
    if status != "healthy":
        body["failed"] = [name for name, c in checks.items() if c["status"] != "ok"]
    extra = current_app.extensions.get("dhamen.health_extra")
    if extra:
        body.update(extra())
    response = jsonify(body)
    response.status_code = 200 if status == "healthy" else 503
    response.headers["Cache-Control"] = "no-store"
    return response
