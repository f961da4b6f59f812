"""Audit rows, written in the same transaction as the change they describe.

``record()`` inserts the row at once (one Core ``INSERT``, no unit of work) in the
session's transaction: the request's single commit writes it with the change,
and a rollback leaves neither.  Secrets never reach a row:
any key that looks like a password, token, OTP, national ID or phone is
replaced by ``"[masqué]"`` recursively.
"""

from __future__ import annotations

import re
from typing import Any

from flask import g, has_request_context, request
from flask_login import current_user
from sqlalchemy import insert

from dhamen.core.sqltypes import new_id, utcnow
from dhamen.extensions import db
from dhamen.models import AuditLog

_SENSITIVE = re.compile(r"pass|secret|token|otp|recovery|national_id|phone|(^|_)cin($|_)", re.IGNORECASE)
REDACTED = "[masqué]"


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if _SENSITIVE.search(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def client_ip() -> str | None:
    if not has_request_context():
        return None
    return request.remote_addr


_UNSET = object()


def record(
    action: str,
    entity_type: str,
    entity_id: str,
    changes: dict | None = None,
    *,
    user=_UNSET,
    insurer_id: str | None = None,
    provider_id: str | None = None,
) -> str:
    # ``user=None`` means "no user" (failed login, system job); only an omitted
    # ``user`` falls back to the request's authenticated user.
    if user is _UNSET:
        user = None
        if has_request_context():
            user = getattr(g, "audit_user", None)
            if user is None:
                user = current_user if getattr(current_user, "is_authenticated", False) else None
    row = dict(
        id=new_id(),
        user_id=getattr(user, "id", None),
        insurer_id=insurer_id or getattr(user, "insurer_id", None),
        provider_id=provider_id or getattr(user, "provider_id", None),
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        changes_json=redact(changes) if changes is not None else None,
        ip_address=client_ip(),
        user_agent=(request.headers.get("User-Agent", "")[:300] or None) if has_request_context() else None,
        created_at=utcnow(),
    )
    db.session.execute(insert(AuditLog.__table__), row)
    return row["id"]
