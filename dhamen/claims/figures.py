"""The small aggregates of the counter home and the insurer dashboard.

Each reads a bounded range of an index, never the organisation's history:

- today's and this month's claims of a provider or an insurer: the month's whole
  UTC days before today from the daily roll-up ``claim_days`` (kept by the claims
  triggers, migration a7d3c9e1f2b4), today from the range ``created_at >= today``
  of ``(org, created_at, id)`` — a day's volume;
- the claims waiting for an insurer's decision: an index-only count of
  ``(insurer_id, status, created_at, id)``, stopped at :data:`REVIEW_CAP`;
- the latest of them: the newest ``limit`` of each status, merged.

"Today" and "this month" are the server's local calendar (as the counter's
care dates are).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import case, func, select

from dhamen.access.tenancy import scoped
from dhamen.core.pagination import capped_count
from dhamen.extensions import db
from dhamen.models import Claim, ClaimDay

REVIEW_STATUSES = ("pending_review", "blocked")
NOT_PAYABLE = ("rejected", "blocked")
REVIEW_CAP = 10_000


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
    """``(n, amount, covered)`` of the claims entered on the UTC days ``first`` … ``last`` (inclusive),
    read from ``claim_days`` (one row per day × insurer × status × care type)."""
    payable = ClaimDay.status.not_in(NOT_PAYABLE)
    row = db.session.execute(scoped(select(
        func.coalesce(func.sum(ClaimDay.claims), 0), func.coalesce(func.sum(ClaimDay.total_amount), 0),
        func.coalesce(func.sum(case((payable, ClaimDay.covered_amount), else_=0)), 0),
    ).where(ClaimDay.day >= first, ClaimDay.day <= last), ClaimDay, user)).one()
    return tuple(int(v or 0) for v in row)


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def period_figures(user, today: date | None = None) -> Figures:
    """Today's and this month's claims of the user's organisation.

    The whole UTC days of the month before today come from the daily roll-up ``claim_days``
    (at most 31 days × a few rows); today and the hours at either end that are not a whole UTC day
    (the local calendar's offset) from the claims' ``(org, created_at)`` index — a day's claims at
    most.  Exact: the roll-up is kept in each claim's transaction."""
    today = today or date.today()
    month_start = today.replace(day=1)
    since, today_from, until = (_local_midnight(month_start), _local_midnight(today),
                                _local_midnight(today + timedelta(days=1)))
    # UTC days wholly inside [since, today_from): from the roll-up.
    first = since.date() if since == _utc_midnight(since.date()) else since.date() + timedelta(days=1)
    last = today_from.date() - timedelta(days=1)  # the UTC day of today_from is read live
    if first > last:
        n, amount, covered, n_today, amount_today, covered_today = _live(user, since, until, today_from)
    else:
        n, amount, covered = _rolled_up(user, first, last)
        n_today = amount_today = covered_today = 0
        for lo, hi in ((since, _utc_midnight(first)), (_utc_midnight(last + timedelta(days=1)), until)):
            if lo < hi:
                part = _live(user, lo, hi, today_from)
                n, amount, covered = n + part[0], amount + part[1], covered + part[2]
                n_today, amount_today, covered_today = (n_today + part[3], amount_today + part[4],
                                                        covered_today + part[5])
    return Figures(Period(n_today, amount_today, covered_today), Period(n, amount, covered), month_start)


def to_review_counts(user) -> dict[str, tuple[int, bool]]:
    """``{status: (n, exact)}`` for the statuses waiting for the insurer, capped at :data:`REVIEW_CAP`."""
    return {status: capped_count(scoped(select(Claim.id).where(Claim.status == status), Claim, user), REVIEW_CAP)
            for status in REVIEW_STATUSES}


def latest_to_review(user, limit: int = 20) -> list[Claim]:
    """The newest claims waiting for a decision: the newest ``limit`` of each status (one index
    range each), merged — not a sort of every waiting claim."""
    found: list[Claim] = []
    for status in REVIEW_STATUSES:
        found += db.session.scalars(scoped(select(Claim).where(Claim.status == status), Claim, user)
                                    .order_by(Claim.created_at.desc(), Claim.id.desc()).limit(limit)).all()
    found.sort(key=lambda c: (c.created_at, c.id), reverse=True)
    return found[:limit]
