"""Conditions on ``claims`` from optional filter values: one builder for every list of claims.

Used by the provider history and ``GET /api/v1/claims`` (:mod:`dhamen.claims.listing`) and by
the insurer's review queue (:mod:`dhamen.insurer.queue`); each adds what only it filters on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Select

from dhamen.models import Claim

_CONDITIONS: dict[str, Callable[[Any], ColumnElement[bool]]] = {
    "care_from": lambda value: Claim.care_date >= value,
    "care_to": lambda value: Claim.care_date <= value,
    "status": lambda value: Claim.status == value,
    "care_type": lambda value: Claim.type == value,
    "reference": lambda value: Claim.reference == value,
    "provider_id": lambda value: Claim.provider_id == value,
    "adherent_id": lambda value: Claim.adherent_id == value,
    "amount_min": lambda value: Claim.total_amount >= value,
    "amount_max": lambda value: Claim.total_amount <= value,
    "score_min": lambda value: Claim.fraud_score >= value,
    "score_max": lambda value: Claim.fraud_score <= value,
}


def narrowed(stmt: Select, **values: Any) -> Select:
    """``stmt`` with one condition per value given (``None`` or ``""``: none): ``care_from`` /
    ``care_to`` (care date, inclusive), ``status``, ``care_type``, ``reference``, ``provider_id``,
    ``adherent_id``, ``amount_min`` / ``amount_max`` (total, millimes), ``score_min`` / ``score_max``
    (fraud score)."""
    for name, value in values.items():
        if value is not None and value != "":
            stmt = stmt.where(_CONDITIONS[name](value))
    return stmt
