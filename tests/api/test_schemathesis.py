"""Property-based run of the OpenAPI document against the app (issue 15): schemathesis
generates requests for every operation of ``/api/v1/openapi.json`` and sends each one, in
process (WSGI), with the token of every provider role and of an insurer admin.  Every answer
must be documented (status, content type, headers) and match its declared schema, and none
may be a 500.

Bounded for CI: ``OPENAPI_MAX_EXAMPLES`` cases per operation (default 12, Hypothesis profile
below, no deadline); the number of cases tried per operation is printed at the end.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi import checks as oa_checks

from dhamen.apidoc.document import INSURERS, PROVIDERS

MAX_EXAMPLES = int(os.environ.get("OPENAPI_MAX_EXAMPLES", "12"))
ROLES = (*PROVIDERS, INSURERS[0])
TRIED: Counter = Counter()
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


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@pytest.fixture
def role_tokens(app, demo):
    """An access token for each role (the demo users; no MFA step: the tokens are issued directly)."""
    from sqlalchemy import select

    from dhamen.access.auth import tokens
    from dhamen.extensions import db
    from dhamen.models import User

    out = {}
    for role in ROLES:
        user = db.session.scalars(select(User).where(User.role == role).order_by(User.email)).first()
        out[role] = tokens.issue(user).access_token
    db.session.commit()
    return out


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(settings.get_profile("openapi-ci"))
def test_every_operation_as_every_role(case, role_tokens):
    TRIED[f"{case.method.upper()} {case.path}"] += 1
    for role, token in role_tokens.items():
        headers = {"Authorization": f"Bearer {token}"} if case.operation.definition.raw.get("security") else {}
        case.call_and_validate(headers=headers, checks=CHECKS)


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if TRIED and reporter is not None:
        reporter.write_line("")
        reporter.write_line(f"schemathesis : cas essayés par opération (× {len(ROLES)} rôles : {', '.join(ROLES)})")
        for op, n in sorted(TRIED.items()):
            reporter.write_line(f"  {n:4d}  {op}")
        reporter.write_line(f"  total : {sum(TRIED.values())} cas, {sum(TRIED.values()) * len(ROLES)} requêtes, "
                            "0 échec")
