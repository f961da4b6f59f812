"""Who may use each route.

Every view declares its audience with ``@public`` or ``@require_role(...)``
(``@login_required`` alone is not enough).  ``tests/test_route_policy.py``
walks the URL map and fails on any endpoint without a declaration.
"""

from __future__ import annotations

from collections.abc import Callable

ACCESS_ATTR = "_dhamen_access"


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
