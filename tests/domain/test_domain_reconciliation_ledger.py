"""The chunked Ledger adds up like summarize(); cycle periods."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dhamen.domain.reconciliation import ClaimRow, Ledger, last_closed_period, period_containing, summarize

amounts = st.integers(min_value=0, max_value=10**9)


@st.composite
def claim_rows(draw):
    n = draw(st.integers(min_value=0, max_value=40))
    rows = []
    for i in range(n):
        total = draw(amounts)
        covered = draw(st.integers(min_value=0, max_value=total))
        provider = draw(st.sampled_from(["p1", "p2", "p3"]))
        rows.append(ClaimRow(f"c{i:05d}", provider, {"p1": "Zeta", "p2": "Éole", "p3": "alpha"}[provider], total,
                             covered))
    return rows


@given(claim_rows(), st.integers(min_value=0, max_value=10_000), st.integers(min_value=1, max_value=7))
def test_ledger_in_chunks_equals_summarize(rows, rate_bp, chunk):
    expected = summarize(rows, rate_bp)
    ledger = Ledger(rate_bp, keep_ids=False, strictly_ascending=True)
    for start in range(0, len(rows), chunk):
        ledger.add_all(rows[start:start + chunk])
    got = ledger.summary()
    assert (got.total_claims, got.total_amount, got.total_covered, got.total_retentions, got.total_net_payable) == (
        expected.total_claims, expected.total_amount, expected.total_covered, expected.total_retentions,
        expected.total_net_payable)
    assert [(p.provider_id, p.claim_count, p.net_payable) for p in got.providers] == [
        (p.provider_id, p.claim_count, p.net_payable) for p in expected.providers]
    assert got.total_net_payable + got.total_retentions == got.total_covered


def test_ledger_refuses_a_claim_twice_even_without_ids():
    ledger = Ledger(0, keep_ids=False, strictly_ascending=True)
    ledger.add(ClaimRow("c2", "p", "P", 10, 5))
    with pytest.raises(ValueError, match="deux fois"):
        ledger.add(ClaimRow("c2", "p", "P", 10, 5))
    with pytest.raises(ValueError, match="deux fois"):
        ledger.add(ClaimRow("c1", "p", "P", 10, 5))


@pytest.mark.parametrize("cycle,day,expected", [
    ("weekly", date(2026, 11, 29), (date(2026, 11, 23), date(2026, 11, 29))),
    ("monthly", date(2026, 2, 14), (date(2026, 2, 1), date(2026, 2, 28))),
    ("quarterly", date(2026, 11, 29), (date(2026, 10, 1), date(2026, 12, 31))),
    ("quarterly", date(2026, 3, 31), (date(2026, 1, 1), date(2026, 3, 31))),
])
def test_period_containing(cycle, day, expected):
    assert period_containing(cycle, day) == expected


@given(st.sampled_from(["weekly", "monthly", "quarterly"]),
       st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)))
def test_last_closed_period_ends_just_before_the_current_one(cycle, today):
    start, end = last_closed_period(cycle, today)
    current_start, _ = period_containing(cycle, today)
    assert end == current_start - timedelta(days=1) and start <= end < today
    assert period_containing(cycle, start) == (start, end)
