"""The claim services' refusals: a stable code, a French message, the field at fault."""

from __future__ import annotations

from typing import Any

from dhamen.domain.coverage import ItemError


class ClaimError(Exception):
    """Bad input or a refused claim: a French message, a stable code, the field at fault."""

    def __init__(self, code: str, message: str, field: str | None = None, status: int = 422,
                 errors: list[dict] | None = None):
        super().__init__(message)
        self.code, self.message, self.field, self.status, self.errors = code, message, field, status, errors or []

    def as_details(self) -> dict:
        details: dict[str, Any] = {}
        if self.field:
            details["field"] = self.field
        if self.errors:
            details["errors"] = self.errors
        return details


def item_errors_json(errors: list[ItemError]) -> list[dict]:
    return [{"line": e.line, "field": e.field, "message": e.message} for e in errors]
