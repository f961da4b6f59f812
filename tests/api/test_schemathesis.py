"""Property-based run of the OpenAPI document against the app (issue 15): schemathesis
generates requests for every operation of ``/api/v1/openapi.json`` and sends each one, in
process (WSGI), with the token of every provider role and of an insurer admin.  Every answer
must be documented (status, content type, headers) and match its declared schema, and none
may be a 500.

Bounded for CI: ``OPENAPI_MAX_EXAMPLES`` cases per operation (default 8, Hypothesis profile
below, no deadline); the number of cases tried per operation, and the statuses answered, are printed at the end
(``tests/api/conftest.py``, also under xdist).
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks as oa_checks

from dhamen.apidoc.document import INSURERS, OPERATIONS, PROVIDERS

MAX_EXAMPLES = int(os.environ.get("OPENAPI_MAX_EXAMPLES", "8"))
ROLES = (*PROVIDERS, INSURERS[0])
TRIED: Counter = Counter()
STATUSES: defaultdict = defaultdict(Counter)
CHECKS = [
    schemathesis.checks.not_a_server_error,
    oa_checks.status_code_conformance,
    oa_checks.content_type_conformance,
    oa_checks.response_schema_conformance,
    oa_checks.response_headers_conformance,
]

settings.register_profile(
    "openapi-ci", max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
    suppress_health_check=list(HealthCheck),
)


USERS = {"PHARMACIST": "pharmacie@dhamen.tn", "DOCTOR": "medecin@dhamen.tn", "LAB_MANAGER": "labo@dhamen.tn",
         "CLINIC_ADMIN": "clinique@dhamen.tn", "INSURER_ADMIN": "admin@star.tn"}
CARE = {"PHARMACIST": "pharmacy", "DOCTOR": "consultation", "LAB_MANAGER": "lab", "CLINIC_ADMIN": "hospitalization"}


@dataclass
class Caller:
    role: str
    token: str
    org: str | None  # provider or insurer id
    contracts: list[str] = field(default_factory=list)  # usable here: a convention with their insurer


#: claim id -> (provider id, insurer id), one claim per provider role, made through the API
CLAIMS: dict[str, tuple[str, str]] = {}


@pytest.fixture
def callers(app, client, demo) -> list[Caller]:
    CLAIMS.clear()
    """Each role's demo user with a token, contracts it may claim on and one claim of its own (made
    through the API), so that generated requests also reach the success paths."""
    from datetime import date

    from sqlalchemy import select

    from dhamen.access.auth import tokens
    from dhamen.domain.catalogue import items_for
    from dhamen.extensions import db
    from dhamen.models import Contract, Convention, User

    out = []
    for role, email in USERS.items():
        user = db.session.scalar(select(User).where(User.email == email))
        caller = Caller(role, tokens.issue(user).access_token, user.provider_id or user.insurer_id)
        if user.provider_id:
            insurers = select(Convention.insurer_id).where(Convention.provider_id == user.provider_id)
            caller.contracts = list(db.session.scalars(
                select(Contract.id).where(Contract.insurer_id.in_(insurers), Contract.status == "active",
                                          Contract.end_date >= date.today()).order_by(Contract.id).limit(5)))
        out.append(caller)
    db.session.commit()
    for caller in out:
        if caller.role in CARE and caller.contracts:
            item = items_for(CARE[caller.role])[0]
            body = {"contractId": caller.contracts[0],
                    "items": [{"code": item.code, "label": item.label, "quantity": 1, "unitPrice": item.unit_price}]}
            if caller.role == "CLINIC_ADMIN":
                body |= {"admissionDate": date.today().isoformat(), "dischargeDate": date.today().isoformat()}
            answer = client.post(f"/api/v1/claims/{CARE[caller.role]}", json=body,
                                 headers={"Authorization": f"Bearer {caller.token}"})
            assert answer.status_code == 201, answer.get_json()
            data = answer.get_json()["data"]
            CLAIMS[data["id"]] = (data["providerId"], data["insurerId"])
    return out


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def _realistic(case, caller: Caller, draw) -> None:
    """Half of the time, put real ids where the generator made some up: a contract the caller may
    claim on, a claim of any organisation (another organisation's must answer 404)."""
    if isinstance(case.body, dict) and "contractId" in case.body and caller.contracts and draw(st.booleans()):
        case.body["contractId"] = draw(st.sampled_from(caller.contracts))
    if case.path_parameters and "claim_id" in case.path_parameters and CLAIMS and draw(st.booleans()):
        case.path_parameters["claim_id"] = draw(st.sampled_from(sorted(CLAIMS)))


def _no_leak(case, caller: Caller, status: int) -> None:
    owners = CLAIMS.get((case.path_parameters or {}).get("claim_id"))
    if owners is not None and status == 200:
        assert caller.org in owners, f"{caller.role} lit la demande d'une autre organisation"


@pytest.mark.parametrize(("method", "path"), sorted(OPERATIONS), ids=lambda v: v)
def test_every_operation_as_every_role(method, path, api_schema, callers, record_property):
    operation = api_schema[path][method.upper()]
    label = f"{method.upper()} {path}"
    secured = bool(operation.definition.raw.get("security"))
    modes = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=modes, data=st.data())
    @settings(settings.get_profile("openapi-ci"))
    def run(case, data):
        TRIED[label] += 1
        for caller in callers:
            _realistic(case, caller, data.draw)
            response = case.call_and_validate(headers={"Authorization": f"Bearer {caller.token}"} if secured else {},
                                              checks=CHECKS)
            STATUSES[label][response.status_code] += 1
            _no_leak(case, caller, response.status_code)

    run()
    answers = " ".join(f"{code}×{k}" for code, k in sorted(STATUSES[label].items()))
    record_property("schemathesis_roles", ", ".join(ROLES))
    record_property("schemathesis", f"{TRIED[label]:4d}  {label:42s} réponses : {answers}")
