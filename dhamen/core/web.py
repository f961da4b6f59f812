"""Public pages shared by every role (home) and the template helpers (label filters, dates, money)."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.routing import BuildError

from dhamen.access.rbac import public
from dhamen.access.roles import ROLE_LABELS, home_endpoint
from dhamen.domain.labels import (
    CARE_TYPE_LABELS,
    CONTRACT_STATUS_LABELS,
    PLAN_LABELS,
    PROVIDER_TYPE_LABELS,
    RECONCILIATION_STATUS_LABELS,
    STATUS_LABELS,
)
from dhamen.domain.money import format_tnd
from dhamen.domain.text import TUNIS

bp = Blueprint("web", __name__)

@bp.get("/")
@public
def index():
    if getattr(current_user, "is_authenticated", False):
        return redirect(url_for(home_endpoint(current_user.role)))
    return render_template("index.html")


def body_limit(max_bytes: int):
    """Let one view accept a request body larger than ``MAX_CONTENT_LENGTH`` (e.g. a CSV upload)."""

    def decorator(view):
        view.max_content_length = max_bytes
        return view

    return decorator


def url_for_safe(endpoint: str, **values) -> str | None:
    """``url_for`` that answers None for an endpoint that is not registered."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


#: filter name -> the French words for an internal value.  Registered app-wide (as filters
#: and as functions), so that no template has to show a raw value.
LABEL_FILTERS: dict[str, Mapping[str, str]] = {
    "care_label": CARE_TYPE_LABELS,
    "status_label": STATUS_LABELS,
    "contract_status_label": CONTRACT_STATUS_LABELS,
    "role_label": ROLE_LABELS,
    "provider_type_label": PROVIDER_TYPE_LABELS,
    "plan_label": PLAN_LABELS,
    "reconciliation_status_label": RECONCILIATION_STATUS_LABELS,
}


def _label_filter(labels: Mapping[str, str]):
    def label(value, default=None):
        """The label of ``value``; an unknown value shows as given (``default``) or "—"."""
        if value is None or value == "":
            return "—"
        return labels.get(value, value if default is None else default)

    return label


def register_template_helpers(app) -> None:
    for name, labels in LABEL_FILTERS.items():
        function = _label_filter(labels)
        app.add_template_filter(function, name)
        app.add_template_global(function, name)
    app.add_template_global(url_for_safe, "url_for_safe")
    app.add_template_global(lambda: app.extensions.get("dhamen.provider_nav", lambda: [])(), "provider_nav")
    app.add_template_filter(format_tnd, "tnd")

    @app.template_filter("date_fr")
    def _date_fr(value):
        return value.strftime("%d/%m/%Y") if value else ""

    @app.template_filter("datetime_fr")
    def _datetime_fr(value):
        if not value:
            return ""
        return value.astimezone(TUNIS).strftime("%d/%m/%Y %H:%M")
