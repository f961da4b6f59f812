"""The status-transition table: every pair of statuses, every actor."""

from __future__ import annotations

import itertools

import pytest

from dhamen.domain import transitions as t
from dhamen.domain.errors import DomainError

# The flow of DESIGN.md, written out by hand: anything not listed here is refused.
EXPECTED_CLAIMS = {
    ("pending", "eligible", "engine"), ("pending", "rejected", "engine"), ("pending", "approved", "engine"),
    ("pending", "pending_review", "engine"), ("pending", "blocked", "engine"),
    ("eligible", "approved", "engine"), ("eligible", "pending_review", "engine"),
    ("eligible", "blocked", "engine"), ("eligible", "rejected", "engine"),
    ("pending_review", "approved", "agent"), ("pending_review", "rejected", "agent"),
    ("pending_review", "blocked", "agent"),
    ("blocked", "approved", "agent"), ("blocked", "rejected", "agent"),
    ("approved", "paid", "payment"),
}
EXPECTED_RECONCILIATIONS = {
    ("generated", "sent", "reconciliation"), ("generated", "paid", "payment"), ("sent", "paid", "payment"),
}


@pytest.mark.parametrize(
    ("src", "dst", "actor"), list(itertools.product(t.CLAIM_STATUSES, t.CLAIM_STATUSES, t.ACTORS))
)
def test_every_claim_transition(src, dst, actor):
    allowed = (src, dst, actor) in EXPECTED_CLAIMS
    assert t.claim_allowed(src, dst, actor) is allowed
    if allowed:
        t.check_claim(src, dst, actor)
    else:
        with pytest.raises(t.TransitionError) as err:
            t.check_claim(src, dst, actor)
        assert isinstance(err.value, DomainError) and err.value.code == "INVALID_TRANSITION"
        assert "La demande est" in str(err.value)


@pytest.mark.parametrize(
    ("src", "dst", "actor"),
    list(itertools.product(t.RECONCILIATION_STATUSES, t.RECONCILIATION_STATUSES, t.ACTORS)),
)
def test_every_reconciliation_transition(src, dst, actor):
    allowed = (src, dst, actor) in EXPECTED_RECONCILIATIONS
    assert t.reconciliation_allowed(src, dst, actor) is allowed
    if not allowed:
        with pytest.raises(t.TransitionError):
            t.check_reconciliation(src, dst, actor)


def test_final_statuses_and_review_queue():
    for final in ("rejected", "paid"):
        assert not any(src == final for (src, _dst) in t.CLAIM_TRANSITIONS)
    assert not any(src == "paid" for (src, _dst) in t.RECONCILIATION_TRANSITIONS)
    assert {"pending_review", "blocked"} == t.OPEN_FOR_REVIEW


def test_decided_claim_message_is_french():
    with pytest.raises(t.TransitionError, match="La demande est approuvée : elle ne peut pas devenir bloquée."):
        t.check_claim("approved", "blocked", "agent")


def test_unknown_values_are_programming_errors():
    with pytest.raises(ValueError, match="unknown status"):
        t.check_claim("archived", "paid", "payment")
    with pytest.raises(ValueError, match="unknown actor"):
        t.check_claim("approved", "paid", "cron")


def test_the_engine_path_of_a_new_claim_is_checked_step_by_step():
    assert t.engine_path("approved", True) == ["pending", "eligible", "approved"]
    assert t.engine_path("eligible", True) == ["pending", "eligible"]
    assert t.engine_path("rejected", False) == ["pending", "rejected"]
    assert t.engine_path("rejected", True) == ["pending", "eligible", "rejected"]
    assert t.engine_path("pending_review", True) == ["pending", "eligible", "pending_review"]
    with pytest.raises(t.TransitionError):
        t.engine_path("paid", True)  # only a payment makes a claim paid
