"""Fixtures of the core tests: the demo data with generated claims (every status, every care
type, reconciliations), committed."""

from __future__ import annotations

import pytest

from dhamen.extensions import db
from dhamen.seed.bulk import generate_claims
from dhamen.seed.demo import seed_demo


@pytest.fixture
def seeded(ctx):
    seed_demo(members=30)
    generate_claims(400, progress=lambda _msg: None, seed=8)
    db.session.commit()
