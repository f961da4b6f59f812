"""The order of payers of a member's contracts (``contracts.payer_rank``), checked (no Flask).

A member may hold several contracts at once (e.g. STAR through the employer and
COMAR privately): the one of rank 1 pays first, the others complete it (2, 3...).
The counter bills the first payer first and a complement waits for review at the
second (issue 9).  The order only means something between contracts that are in
force (active or suspended) over a common period, so the rules are:

* a rank is a whole number from 1 to ``MAX_RANK``;
* two such contracts whose periods overlap do not share a rank;
* a contract of rank 2 or more has, over its period, another such contract that pays
  before it (a lower rank): a lone contract is never "complementary".

Ended and expired contracts are not checked.  ``check_payer_ranks(..., changed=ids)``
reports only the problems that involve the contracts being changed: fixing one
contract never fails because of an unrelated old one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date

MAX_RANK = 9
IN_FORCE = ("active", "suspended")


@dataclass(frozen=True)
class PayerContract:
    id: str
    number: str
    insurer: str
    start: date
    end: date
    status: str
    rank: int

    @property
    def label(self) -> str:
        return f"{self.number} ({self.insurer})"


def overlap(a: PayerContract, b: PayerContract) -> bool:
    return a.start <= b.end and b.start <= a.end


def check_payer_ranks(contracts: Iterable[PayerContract], changed: Collection[str] | None = None) -> list[str]:
    """The French errors of a member's set of contracts (empty: the order is valid)."""
    contracts = list(contracts)
    concerned = (lambda c: True) if changed is None else (lambda c: c.id in changed)
    errors: list[str] = []
    for c in contracts:
        if concerned(c) and not (isinstance(c.rank, int) and 1 <= c.rank <= MAX_RANK):
            errors.append(f"Ordre de prise en charge du contrat {c.label} : un rang de 1 à {MAX_RANK} est attendu.")
    live = [c for c in contracts if c.status in IN_FORCE and isinstance(c.rank, int) and 1 <= c.rank <= MAX_RANK]
    for i, a in enumerate(live):
        for b in live[i + 1:]:
            if a.rank == b.rank and overlap(a, b) and (concerned(a) or concerned(b)):
                errors.append(f"Ordre de prise en charge : les contrats {a.label} et {b.label} couvrent une même "
                              f"période avec le même rang ({a.rank}) ; un seul paie en {_nth(a.rank)}.")
    for a in live:
        if a.rank > 1 and concerned(a) and not any(b is not a and b.rank < a.rank and overlap(a, b) for b in live):
            errors.append(f"Ordre de prise en charge du contrat {a.label} : rang {a.rank}, mais aucun autre contrat "
                          "en cours sur sa période ne paie avant lui ; mettez-le au rang 1.")
    return errors


def _nth(rank: int) -> str:
    return "premier" if rank == 1 else f"{rank}e position"
