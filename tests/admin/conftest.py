"""Fixtures of the admin portal tests: a signed-in admin page and a few organisations."""

from __future__ import annotations

import pytest
from admin_helpers import Page
from auth_helpers import make_insurer, make_provider, make_user

from dhamen.extensions import db


@pytest.fixture
def admin(app, ctx):
    return Page(app, make_user("ADMIN", email="root@dhamen.tn", mfa=True))


@pytest.fixture
def orgs(ctx):
    star, gat = make_insurer("STAR", "STAR Assurances"), make_insurer("GAT", "GAT Assurances")
    pharmacy = make_provider("pharmacist", "Pharmacie Lafayette")
    lab = make_provider("lab", "Labo Pasteur")
    db.session.commit()
    return {"star": star, "gat": gat, "pharmacy": pharmacy, "lab": lab}
