"""What the admin pages share: French labels, audited field changes, keyset lists, form errors."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask_wtf import FlaskForm
from sqlalchemy import Select
from wtforms.i18n import get_translations

from dhamen.core.pagination import CursorError, Keyset, paginate
from dhamen.domain.labels import CONTRACT_STATUS_LABELS, PLAN_LABELS, PROVIDER_TYPE_LABELS

__all__ = ["CONTRACT_STATUS_LABELS", "GENDER_LABELS", "PLAN_LABELS", "PROVIDER_TYPE_LABELS", "FrenchForm",
           "apply_changes", "form_errors", "keyset", "org_filter", "plain_values"]

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


def org_filter(args, model, conditions: list, chosen: dict) -> None:
    """The ``org`` filter (``insurer:ID`` / ``provider:ID``) on a model's insurer_id / provider_id columns."""
    org = args.get("org") or ""
    kind, _, oid = org.partition(":")
    if kind in ("insurer", "provider") and 0 < len(oid) <= 26:
        conditions.append((model.insurer_id if kind == "insurer" else model.provider_id) == oid)
        chosen["org"] = org


def form_errors(form) -> list[str]:
    """Every field error of a WTForms form, as "Label : message" (the field is always named)."""
    out = []
    for name, messages in form.errors.items():
        field = getattr(form, name, None)
        label = field.label.text if field is not None else name
        out.extend(f"{label} : {m}" for m in (messages if isinstance(messages, list) else [messages]))
    return out


# --- keyset pagination (dhamen.core.pagination) ----------------------------------------

_KEYSETS: dict[tuple, Keyset] = {}


def keyset(stmt: Select, columns: list, cursor: str | None, *, desc: bool = False, per_page: int = PER_PAGE,
           session=None):
    """(rows, next_cursor or None) for one page of ``stmt`` ordered by ``columns`` (the last one unique).

    A cursor that is not one of ours (tampered, of another list) gives the first page.
    """
    key = (tuple(str(c) for c in columns), desc)
    order = _KEYSETS.get(key)
    if order is None:
        order = _KEYSETS[key] = Keyset("admin:" + ",".join(key[0]), tuple(columns), descending=desc)
    try:
        page = paginate(stmt, order, cursor=cursor, per_page=per_page, session=session)
    except CursorError:
        page = paginate(stmt, order, per_page=per_page, session=session)
    return page.rows, page.next_cursor
