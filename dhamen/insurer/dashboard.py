"""The insurer's dashboard figures: today and this month, the queue, fraud flags, providers.

Read from the day roll-ups of the claims (``claim_day_totals``, ``claim_day_flags``:
one row per insurer × day × status × care type × provider, kept exact by database
triggers in each claim's own transaction — migration c3d9e8f1a2b4), never from the
month's claims: a month is a few thousand small rows whatever the number of claims.
The queue's age comes from the partial index of the waiting claims (its oldest
entry, and the last week's range).  Every query is scoped to the user's insurer.
Days and months are those of Tunisia (Africa/Tunis); timestamps are stored in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, literal_column, select

from dhamen.access.tenancy import scoped
from dhamen.claims.queries import NOT_PAYABLE
from dhamen.domain.labels import CARE_TYPE_LABELS, STATUS_LABELS
from dhamen.domain.money import format_tnd, group_digits
from dhamen.domain.reasons import label as reason_label
from dhamen.domain.text import TUNIS
from dhamen.extensions import db
from dhamen.insurer.queue import REVIEW_STATUSES
from dhamen.models import Claim, ClaimDayFlag, ClaimDayTotal, Provider

AGE_BUCKETS = (("Moins d'un jour", 0, 1), ("1 à 3 jours", 1, 3), ("3 à 7 jours", 3, 7), ("Plus de 7 jours", 7, None))
TOP = 5


@dataclass
class Bar:
    label: str
    value: int
    text: str  # the figure as shown beside the bar
    extra: str = ""


@dataclass
class Dashboard:
    today_count: int = 0
    month_count: int = 0
    month_asked: int = 0
    month_covered: int = 0
    today_asked: int = 0
    today_covered: int = 0
    queue_size: int = 0
    oldest_waiting: datetime | None = None
    by_status: list[Bar] = field(default_factory=list)
    by_type: list[Bar] = field(default_factory=list)
    queue_age: list[Bar] = field(default_factory=list)
    flags: list[Bar] = field(default_factory=list)
    providers: list[Bar] = field(default_factory=list)
    today_by_status: dict = field(default_factory=dict)


def build(user, now: datetime | None = None) -> Dashboard:
    now = now or datetime.now(UTC)
    today = now.astimezone(TUNIS).date()
    month_start = today.replace(day=1)
    d = Dashboard()
    t = ClaimDayTotal
    is_today = t.day == today

    def total(column, when=None):
        return func.coalesce(func.sum(column).filter(when) if when is not None else func.sum(column), 0)

    in_month = (t.day >= month_start) & (t.day <= today)
    rows = db.session.execute(scoped(
        select(t.status, t.type, total(t.claims), total(t.total_amount), total(t.covered_amount),
               total(t.claims, is_today), total(t.total_amount, is_today), total(t.covered_amount, is_today))
        .where(in_month).group_by(t.status, t.type), t, user)).all()
    status_n: dict[str, int] = {}
    type_n: dict[str, list[int]] = {}
    for status, care_type, n, asked, covered, n_today, asked_today, covered_today in rows:
        n, n_today = int(n), int(n_today)
        if not n:
            continue  # a status every claim of the day has left
        d.month_count += n
        d.month_asked += int(asked)
        d.today_count += n_today
        d.today_asked += int(asked_today)
        status_n[status] = status_n.get(status, 0) + n
        if n_today:
            d.today_by_status[status] = d.today_by_status.get(status, 0) + n_today
        figures = type_n.setdefault(care_type, [0, 0, 0])
        figures[0] += n
        figures[1] += int(asked)
        if status not in NOT_PAYABLE:
            d.month_covered += int(covered)
            d.today_covered += int(covered_today)
            figures[2] += int(covered)
    d.by_status = [Bar(STATUS_LABELS[s], status_n[s], group_digits(status_n[s]),
                       f"dont {d.today_by_status.get(s, 0)} aujourd'hui")
                   for s in STATUS_LABELS if status_n.get(s)]
    d.by_type = [Bar(CARE_TYPE_LABELS[t], v[0], group_digits(v[0]),
                     f"demandé {format_tnd(v[1])} · pris en charge {format_tnd(v[2])}")
                 for t, v in sorted(type_n.items(), key=lambda kv: -kv[1][0])]
    _queue(d, user, now)
    d.flags = [Bar(reason_label(code), n, str(n)) for code, n in flag_counts(user, month_start, today)]
    asked = total(t.total_amount).label("asked")
    top = db.session.execute(scoped(
        select(t.provider_id, asked, total(t.claims)).where(in_month).group_by(t.provider_id)
        .having(func.sum(t.claims) > 0).order_by(literal_column("asked").desc(), t.provider_id).limit(TOP),
        t, user)).all()
    names = dict(db.session.execute(select(Provider.id, Provider.name).where(
        Provider.id.in_([r[0] for r in top]))).all()) if top else {}
    d.providers = [Bar(names.get(pid, "?"), int(asked), format_tnd(int(asked)), f"{n} demande{'s' if n > 1 else ''}")
                   for pid, asked, n in top]
    return d


def _queue(d: Dashboard, user, now: datetime) -> None:
    """Queue size (roll-up, every day), oldest waiting claim and the last week's ages (partial index of
    the waiting claims), in one statement: one snapshot, so the buckets add up to the size."""
    t = ClaimDayTotal
    size = scoped(select(func.coalesce(func.sum(t.claims), 0)).where(t.status.in_(REVIEW_STATUSES)), t, user)
    waiting = scoped(select(Claim.created_at).where(Claim.status.in_(REVIEW_STATUSES)), Claim, user)
    oldest = waiting.with_only_columns(func.min(Claim.created_at))
    week = now - timedelta(days=AGE_BUCKETS[-1][1])  # the last bucket starts at 7 days
    recent = waiting.where(Claim.created_at > week).subquery()
    counts = [select(func.count()).select_from(recent).where(recent.c.created_at > now - timedelta(days=high))
              .scalar_subquery() for _label, _low, high in AGE_BUCKETS[:-1]]
    n, first, *within = db.session.execute(select(size.scalar_subquery(), oldest.scalar_subquery(),
                                                  *counts)).one()
    d.queue_size, d.oldest_waiting = int(n or 0), first
    if first is not None and first.tzinfo is None:  # SQLite keeps no zone
        d.oldest_waiting = first.replace(tzinfo=UTC)
    within = [int(v or 0) for v in within]  # waiting less than 1, 3, 7 days
    older = max(d.queue_size - within[-1], 0)
    buckets = [within[0], *(b - a for a, b in zip(within, within[1:], strict=False)), older]
    d.queue_age = [Bar(label, n, str(n)) for (label, _l, _h), n in zip(AGE_BUCKETS, buckets, strict=True)]


def flag_counts(user, since, until=None) -> list[tuple[str, int]]:
    """The most frequent fraud flags (with points) on the claims of the days ``since`` … ``until``."""
    f = ClaimDayFlag
    n = func.sum(f.claims).label("n")
    stmt = select(f.code, n).where(f.day >= since)
    if until is not None:
        stmt = stmt.where(f.day <= until)
    stmt = scoped(stmt.group_by(f.code).having(func.sum(f.claims) > 0), f, user)
    return [(c, int(k)) for c, k in db.session.execute(
        stmt.order_by(literal_column("n").desc(), f.code).limit(TOP)).all()]
