"""Security headers, and fail-closed answers when Redis is unreachable."""

from __future__ import annotations

import redis
from flask import request

from dhamen.auth.sessions import SessionStoreDown

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


def register_security(app) -> None:
    production_like = not app.config["DHAMEN"].is_development

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if production_like:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.path.startswith("/api/") or request.endpoint and request.endpoint.startswith("auth."):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(SessionStoreDown)
    @app.errorhandler(redis.exceptions.ConnectionError)
    @app.errorhandler(redis.exceptions.TimeoutError)
    def _store_down(exc):
        from werkzeug.exceptions import ServiceUnavailable

        from dhamen.api import error_response, is_api_request
        from dhamen.extensions import db

        db.session.rollback()
        app.logger.error("Redis injoignable: %s", exc.__class__.__name__)
        if is_api_request():
            return error_response(503, "SERVICE_UNAVAILABLE",
                                  "Service d'authentification momentanément indisponible.")
        from dhamen.web import render_error_page

        return render_error_page(ServiceUnavailable())
