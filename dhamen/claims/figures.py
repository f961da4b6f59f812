"""The small aggregates of the counter home: today's and this month's claims.

Each reads a bounded range of an index, never the organisation's history:

- today's and this month's claims of a provider or an insurer: the range
  ``created_at >= first of the month`` of ``(org, created_at, id)`` — it grows
  with a month's volume, not with the years;
- (the insurer's queue and dashboard figures are in ``dhamen.insurer``: day roll-ups.)

"Today" and "this month" are the server's local calendar (as the counter's
care dates are).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import case, func, select

from dhamen.access.tenancy import scoped
from dhamen.extensions import db
from dhamen.models import Claim

NOT_PAYABLE = ("rejected", "blocked")


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    claims: int
    total: int  # millimes
    covered: int  # millimes, payable claims only (not rejected or blocked)


@dataclass(frozen=True)
class Figures:
    today: Period
    month: Period
    month_start: date


def period_figures(user, today: date | None = None) -> Figures:
    """Today's and this month's claims of the user's organisation, in one indexed range read."""
    today = today or date.today()
    month_start = today.replace(day=1)
    since_today = _local_midnight(today)
    is_today = Claim.created_at >= since_today
    payable = Claim.status.not_in(NOT_PAYABLE)

    def total(expr, when=None):
        return func.coalesce(func.sum(case((when, expr), else_=0) if when is not None else expr), 0)

    row = db.session.execute(scoped(select(
        func.count(), total(Claim.total_amount), total(Claim.covered_amount, payable),
        total(1, is_today), total(Claim.total_amount, is_today), total(Claim.covered_amount, is_today & payable),
    ).select_from(Claim).where(Claim.created_at >= _local_midnight(month_start),
                               Claim.created_at < _local_midnight(today + timedelta(days=1))), Claim, user)).one()
    n, amount, covered, n_today, amount_today, covered_today = (int(v or 0) for v in row)
    return Figures(Period(n_today, amount_today, covered_today), Period(n, amount, covered), month_start)
