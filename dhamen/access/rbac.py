"""Who may use each route.

Every view declares its audience with ``@public`` or ``@require_role(...)``.
``tests/test_route_policy.py`` walks the URL map and fails on any endpoint
without a declaration.

``require_role`` works for pages and the JSON API alike: API routes
authenticate with a Bearer access token (never a cookie) and refuse with the
seed's body ``{success: false, error: {code: 'FORBIDDEN', message:
'Droits insuffisants pour cette action.'}}``; pages use the browser session and answer a
French 403 page.  A refusal is audited.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import abort, g, redirect, request, url_for
from flask_login import current_user

from dhamen.access.auth.tokens import authenticate_bearer
from dhamen.core import audit
from dhamen.core.http import ApiError

ACCESS_ATTR = "_dhamen_access"
# What a user whose password is temporary may still open (besides public pages).
PASSWORD_CHANGE_ENDPOINTS = frozenset({"auth.change_password", "auth.recovery_codes", "api.me"})
AUTHENTICATED = "authenticated"


def public(view: Callable) -> Callable:
    """Anyone, authenticated or not (health check, login page, static)."""
    setattr(view, ACCESS_ATTR, ("public",))
    return view


def access_of(view: Callable) -> tuple | None:
    while view is not None:
        access = getattr(view, ACCESS_ATTR, None)
        if access is not None:
            return access
        view = getattr(view, "__wrapped__", None)
    return None


def _is_api() -> bool:
    return request.path.startswith("/api/")


def current_actor():
    """The authenticated user of this request (API token or browser session), or None."""
    if _is_api():
        return authenticate_bearer()
    return current_user if current_user.is_authenticated else None


def require_role(*roles: str) -> Callable:
    """Allow only these roles (``require_role()`` with none = any signed-in user)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = current_actor()
            if user is None:
                if _is_api():
                    raise ApiError(401, "UNAUTHORIZED", "Authentification requise.")
                return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
            g.audit_user = user
            if getattr(user, "must_change_password", False) and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
                # A temporary password (set by an admin) opens nothing but the page that replaces it.
                if _is_api():
                    raise ApiError(403, "PASSWORD_CHANGE_REQUIRED",
                                   "Mot de passe temporaire : changez-le sur le portail avant toute autre action.")
                return redirect(url_for("auth.change_password"))
            if roles and user.role not in roles:
                _audit_refusal(user)
                if _is_api():
                    raise ApiError(403, "FORBIDDEN", "Droits insuffisants pour cette action.")
                abort(403)
            return view(*args, **kwargs)

        setattr(wrapper, ACCESS_ATTR, tuple(roles) or (AUTHENTICATED,))
        return wrapper

    return decorator


def _audit_refusal(user) -> None:
    """Refused authorisations are audited (committed with the request's answer)."""
    audit.record("authz.denied", "route", request.endpoint or request.path,
                 {"method": request.method, "path": request.path, "role": user.role}, user=user)
