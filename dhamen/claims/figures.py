"""The small aggregates of the counter home: today's and this month's claims.

Each reads a bounded range of an index, never the organisation's history:

- today's and this month's claims of a provider or an insurer: the month's days
  before today from the daily roll-up ``claim_day_totals`` (kept by the claims
  triggers, migration c3d9e8f1a2b4), today from the range ``created_at >= today``
  of ``(org, created_at, id)`` — a day's volume;
- (the insurer's queue and dashboard figures are in ``dhamen.insurer``: day roll-ups.)

"Today" and "this month" are the server's local calendar (as the counter's
care dates are).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import case, func, select

from dhamen.access.tenancy import scoped
from dhamen.claims.queries import NOT_PAYABLE
from dhamen.domain.text import TUNIS
from dhamen.extensions import db
from dhamen.models import Claim, ClaimDayTotal


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


def _live(user, since: datetime, until: datetime, today_from: datetime):
    """``(n, amount, covered, n_today, amount_today, covered_today)`` of the claims entered in
    ``[since, until)``, read from the claims (an index range of ``(org, created_at)``)."""
    payable = Claim.status.not_in(NOT_PAYABLE)
    is_today = Claim.created_at >= today_from

    def total(expr, when=None):
        return func.coalesce(func.sum(case((when, expr), else_=0) if when is not None else expr), 0)

    row = db.session.execute(scoped(select(
        func.count(), total(Claim.total_amount), total(Claim.covered_amount, payable),
        total(1, is_today), total(Claim.total_amount, is_today), total(Claim.covered_amount, is_today & payable),
    ).select_from(Claim).where(Claim.created_at >= since, Claim.created_at < until), Claim, user)).one()
    return tuple(int(v or 0) for v in row)


def _rolled_up(user, first: date, last: date) -> tuple[int, int, int]:
    """``(n, amount, covered)`` of the claims entered on the roll-up days ``first`` … ``last``
    (inclusive), read from ``claim_day_totals`` (one row per day × insurer × status × care type ×
    provider)."""
    t = ClaimDayTotal
    row = db.session.execute(scoped(select(
        func.coalesce(func.sum(t.claims), 0), func.coalesce(func.sum(t.total_amount), 0),
        func.coalesce(func.sum(case((t.status.not_in(NOT_PAYABLE), t.covered_amount), else_=0)), 0),
    ).where(t.day >= first, t.day <= last), t, user)).one()
    return tuple(int(v or 0) for v in row)


def _rollup_midnight(day: date) -> datetime:
    """When the roll-up's ``day`` starts (its days are Tunisia's: migration c3d9e8f1a2b4), in UTC."""
    return datetime.combine(day, time.min, tzinfo=TUNIS).astimezone(UTC)


def _rollup_day(at: datetime) -> date:
    return at.astimezone(TUNIS).date()


def period_figures(user, today: date | None = None) -> Figures:
    """Today's and this month's claims of the user's organisation.

    The roll-up days (``claim_day_totals``) wholly inside the month before today come from the
    roll-up (at most 31 days × a few rows); today and the hours at either end that are not a whole
    roll-up day (when the server's calendar is not Tunisia's) from the claims' ``(org, created_at)``
    index — a day or two of claims at most.  Exact: the roll-up is kept in each claim's transaction."""
    today = today or date.today()
    month_start = today.replace(day=1)
    since, today_from, until = (_local_midnight(month_start), _local_midnight(today),
                                _local_midnight(today + timedelta(days=1)))
    # Roll-up days wholly inside [since, today_from).
    first = _rollup_day(since)
    if _rollup_midnight(first) < since:
        first += timedelta(days=1)
    last = _rollup_day(today_from) - timedelta(days=1)  # the roll-up day of today_from is read live
    if first > last:
        n, amount, covered, n_today, amount_today, covered_today = _live(user, since, until, today_from)
    else:
        n, amount, covered = _rolled_up(user, first, last)
        n_today = amount_today = covered_today = 0
        for lo, hi in ((since, _rollup_midnight(first)), (_rollup_midnight(last + timedelta(days=1)), until)):
            if lo < hi:
                part = _live(user, lo, hi, today_from)
                n, amount, covered = n + part[0], amount + part[1], covered + part[2]
                n_today, amount_today, covered_today = (n_today + part[3], amount_today + part[4],
                                                        covered_today + part[5])
    return Figures(Period(n_today, amount_today, covered_today), Period(n, amount, covered), month_start)
