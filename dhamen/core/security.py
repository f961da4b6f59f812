"""Security headers; the caller verified first (Redis down: ``dhamen.core.outages``, answered by ``dhamen.core.http``)."""

from __future__ import annotations

from flask import g, request

from dhamen.access.auth.sessions import SessionStoreDown
from dhamen.access.auth.tokens import authenticate_bearer

# What ``g`` may hold about the caller; cleared at the start of every request
# (Flask-Login's current user, our API caller, Flask-WTF's token and its "already
# checked" flag, which would otherwise let a later POST skip the CSRF check).
PER_REQUEST_G = ("_login_user", "api_user", "api_sid", "audit_user", "csrf_valid", "retry_after")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


def register_security(app) -> None:
    production_like = not app.config["DHAMEN"].is_development

    def _authenticate_caller():
        """First hook of every request.

        1. Forget any caller cached on ``g``: an app context can outlive a request
           (tests, ``test_request_context`` in a command), and one request's user must
           never answer for the next (Flask-Login caches ``current_user`` there).
        2. Verify an API Bearer token before the rate limiter picks its key:
           Flask-Limiter checks limits in the first ``before_request`` hook, and its key
           is the token's user only once the token is verified (``g.api_user``);
           without this every API call would be counted per IP.  The result stays on
           ``g`` for this request: ``require_role`` does not verify the token twice.
        """
        for name in (*PER_REQUEST_G, app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")):
            g.pop(name, None)
        if request.path.startswith("/api/") and request.headers.get("Authorization"):
            try:
                authenticate_bearer()
            except SessionStoreDown:
                # Redis is down: count this call per IP; a route that needs the caller
                # verifies the token again and answers 503 (the health check still answers).
                g.pop("api_user", None)

    app.before_request_funcs.setdefault(None, []).insert(0, _authenticate_caller)

    def _retry_after(response):
        """Last ``after_request`` hook (hooks run in reverse order of registration).

        Flask-Limiter writes its window's reset time as ``Retry-After`` on every
        answer, 200s included, and raises ours (a brute-force back-off of 30 s,
        60 s…) to its window.  Keep the header where it means something (429, 503)
        with the exact wait when we decided it (``g.retry_after``).
        """
        if response.status_code not in (429, 503):
            response.headers.pop("Retry-After", None)
        elif g.get("retry_after"):
            response.headers["Retry-After"] = str(g.retry_after)
        return response

    app.after_request_funcs.setdefault(None, []).insert(0, _retry_after)

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
