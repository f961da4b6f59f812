"""Which status may become which, and who may make the change.

One table for claims and one for reconciliations; every action that changes a
status asks :func:`check_claim` / :func:`check_reconciliation` first, so a
decided claim is never decided again and a paid reconciliation never changes.

Actors:

- ``engine``: the claim engine at submission (``pending`` → its verdict);
- ``agent``: an insurer agent or admin deciding a claim in the review queue;
- ``reconciliation``: generating, sending a bordereau;
- ``payment``: marking a bordereau paid (its claims become ``paid``).

Claims::

    pending        -> eligible, rejected, approved, pending_review, blocked   (engine)
    eligible       -> approved, pending_review, blocked, rejected           (engine)
    pending_review -> approved, rejected, blocked                           (agent)
    blocked        -> approved, rejected                                    (agent)
    approved       -> paid                                                  (payment)

``rejected`` and ``paid`` are final. A claim that an agent approved or
rejected is not decided again: only ``pending_review`` and ``blocked`` are
open to an agent.

Reconciliations::

    generated -> sent (reconciliation), paid (payment)
    sent      -> paid (payment)

``paid`` is final.
"""

from __future__ import annotations

from .eligibility import CONTRACT_STATUSES
from .errors import DomainError

CLAIM_STATUSES: tuple[str, ...] = (
    "pending", "eligible", "approved", "pending_review", "blocked", "rejected", "paid",
)
RECONCILIATION_STATUSES: tuple[str, ...] = ("generated", "sent", "paid")
ACTORS: tuple[str, ...] = ("engine", "agent", "reconciliation", "payment")

_ENGINE_VERDICTS = frozenset({"eligible", "rejected", "approved", "pending_review", "blocked"})

#: (from, to) -> the actors allowed to make that change.
CLAIM_TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    **{("pending", to): frozenset({"engine"}) for to in _ENGINE_VERDICTS},
    **{("eligible", to): frozenset({"engine"}) for to in ("approved", "pending_review", "blocked", "rejected")},
    ("pending_review", "approved"): frozenset({"agent"}),
    ("pending_review", "rejected"): frozenset({"agent"}),
    ("pending_review", "blocked"): frozenset({"agent"}),
    ("blocked", "approved"): frozenset({"agent"}),
    ("blocked", "rejected"): frozenset({"agent"}),
    ("approved", "paid"): frozenset({"payment"}),
}

RECONCILIATION_TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    ("generated", "sent"): frozenset({"reconciliation"}),
    ("generated", "paid"): frozenset({"payment"}),
    ("sent", "paid"): frozenset({"payment"}),
}

#: Statuses an agent may still decide.
OPEN_FOR_REVIEW: frozenset[str] = frozenset(
    src for (src, _to), actors in CLAIM_TRANSITIONS.items() if "agent" in actors
)

_CLAIM_WORDS = {
    "pending": "en cours de traitement", "eligible": "éligible", "approved": "approuvée",
    "pending_review": "en attente de l'assureur", "blocked": "bloquée", "rejected": "refusée",
    "paid": "payée",
}
_RECON_WORDS = {"generated": "généré", "sent": "envoyé", "paid": "payé"}


class TransitionError(DomainError):
    """A status change that the table does not allow (code ``INVALID_TRANSITION``)."""

    code = "INVALID_TRANSITION"


def claim_allowed(src: str, dst: str, actor: str) -> bool:
    return actor in CLAIM_TRANSITIONS.get((src, dst), frozenset())


def reconciliation_allowed(src: str, dst: str, actor: str) -> bool:
    return actor in RECONCILIATION_TRANSITIONS.get((src, dst), frozenset())


def check_claim(src: str, dst: str, actor: str) -> None:
    """Raise :class:`TransitionError` (French message) unless ``actor`` may move a claim src → dst."""
    _check(src, dst, actor, CLAIM_STATUSES, claim_allowed, _CLAIM_WORDS, "La demande", "elle")


def engine_path(verdict: str, inforce: bool) -> list[str]:
    """The statuses a new claim goes through at submission (what its audit row records):
    ``pending``, then ``eligible`` (or ``rejected`` when the contract is not in force),
    then the engine's verdict; every step is checked against the table."""
    path = ["pending", "eligible" if verdict != "rejected" or inforce else "rejected"]
    if verdict != path[-1]:
        path.append(verdict)
    for src, dst in zip(path, path[1:], strict=False):
        check_claim(src, dst, "engine")
    return path


def check_reconciliation(src: str, dst: str, actor: str) -> None:
    _check(src, dst, actor, RECONCILIATION_STATUSES, reconciliation_allowed, _RECON_WORDS, "Le bordereau", "il")


def _check(src, dst, actor, statuses, allowed, words, subject, pronoun) -> None:
    if actor not in ACTORS:
        raise ValueError(f"unknown actor {actor!r}")
    for status in (src, dst):
        if status not in statuses:
            raise ValueError(f"unknown status {status!r}")
    if not allowed(src, dst, actor):
        raise TransitionError(f"{subject} est {words[src]} : {pronoun} ne peut pas devenir {words[dst]}.")


# --- contracts ------------------------------------------------------------------------------
# An admin (or an import) moves a contract through these; ``expired`` also follows from the
# end date.  ``cancelled`` (résilié) is final; an expired contract is renewed by a new one.
#
#     active    -> suspended (suspend), cancelled (end), expired (end date passed)
#     suspended -> active (reactivate), cancelled (end), expired (end date passed)

CONTRACT_TRANSITIONS: dict[str, tuple[str, str]] = {
    # action: (allowed from (space-separated), to)
    "suspend": ("active", "suspended"),
    "reactivate": ("suspended", "active"),
    "end": ("active suspended", "cancelled"),
    "expire": ("active suspended", "expired"),
}
CONTRACT_ACTION_LABELS = {"suspend": "Suspendre", "reactivate": "Réactiver", "end": "Résilier",
                          "expire": "Marquer expiré"}
_CONTRACT_WORDS = {"active": "actif", "suspended": "suspendu", "expired": "expiré", "cancelled": "résilié"}


def contract_actions(status: str) -> list[str]:
    """The actions open to a contract in ``status`` (in table order)."""
    return [action for action, (sources, _dst) in CONTRACT_TRANSITIONS.items() if status in sources.split()]


def check_contract(src: str, action: str) -> str:
    """The status ``action`` leads to from ``src``; :class:`TransitionError` (French) if not allowed."""
    if src not in CONTRACT_STATUSES:
        raise ValueError(f"unknown status {src!r}")
    if action not in CONTRACT_TRANSITIONS:
        raise TransitionError("Action inconnue sur un contrat.")
    sources, dst = CONTRACT_TRANSITIONS[action]
    if src not in sources.split():
        raise TransitionError(f"Le contrat est {_CONTRACT_WORDS[src]} : il ne peut pas devenir {_CONTRACT_WORDS[dst]}.")
    return dst
