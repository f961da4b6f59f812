"""Tenant scoping rules (dhamen.tenancy), checked against explicit expectations.

Who sees what is written out here by hand, not derived from ``tenancy.RULES``,
so a wrong rule fails a test.
"""

from __future__ import annotations

import pytest
from auth_helpers import make_user, world_fixture  # noqa: F401
from sqlalchemy import func, select

from dhamen.access.tenancy import get_or_404, scoped, scoped_static
from dhamen.core import audit
from dhamen.core.errors import NotFoundError
from dhamen.core.http import status_of
from dhamen.extensions import db
from dhamen.models import (
    Adherent,
    AppSetting,
    AuditLog,
    Claim,
    ClaimItem,
    Contract,
    Convention,
    Insurer,
    Provider,
    Reconciliation,
    RecoveryCode,
    User,
)

MODELS = (Claim, ClaimItem, Contract, Adherent, Reconciliation, Convention, Provider, Insurer, User, AuditLog)


def _ids(model, user) -> set[str]:
    return set(db.session.scalars(scoped(select(model.id), model, user)))


def _all(model) -> set[str]:
    return set(db.session.scalars(select(model.id)))


def test_admin_sees_everything(world):
    for model in MODELS:
        assert _ids(model, world.admin) == _all(model), model.__name__


@pytest.mark.parametrize("role", ["INSURER_ADMIN", "INSURER_AGENT"])
def test_insurer_users_see_their_insurer_only(world, role):
    user = world.users[role]
    a = world.insurers["A"].id
    mine = {k for k, c in world.claims.items() if c.insurer_id == a}
    assert _ids(Claim, user) == {world.claims[k].id for k in mine}
    assert _ids(ClaimItem, user) == {world.items[k].id for k in mine}
    assert _ids(Contract, user) == {world.contracts["A"].id}
    assert _ids(Adherent, user) == {world.members["A"].id}
    assert _ids(Reconciliation, user) == {world.reconciliations["A"].id}
    assert _ids(Convention, user) == {c.id for c in world.conventions.values() if c.insurer_id == a}
    assert _ids(Provider, user) == _all(Provider)  # every provider may send claims to any insurer
    assert _ids(Insurer, user) == {a}
    assert _ids(User, user) == {u.id for u in world.all_users() if u.insurer_id == a}


@pytest.mark.parametrize("role, ptype", [("PHARMACIST", "pharmacist"), ("DOCTOR", "doctor"),
                                         ("LAB_MANAGER", "lab"), ("CLINIC_ADMIN", "clinic")])
def test_provider_users_see_their_provider_only(world, role, ptype):
    user = world.users[role]
    p1 = world.providers[(ptype, 1)].id
    mine = {k for k, c in world.claims.items() if c.provider_id == p1}
    assert len(mine) == 2
    assert _ids(Claim, user) == {world.claims[k].id for k in mine}
    assert _ids(ClaimItem, user) == {world.items[k].id for k in mine}
    # Reconciliation A lists this provider's claims; B lists only the P2 providers'.
    assert _ids(Reconciliation, user) == {world.reconciliations["A"].id}
    assert _ids(Convention, user) == {c.id for c in world.conventions.values() if c.provider_id == p1}
    assert _ids(Provider, user) == {p1}
    assert _ids(User, user) == {u.id for u in world.all_users() if u.provider_id == p1}
    # The counter checks any member's rights with any insurer.
    assert _ids(Contract, user) == _all(Contract)
    assert _ids(Adherent, user) == _all(Adherent)
    assert _ids(Insurer, user) == _all(Insurer)


def test_audit_rows_are_scoped_to_the_actors_organisation(world):
    audit.record("test.a", "x", "1", user=world.users["INSURER_AGENT"])
    audit.record("test.b", "x", "2", user=world.foreign_users["INSURER_AGENT-B"])
    audit.record("test.p", "x", "3", user=world.users["PHARMACIST"])
    db.session.commit()
    assert {r.action for r in db.session.scalars(scoped(select(AuditLog), AuditLog, world.users["INSURER_ADMIN"]))} \
        == {"test.a"}
    assert {r.action for r in db.session.scalars(scoped(select(AuditLog), AuditLog, world.users["PHARMACIST"]))} \
        == {"test.p"}


@pytest.mark.parametrize("role", ["INSURER_AGENT", "PHARMACIST"])
def test_models_without_a_rule_are_refused(world, role):
    from dhamen.access.auth import mfa

    mfa.new_recovery_codes(world.users[role])
    mfa.set_required_roles({"ADMIN"})
    db.session.commit()
    user = world.users[role]
    assert db.session.scalars(scoped(select(RecoveryCode), RecoveryCode, user)).all() == []
    assert db.session.scalars(scoped(select(AppSetting), AppSetting, user)).all() == []


