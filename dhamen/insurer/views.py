"""Insurer portal: home dashboard of the insurer's own claims."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from dhamen.access.rbac import require_role
from dhamen.claims import figures
from dhamen.extensions import db
from dhamen.models import Insurer

bp = Blueprint("insurer", __name__, url_prefix="/assureur")


@bp.get("/")
@require_role("INSURER_ADMIN", "INSURER_AGENT")
def home():
    # Small aggregates only (dhamen.claims.figures): this month's claims, the waiting ones.
    insurer = db.session.get(Insurer, current_user.insurer_id)
    return render_template("insurer/home.html", insurer=insurer, figures=figures.period_figures(current_user),
                           waiting=figures.to_review_counts(current_user),
                           to_review=figures.latest_to_review(current_user))
