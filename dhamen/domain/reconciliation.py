"""Reconciliation statement (*bordereau*) figures for an insurer and a period.

The caller selects the claims (approved, not yet reconciled); this module
only adds up. Per provider: ``total_amount`` and ``total_covered`` are sums
over its claims, ``retention = floor(total_covered * retention_rate_bp /
10000)`` (computed once on the provider's covered total, not per claim),
``net_payable = total_covered - retention``. The statement's totals are the
sums of the per-provider figures, so they balance to the millime. Providers
are listed by name (ignoring case and accents), then by id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .money import apply_rate
from .text import fold

__all__ = ["ClaimRow", "ProviderSummary", "Summary", "summarize"]


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider_id": self.provider_id,
            "provider_name": self.provider_name,
            "claim_count": self.claim_count,
            "claim_ids": list(self.claim_ids),
            "total_amount": self.total_amount,
            "total_covered": self.total_covered,
            "retention": self.retention,
            "net_payable": self.net_payable,
        }


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "retention_rate_bp": self.retention_rate_bp,
            "total_claims": self.total_claims,
            "total_amount": self.total_amount,
            "total_covered": self.total_covered,
            "total_retentions": self.total_retentions,
            "total_net_payable": self.total_net_payable,
            "providers": [provider.as_dict() for provider in self.providers],
        }


def summarize(claims: Sequence[ClaimRow], retention_rate_bp: int) -> Summary:
    """Add up ``claims`` per provider and in total (see the module docstring).

    Raises ``ValueError`` when a claim id appears twice (a claim belongs to
    one reconciliation, once), when amounts are negative or covered exceeds
    the total, and :class:`~.errors.MoneyError` for a rate outside 0..10000.
    """
    apply_rate(0, retention_rate_bp)  # checks the rate even without claims
    seen: set[str] = set()
    grouped: dict[str, list[ClaimRow]] = {}
    for claim in claims:
        if claim.id in seen:
            raise ValueError(f"Demande {claim.id} présente deux fois dans le bordereau.")
        seen.add(claim.id)
        if not 0 <= claim.covered_amount <= claim.total_amount:
            raise ValueError(f"Demande {claim.id} : montants incohérents.")
        grouped.setdefault(claim.provider_id, []).append(claim)

    names: Mapping[str, str] = {pid: rows[0].provider_name for pid, rows in grouped.items()}
    providers = []
    for provider_id in sorted(grouped, key=lambda pid: (fold(names[pid]), names[pid], pid)):
        rows = grouped[provider_id]
        covered = sum(row.covered_amount for row in rows)
        retention = apply_rate(covered, retention_rate_bp)
        providers.append(
            ProviderSummary(
                provider_id=provider_id,
                provider_name=names[provider_id],
                claim_count=len(rows),
                claim_ids=tuple(sorted(row.id for row in rows)),
                total_amount=sum(row.total_amount for row in rows),
                total_covered=covered,
                retention=retention,
                net_payable=covered - retention,
            )
        )
    return Summary(
        retention_rate_bp=retention_rate_bp,
        total_claims=sum(p.claim_count for p in providers),
        total_amount=sum(p.total_amount for p in providers),
        total_covered=sum(p.total_covered for p in providers),
        total_retentions=sum(p.retention for p in providers),
        total_net_payable=sum(p.net_payable for p in providers),
        providers=tuple(providers),
    )
