"""Fixtures of the claims tests: the service-level tests act as the shop's pharmacist (queries
and operations take the user; the audit reads ``g.api_user``)."""

from __future__ import annotations

import pytest
from claims_helpers import acting_as


@pytest.fixture
def as_pharmacist(app, shop):
    with acting_as(app, shop.users["pharmacist"]) as user:
        yield user