@pytest.mark.parametrize("role", ["INSURER_AGENT", "PHARMACIST", "DOCTOR"])
def test_user_without_organisation_sees_nothing(world, role):
    orphan = make_user(role)  # misconfigured: no insurer / provider
    for model in MODELS:
        assert _ids(model, orphan) == set(), model.__name__


def test_no_user_sees_nothing(world, app):
    with app.test_request_context("/x"):
        for model in MODELS:
            assert db.session.scalars(scoped(select(model.id), model, None)).all() == [], model.__name__


def test_counts_and_aggregates_are_scoped(world):
    agent = world.users["INSURER_AGENT"]
    assert db.session.scalar(scoped(select(func.count()).select_from(Adherent), Adherent, agent)) == 1
    assert db.session.scalar(scoped(select(func.count()).select_from(Claim), Claim, agent)) == 8
    total = db.session.scalar(scoped(select(func.sum(Claim.covered_amount)), Claim, agent))
    assert total == 8 * 8_000


def test_get_or_404_hides_foreign_objects(world, app):
    agent = world.users["INSURER_AGENT"]
    own, foreign = world.claims[("A", "doctor", 2)], world.claims[("B", "doctor", 1)]
    assert get_or_404(Claim, own.id, agent) is own
    for bad in (foreign.id, "x" * 65, "", None, "missing"):
        with pytest.raises(NotFoundError) as exc:
            get_or_404(Claim, bad, agent)
        assert (exc.value.code, status_of(exc.value)) == ("NOT_FOUND", 404)


def test_a_foreign_object_is_the_not_found_envelope_in_the_api_and_a_page_elsewhere(world, app):
    """``get_or_404`` reads no request: the edge turns its NotFoundError into either answer."""
    ph = world.users["PHARMACIST"]
    foreign = world.claims[("A", "pharmacist", 2)].id
    with app.test_request_context("/api/v1/claims/x"):
        answer = app.make_response(app.handle_user_exception(NotFoundError()))
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "NOT_FOUND"
    with app.test_request_context("/assureur/x"):
        page = app.make_response(app.handle_user_exception(NotFoundError()))
    assert page.status_code == 404 and "Page introuvable" in page.get_data(as_text=True)
    with pytest.raises(NotFoundError):
        get_or_404(Claim, foreign, ph)


def test_role_change_moves_the_scope_at_once(world):
    user = world.users["INSURER_AGENT"]
    user.insurer_id = world.insurers["B"].id
    db.session.commit()
    assert _ids(Insurer, user) == {world.insurers["B"].id}
    assert world.claims[("A", "doctor", 1)].id not in _ids(Claim, user)


# --- scoped_static: statements built once (the claim entry hot path) ---------------------------

_STATIC = {model: select(model.id) for model in MODELS}


def _static_ids(model, user) -> set[str]:
    return set(db.session.scalars(scoped_static(_STATIC[model], model, user)))


@pytest.mark.parametrize("role", ["ADMIN", "INSURER_ADMIN", "INSURER_AGENT", "PHARMACIST", "DOCTOR", "LAB_MANAGER",
                                  "CLINIC_ADMIN"])
def test_scoped_static_sees_what_scoped_sees(world, role):
    user = world.admin if role == "ADMIN" else world.users[role]
    for model in MODELS:
        assert _static_ids(model, user) == _ids(model, user), (role, model.__name__)
    assert scoped_static(_STATIC[Claim], Claim, user) is scoped_static(_STATIC[Claim], Claim, user)


def test_scoped_static_follows_an_organisation_change_and_refuses_orphans(world, app):
    user = world.users["INSURER_AGENT"]
    before = scoped_static(_STATIC[Claim], Claim, user)
    user.insurer_id = world.insurers["B"].id
    db.session.commit()
    assert scoped_static(_STATIC[Claim], Claim, user) is not before
    assert _static_ids(Claim, user) == {c.id for c in world.claims.values() if c.insurer_id == world.insurers["B"].id}
    orphan = make_user("PHARMACIST")
    assert all(_static_ids(model, orphan) == set() for model in MODELS)
    with app.test_request_context("/x"):
        assert db.session.scalars(scoped_static(_STATIC[Claim], Claim, None)).all() == []


def test_scoped_static_shares_all_rules_between_organisations_but_not_with_orphans(world):
    p1, p2 = world.users["PHARMACIST"], world.foreign_users["PHARMACIST-2"]
    contracts = _STATIC[Contract]  # providers see every contract (the counter checks any member's rights)
    assert scoped_static(contracts, Contract, p1) is scoped_static(contracts, Contract, p2)
    assert scoped_static(_STATIC[Claim], Claim, p1) is not scoped_static(_STATIC[Claim], Claim, p2)
    orphan = make_user("PHARMACIST")
    assert scoped_static(contracts, Contract, orphan) is not scoped_static(contracts, Contract, p1)
    assert _static_ids(Contract, orphan) == set() and _static_ids(Contract, p1) == _all(Contract)
