"""Insurer portal: home dashboard of the insurer's own claims."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import func, select

from dhamen.access.rbac import require_role
from dhamen.access.tenancy import scoped
from dhamen.extensions import db
from dhamen.models import Claim, Insurer

bp = Blueprint("insurer", __name__, url_prefix="/assureur")


@bp.get("/")
@require_role("INSURER_ADMIN", "INSURER_AGENT")
def home():
    insurer = db.session.get(Insurer, current_user.insurer_id)
    by_status = dict(db.session.execute(
        scoped(select(Claim.status, func.count()).group_by(Claim.status), Claim, current_user)).all())
    month_start = date.today().replace(day=1)
    covered_month = db.session.scalar(
        scoped(select(func.coalesce(func.sum(Claim.covered_amount), 0)).where(Claim.care_date >= month_start), Claim,
               current_user))
    to_review = db.session.scalars(
        scoped(select(Claim).where(Claim.status.in_(("pending_review", "blocked")))
               .order_by(Claim.created_at.desc()).limit(20), Claim, current_user)).all()
    return render_template("insurer/home.html", insurer=insurer, by_status=by_status,
                           covered_month=int(covered_month or 0), to_review=to_review)
