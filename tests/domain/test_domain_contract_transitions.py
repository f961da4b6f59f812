import pytest

from dhamen.domain.transitions import (
    CONTRACT_STATUSES,
    CONTRACT_TRANSITIONS,
    TransitionError,
    check_contract,
    contract_actions,
)


def test_allowed_contract_moves():
    assert check_contract("active", "suspend") == "suspended"
    assert check_contract("suspended", "reactivate") == "active"
    assert check_contract("active", "end") == check_contract("suspended", "end") == "cancelled"
    assert contract_actions("active") == ["suspend", "end", "expire"]
    assert contract_actions("cancelled") == contract_actions("expired") == []


@pytest.mark.parametrize("status", CONTRACT_STATUSES)
@pytest.mark.parametrize("action", list(CONTRACT_TRANSITIONS))
def test_every_refusal_is_a_french_transition_error(status, action):
    if action in contract_actions(status):
        return
    with pytest.raises(TransitionError, match="^Le contrat est .* : il ne peut pas devenir"):
        check_contract(status, action)


def test_unknown_action_and_status():
    with pytest.raises(TransitionError, match="Action inconnue"):
        check_contract("active", "delete")
    with pytest.raises(ValueError):
        check_contract("frozen", "suspend")
