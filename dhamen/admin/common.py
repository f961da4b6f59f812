"""What the admin pages share: French labels, audited field changes, keyset lists, form errors."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from typing import Any

from flask_wtf import FlaskForm
from sqlalchemy import Select, and_, or_
from wtforms.i18n import get_translations

from dhamen.domain.labels import CONTRACT_STATUS_LABELS, PLAN_LABELS, PROVIDER_TYPE_LABELS

__all__ = ["CONTRACT_STATUS_LABELS", "GENDER_LABELS", "PLAN_LABELS", "PROVIDER_TYPE_LABELS", "FrenchForm",
           "apply_changes", "form_errors", "keyset", "plain_values"]

GENDER_LABELS = {"M": "Homme", "F": "Femme"}
PER_PAGE = 50


class FrenchForm(FlaskForm):
    """A form whose built-in WTForms messages ("Not a valid choice.") are in French."""

    class Meta:
        def get_translations(self, form):
            return get_translations(["fr"])


def apply_changes(obj: Any, values: dict[str, Any]) -> dict[str, list]:
    """Set the attributes that differ; return ``{field: [before, after]}`` for the audit row."""
    changes = {}
    for name, new in values.items():
        old = getattr(obj, name)
        if old != new:
            changes[name] = [_plain(old), _plain(new)]
            setattr(obj, name, new)
    return changes


def plain_values(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with dates as ISO strings (an audit row is JSON)."""
    return {k: _plain(v) for k, v in values.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def form_errors(form) -> list[str]:
    """Every field error of a WTForms form, as "Label : message" (the field is always named)."""
    out = []
    for name, messages in form.errors.items():
        field = getattr(form, name, None)
        label = field.label.text if field is not None else name
        out.extend(f"{label} : {m}" for m in (messages if isinstance(messages, list) else [messages]))
    return out


# --- keyset pagination ---------------------------------------------------------------------
# ``keyset(stmt, columns, cursor)`` orders by ``columns`` (the last one unique), reads one
# page after the cursor and returns the rows and the next cursor.  The cursor is opaque
# (base64 JSON of the last row's values); a tampered one is ignored (first page).

def _encode(values: list) -> str:
    raw = [["d", v.isoformat()] if isinstance(v, datetime) else ["D", v.isoformat()] if isinstance(v, date)
           else ["v", v] for v in values]
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


def _decode(cursor: str | None, n: int) -> list | None:
    if not cursor or len(cursor) > 600:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != n:
            return None
        out = []
        for tag, v in raw:
            out.append(datetime.fromisoformat(v) if tag == "d" else date.fromisoformat(v) if tag == "D" else v)
        return out
    except (ValueError, TypeError, json.JSONDecodeError):
        return None


def keyset(stmt: Select, columns: list, cursor: str | None, *, desc: bool = False, per_page: int = PER_PAGE,
           session=None):
    """(rows, next_cursor or None) for one page of ``stmt`` ordered by ``columns``."""
    if session is None:
        from dhamen.extensions import db

        session = db.session
    after = _decode(cursor, len(columns))
    if after is not None:
        conditions = []
        for i, col in enumerate(columns):
            head = [columns[j] == after[j] for j in range(i)]
            conditions.append(and_(*head, (col < after[i]) if desc else (col > after[i])))
        stmt = stmt.where(or_(*conditions))
    stmt = stmt.order_by(*[(c.desc() if desc else c.asc()) for c in columns]).limit(per_page + 1)
    rows = session.execute(stmt).all()
    rows = [r[0] if len(r) == 1 else r for r in rows]
    if len(rows) <= per_page:
        return rows, None
    rows = rows[:per_page]
    last = rows[-1]
    return rows, _encode([getattr(last, c.key) for c in columns])
