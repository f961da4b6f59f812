"""Reconciliation statement totals."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dhamen.domain.errors import MoneyError
from dhamen.domain.money import apply_rate
from dhamen.domain.reconciliation import ClaimRow, summarize


def test_summary_per_provider():
    claims = [
        ClaimRow("c3", "p2", "Pharmacie Ennasr", 10_000, 8_000),
        ClaimRow("c1", "p1", "Clinique El Amen", 1_000_000, 900_001),
        ClaimRow("c2", "p2", "Pharmacie Ennasr", 5_555, 4_444),
    ]
    summary = summarize(claims, 150)
    assert [p.provider_name for p in summary.providers] == ["Clinique El Amen", "Pharmacie Ennasr"]
    clinic, pharmacy = summary.providers
    assert (clinic.claim_count, clinic.total_covered, clinic.retention) == (1, 900_001, 13_500)
    assert clinic.net_payable == 886_501
    assert pharmacy.claim_ids == ("c2", "c3")
    assert (pharmacy.total_amount, pharmacy.total_covered) == (15_555, 12_444)
    assert pharmacy.retention == 186  # floor(12 444 * 1.5 %), on the provider total
    assert pharmacy.net_payable == 12_258
    assert summary.total_claims == 3
    assert summary.total_amount == 1_015_555
    assert summary.total_covered == 912_445
    assert summary.total_retentions == 13_686
    assert summary.total_net_payable == 898_759
    assert summary.as_dict()["providers"][1]["claim_ids"] == ["c2", "c3"]


def test_empty_summary():
    summary = summarize([], 200)
    assert summary.total_claims == summary.total_net_payable == 0
    assert summary.providers == ()


def test_names_sorted_ignoring_case_and_accents():
    claims = [
        ClaimRow("a", "p1", "labo Zitouna", 1, 1),
        ClaimRow("b", "p2", "Élite Clinique", 1, 1),
        ClaimRow("c", "p3", "Dar Essalem", 1, 1),
    ]
    names = [p.provider_name for p in summarize(claims, 0).providers]
    assert names == ["Dar Essalem", "Élite Clinique", "labo Zitouna"]


def test_refuses_inconsistent_input():
    with pytest.raises(ValueError, match="deux fois"):
        summarize([ClaimRow("c1", "p", "P", 10, 5), ClaimRow("c1", "p", "P", 10, 5)], 0)
    with pytest.raises(ValueError, match="incohérents"):
        summarize([ClaimRow("c1", "p", "P", 10, 11)], 0)
    with pytest.raises(MoneyError):
        summarize([], 10_001)


claim_rows = st.lists(
    st.tuples(
        st.sampled_from(["p1", "p2", "p3", "p4"]),
        st.integers(min_value=0, max_value=10**9),
        st.integers(min_value=0, max_value=10**9),
    ),
    max_size=30,
)


@given(claim_rows, st.integers(min_value=0, max_value=10_000))
def test_totals_balance(rows, rate):
    claims = [
        ClaimRow(f"c{i}", provider, f"Prestataire {provider}", max(a, b), min(a, b))
        for i, (provider, a, b) in enumerate(rows)
    ]
    summary = summarize(claims, rate)
    providers = summary.providers
    assert summary.total_claims == len(claims) == sum(p.claim_count for p in providers)
    assert summary.total_amount == sum(c.total_amount for c in claims)
    assert summary.total_covered == sum(c.covered_amount for c in claims)
    assert summary.total_retentions == sum(p.retention for p in providers)
    assert summary.total_net_payable == sum(p.net_payable for p in providers)
    assert summary.total_net_payable + summary.total_retentions == summary.total_covered
    for provider in providers:
        assert provider.retention == apply_rate(provider.total_covered, rate)
        assert provider.net_payable == provider.total_covered - provider.retention
        assert 0 <= provider.retention <= provider.total_covered
    assert sorted(i for p in providers for i in p.claim_ids) == sorted(c.id for c in claims)
    assert [p.provider_name for p in providers] == sorted(p.provider_name for p in providers)
