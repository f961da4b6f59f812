"""The claim services' refusals: a stable code, a French message, the field at fault."""

from __future__ import annotations

from dhamen.core.errors import ServiceError
from dhamen.domain.errors import ItemError


class ClaimError(ServiceError):
    """Bad input or a refused claim (``errors``: the engine's per-line problems)."""


def item_errors_json(errors: list[ItemError]) -> list[dict]:
    return [{"line": e.line, "field": e.field, "message": e.message} for e in errors]
