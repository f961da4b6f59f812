"""The order of payers of a member's contracts: distinct ranks over a common period, no lone complement."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from dhamen.domain.payers import MAX_RANK, PayerContract, check_payer_ranks

Y26 = (date(2026, 1, 1), date(2026, 12, 31))


def contract(cid: str, rank: int, period=Y26, status: str = "active", insurer: str = "STAR") -> PayerContract:
    return PayerContract(id=cid, number=f"N-{cid}", insurer=insurer, start=period[0], end=period[1], status=status,
                         rank=rank)


def test_one_first_payer_and_its_complement_are_valid():
    assert check_payer_ranks([contract("a", 1), contract("b", 2, insurer="GAT")]) == []


def test_two_contracts_of_a_common_period_do_not_share_a_rank():
    errors = check_payer_ranks([contract("a", 1), contract("b", 1, insurer="GAT")])
    assert errors == ["Ordre de prise en charge : les contrats N-a (STAR) et N-b (GAT) couvrent une même période avec "
                      "le même rang (1) ; un seul paie en premier."]


def test_periods_that_do_not_meet_may_share_a_rank():
    assert check_payer_ranks([contract("a", 1), contract("b", 1, period=(date(2027, 1, 1), date(2027, 12, 31)))]) == []


def test_a_lone_complement_is_refused():
    errors = check_payer_ranks([contract("a", 2)])
    assert errors == ["Ordre de prise en charge du contrat N-a (STAR) : rang 2, mais aucun autre contrat en cours sur "
                      "sa période ne paie avant lui ; mettez-le au rang 1."]
    # an ended first payer does not count
    assert check_payer_ranks([contract("a", 2), contract("b", 1, status="cancelled")]) != []


def test_out_of_range_ranks_are_named():
    assert check_payer_ranks([contract("a", 0)]) == [
        f"Ordre de prise en charge du contrat N-a (STAR) : un rang de 1 à {MAX_RANK} est attendu."]


def test_only_the_changed_contracts_are_blamed():
    old_problem = [contract("a", 1), contract("b", 1)]  # two old contracts of rank 1
    assert check_payer_ranks([*old_problem, contract("c", 2, period=(date(2030, 1, 1), date(2030, 12, 31)))],
                             changed={"c"}) != []
    assert check_payer_ranks([*old_problem, contract("c", 1, period=(date(2030, 1, 1), date(2030, 12, 31)))],
                             changed={"c"}) == []


@given(st.permutations(range(1, 5)))
def test_any_order_of_distinct_ranks_from_one_is_valid(ranks):
    assert check_payer_ranks([contract(str(i), r) for i, r in enumerate(ranks)]) == []
