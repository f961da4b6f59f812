"""Exceptions raised by the domain engine.

Every exception carries a French message that can be shown to a user as is.
They all derive from :class:`ValueError` so that callers validating input can
catch one family.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ItemError:
    """One problem in the claim lines. ``line`` is 1-based (``None`` for the
    claim as a whole); ``field`` names the input field."""

    line: int | None
    field: str | None
    message: str


class DomainError(ValueError):
    """Base class of the domain errors (French, user-readable message)."""


class MoneyError(DomainError):
    """An amount or a rate that cannot be read or is out of range."""


class ConfigError(DomainError):
    """A JSON setting (coverage, exclusions, barème, convention, insurer
    configuration) that does not follow its documented format."""


class InvalidClaimError(DomainError):
    """Claim lines that fail :func:`dhamen.domain.coverage.validate_items`."""

    def __init__(self, errors: Sequence[ItemError]) -> None:
        self.errors: tuple[ItemError, ...] = tuple(errors)
        super().__init__(" ; ".join(error.message for error in self.errors))


def refuse_unknown_keys(where: str, given: Iterable[object], allowed: Collection[str], *, listed: bool = True) -> None:
    """Raise :class:`ConfigError` naming the keys of ``given`` not in ``allowed`` (a typo in a
    setting must not silently change money): ``Convention : clé inconnue « x » (attendues : …).``"""
    unknown = sorted(str(key) for key in set(given) - set(allowed))
    if unknown:
        text = f"{where} : clé inconnue " + ", ".join(f"« {key} »" for key in unknown)
        raise ConfigError(text + (f" (attendues : {', '.join(allowed)})." if listed else "."))
