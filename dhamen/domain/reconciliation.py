"""Reconciliation statement (*bordereau*) figures for an insurer and a period.

The caller selects the claims (approved, not yet reconciled); this module
only adds up. Per provider: ``total_amount`` and ``total_covered`` are sums
over its claims, ``retention = floor(total_covered * retention_rate_bp /
10000)`` (computed once on the provider's covered total, not per claim),
``net_payable = total_covered - retention``. The statement's totals are the
sums of the per-provider figures, so they balance to the millime. Providers
are listed by name (ignoring case and accents), then by id.

:class:`Ledger` adds claims up one at a time, so a large period is summed
chunk by chunk without holding its claims (``summarize`` is a ledger fed a
list). Periods of the insurers' cycles (weekly: Monday to Sunday; monthly;
quarterly: calendar quarters) come from :func:`period_containing` and
:func:`last_closed_period`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from .jsonready import fields_dict
from .money import apply_rate
from .text import fold

__all__ = ["ClaimRow", "Ledger", "ProviderSummary", "Summary", "last_closed_period", "period_containing",
           "summarize"]


@dataclass(frozen=True, slots=True)
class ClaimRow:
    """A claim to reconcile (amounts in millimes)."""

    id: str
    provider_id: str
    provider_name: str
    total_amount: int
    covered_amount: int


@dataclass(frozen=True, slots=True)
class ProviderSummary:
    """What the insurer owes one provider."""

    provider_id: str
    provider_name: str
    claim_count: int
    claim_ids: tuple[str, ...]
    total_amount: int
    total_covered: int
    retention: int
    net_payable: int

    as_dict = fields_dict  # JSON-ready form


@dataclass(frozen=True, slots=True)
class Summary:
    """Totals of a reconciliation (``reconciliations`` row) and its
    per-provider breakdown."""

    retention_rate_bp: int
    total_claims: int
    total_amount: int
    total_covered: int
    total_retentions: int
    total_net_payable: int
    providers: tuple[ProviderSummary, ...]

    as_dict = fields_dict  # JSON-ready form


@dataclass(slots=True)
class _Running:
    name: str
    count: int = 0
    total: int = 0
    covered: int = 0
    ids: list[str] | None = None


@dataclass
class Ledger:
    """Running totals per provider, fed one claim at a time.

    ``keep_ids=False`` keeps no claim id (a large period, summed in chunks): a
    repeated id is then caught only when ids come in ascending order, which is
    how the chunks are read (``strictly_ascending=True``).
    """

    retention_rate_bp: int
    keep_ids: bool = True
    strictly_ascending: bool = False
    _providers: dict[str, _Running] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)
    _last_id: str | None = None

    def __post_init__(self) -> None:
        apply_rate(0, self.retention_rate_bp)  # checks the rate even without claims

    def add(self, claim: ClaimRow) -> None:
        if self.strictly_ascending:
            if self._last_id is not None and claim.id <= self._last_id:
                raise ValueError(f"Demande {claim.id} présente deux fois dans le bordereau.")
            self._last_id = claim.id
        elif claim.id in self._seen:
            raise ValueError(f"Demande {claim.id} présente deux fois dans le bordereau.")
        else:
            self._seen.add(claim.id)
        if not 0 <= claim.covered_amount <= claim.total_amount:
            raise ValueError(f"Demande {claim.id} : montants incohérents.")
        running = self._providers.get(claim.provider_id)
        if running is None:
            running = self._providers[claim.provider_id] = _Running(claim.provider_name,
                                                                    ids=[] if self.keep_ids else None)
        running.count += 1
        running.total += claim.total_amount
        running.covered += claim.covered_amount
        if running.ids is not None:
            running.ids.append(claim.id)

    def add_all(self, claims: Iterable[ClaimRow]) -> Ledger:
        for claim in claims:
            self.add(claim)
        return self

    def summary(self) -> Summary:
        providers = []
        order = sorted(self._providers, key=lambda pid: (fold(self._providers[pid].name),
                                                          self._providers[pid].name, pid))
        for provider_id in order:
            r = self._providers[provider_id]
            retention = apply_rate(r.covered, self.retention_rate_bp)
            providers.append(ProviderSummary(
                provider_id=provider_id, provider_name=r.name, claim_count=r.count,
                claim_ids=tuple(sorted(r.ids)) if r.ids is not None else (),
                total_amount=r.total, total_covered=r.covered, retention=retention,
                net_payable=r.covered - retention))
        return Summary(
            retention_rate_bp=self.retention_rate_bp,
            total_claims=sum(p.claim_count for p in providers),
            total_amount=sum(p.total_amount for p in providers),
            total_covered=sum(p.total_covered for p in providers),
            total_retentions=sum(p.retention for p in providers),
            total_net_payable=sum(p.net_payable for p in providers),
            providers=tuple(providers),
        )


def summarize(claims: Iterable[ClaimRow], retention_rate_bp: int) -> Summary:
    """Add up ``claims`` per provider and in total (see the module docstring).

    Raises ``ValueError`` when a claim id appears twice (a claim belongs to
    one reconciliation, once), when amounts are negative or covered exceeds
    the total, and :class:`~.errors.MoneyError` for a rate outside 0..10000.
    """
    return Ledger(retention_rate_bp).add_all(claims).summary()


CYCLE_LABELS = {"weekly": "hebdomadaire", "monthly": "mensuel", "quarterly": "trimestriel"}


def period_containing(cycle: str, day: date) -> tuple[date, date]:
    """The period of ``cycle`` (weekly: ISO week from Monday; monthly; quarterly) that holds ``day``."""
    if cycle == "weekly":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if cycle == "monthly":
        start = day.replace(day=1)
    elif cycle == "quarterly":
        start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    else:
        raise ValueError(f"unknown cycle {cycle!r}")
    months = 1 if cycle == "monthly" else 3
    year, month = divmod(start.month - 1 + months, 12)
    return start, date(start.year + year, month + 1, 1) - timedelta(days=1)


def last_closed_period(cycle: str, today: date) -> tuple[date, date]:
    """The latest period of ``cycle`` that ended before ``today`` (what is due for reconciliation)."""
    start, _end = period_containing(cycle, today)
    return period_containing(cycle, start - timedelta(days=1))
