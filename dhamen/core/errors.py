"""Refusals of the services: a stable code, a French message, the field at fault, and a
kind that the edge (:mod:`dhamen.core.http`) turns into an HTTP status, the API's
envelope or an error page.  No Flask here."""

from __future__ import annotations

from typing import Any

#: kind -> what it means; ``core.http.STATUS_OF_KIND`` maps each to an HTTP status.
KINDS = ("invalid", "bad_request", "forbidden", "not_found", "conflict")


class ServiceError(Exception):
    """A refused request: nothing was changed, ``message`` can be shown as is."""

    def __init__(self, code: str, message: str, field: str | None = None, kind: str = "invalid",
                 errors: list[dict] | None = None):
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        super().__init__(message)
        self.code, self.message, self.field, self.kind, self.errors = code, message, field, kind, errors or []

    def as_details(self) -> dict:
        details: dict[str, Any] = {}
        if self.field:
            details["field"] = self.field
        if self.errors:
            details["errors"] = self.errors
        return details


class NotFoundError(ServiceError):
    """An object that does not exist or belongs to another organisation (indistinguishable)."""

    def __init__(self, code: str = "NOT_FOUND", message: str = "Ressource introuvable.", field: str | None = None):
        super().__init__(code, message, field, "not_found")
