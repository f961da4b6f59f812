"""The account actions both administration portals offer on a user: deactivate, reactivate, reset MFA.

One operation each (:mod:`dhamen.access.auth.service`) and one set of routes, added to the
platform admin's blueprint and to the insurer admin's by :func:`add_user_actions`, each
portal with its own role, its own reach (``load``: a user out of it is "not found") and
its own page to go back to.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash
from flask_login import current_user

from dhamen.access.auth import service
from dhamen.access.rbac import require_role
from dhamen.models import User


def add_user_actions(bp: Blueprint, role: str, load: Callable[[str], User], back: Callable[[User], object],
                     endpoint_prefix: str = "") -> None:
    """POST ``/utilisateurs/<user_id>/desactiver``, ``/reactiver`` and ``/reinitialiser-mfa`` on ``bp``
    for ``role`` (endpoints ``{endpoint_prefix}deactivate``, ``reactivate``, ``reset_mfa``)."""

    def deactivate(user_id: str):
        user = load(user_id)
        refusal = service.deactivate(user, current_user)
        if refusal:
            flash(refusal, "error")
        else:
            flash(f"{user.email} désactivé : ses sessions et jetons sont révoqués.", "success")
        return back(user)

    def reactivate(user_id: str):
        user = load(user_id)
        service.reactivate(user, current_user)
        flash(f"{user.email} réactivé.", "success")
        return back(user)

    def reset_mfa(user_id: str):
        user = load(user_id)
        service.reset_mfa(user, current_user)
        flash(f"Double authentification réinitialisée pour {user.email} : elle sera choisie à nouveau à la "
              "connexion.", "success")
        return back(user)

    for path, view in (("desactiver", deactivate), ("reactiver", reactivate), ("reinitialiser-mfa", reset_mfa)):
        bp.add_url_rule(f"/utilisateurs/<user_id>/{path}", f"{endpoint_prefix}{view.__name__}",
                        require_role(role)(view), methods=["POST"])
