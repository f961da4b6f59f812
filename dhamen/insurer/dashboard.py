"""The insurer's dashboard figures: today and this month, the queue, fraud flags, providers.

Every query is scoped to the user's insurer and bounded by a date (the month
so far), so the cost follows the month's volume, not the table's.  Days and
months are those of Tunisia (Africa/Tunis); timestamps are stored in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal_column, select

from dhamen.access.tenancy import scoped
from dhamen.domain.labels import CARE_TYPE_LABELS, STATUS_LABELS
from dhamen.domain.money import format_tnd
from dhamen.domain.reasons import label as reason_label
from dhamen.extensions import db
from dhamen.insurer.queue import REVIEW_STATUSES
from dhamen.models import Claim, Provider

TZ = ZoneInfo("Africa/Tunis")
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


def _bounds(now: datetime) -> tuple[datetime, datetime]:
    local = now.astimezone(TZ)
    day = datetime.combine(local.date(), time(), TZ).astimezone(UTC)
    month = datetime.combine(local.date().replace(day=1), time(), TZ).astimezone(UTC)
    return day, month


def build(user, now: datetime | None = None) -> Dashboard:
    now = now or datetime.now(UTC)
    day_start, month_start = _bounds(now)
    d = Dashboard()
    is_today = Claim.created_at >= day_start
    rows = db.session.execute(scoped(
        select(Claim.status, Claim.type, func.count(), func.coalesce(func.sum(Claim.total_amount), 0),
               func.coalesce(func.sum(Claim.covered_amount), 0),
               func.count().filter(is_today),
               func.coalesce(func.sum(case((is_today, Claim.total_amount), else_=0)), 0),
               func.coalesce(func.sum(case((is_today, Claim.covered_amount), else_=0)), 0))
        .where(Claim.created_at >= month_start).group_by(Claim.status, Claim.type), Claim, user)).all()
    status_n: dict[str, int] = {}
    type_n: dict[str, list[int]] = {}
    for status, care_type, n, asked, covered, n_today, asked_today, covered_today in rows:
        d.month_count += n
        d.month_asked += int(asked)
        d.today_count += n_today
        d.today_asked += int(asked_today)
        status_n[status] = status_n.get(status, 0) + n
        d.today_by_status[status] = d.today_by_status.get(status, 0) + n_today
        figures = type_n.setdefault(care_type, [0, 0, 0])
        figures[0] += n
        figures[1] += int(asked)
        if status not in ("rejected", "blocked"):
            d.month_covered += int(covered)
            d.today_covered += int(covered_today)
            figures[2] += int(covered)
    d.by_status = [Bar(STATUS_LABELS[s], status_n[s], f"{status_n[s]:,}".replace(",", "\u202f"),
                       f"dont {d.today_by_status.get(s, 0)} aujourd'hui")
                   for s in STATUS_LABELS if status_n.get(s)]
    d.by_type = [Bar(CARE_TYPE_LABELS[t], v[0], f"{v[0]:,}".replace(",", "\u202f"),
                     f"demandé {format_tnd(v[1])} · pris en charge {format_tnd(v[2])}")
                 for t, v in sorted(type_n.items(), key=lambda kv: -kv[1][0])]

    waiting = scoped(select(Claim.created_at).where(Claim.status.in_(REVIEW_STATUSES)), Claim, user).subquery()
    age_columns = []
    for _label, low, high in AGE_BUCKETS:
        cond = waiting.c.created_at <= now - timedelta(days=low)
        if high is not None:
            cond = cond & (waiting.c.created_at > now - timedelta(days=high))
        age_columns.append(func.count().filter(cond))
    size, oldest, *ages = db.session.execute(select(func.count(), func.min(waiting.c.created_at), *age_columns)).one()
    d.queue_size, d.oldest_waiting = int(size or 0), oldest
    d.queue_age = [Bar(label, int(n or 0), str(int(n or 0))) for (label, _l, _h), n in zip(AGE_BUCKETS, ages,
                                                                                          strict=True)]
    d.flags = [Bar(reason_label(code), n, str(n)) for code, n in flag_counts(user, month_start)]
    top = db.session.execute(scoped(
        select(Claim.provider_id, func.sum(Claim.total_amount).label("asked"), func.count(),
               func.sum(Claim.covered_amount))
        .where(Claim.created_at >= month_start).group_by(Claim.provider_id)
        .order_by(literal_column("asked").desc()).limit(TOP), Claim, user)).all()
    names = dict(db.session.execute(select(Provider.id, Provider.name).where(
        Provider.id.in_([r[0] for r in top]))).all()) if top else {}
    d.providers = [Bar(names.get(pid, "?"), int(asked), format_tnd(int(asked)), f"{n} demande{'s' if n > 1 else ''}")
                   for pid, asked, n, _covered in top]
    return d


def flag_counts(user, since: datetime) -> list[tuple[str, int]]:
    """The most frequent fraud flags (with points) on the month's claims."""
    flagged = scoped(select(Claim.fraud_flags_json).where(Claim.created_at >= since, Claim.fraud_score > 0),
                     Claim, user).subquery()
    if db.engine.dialect.name == "postgresql":
        each = func.jsonb_array_elements(flagged.c.fraud_flags_json).table_valued("value")
        code = each.c.value.op("->>")("code")
        points = each.c.value.op("->>")("points")
    else:
        each = func.json_each(flagged.c.fraud_flags_json).table_valued("value")
        code = func.json_extract(each.c.value, "$.code")
        points = func.json_extract(each.c.value, "$.points")
    stmt = (select(code.label("code"), func.count().label("n")).select_from(flagged).join(each, literal_column("true"))
            .where(points.cast(db.Integer) > 0).group_by(code).order_by(literal_column("n").desc()).limit(TOP))
    return [(c, int(n)) for c, n in db.session.execute(stmt).all()]
