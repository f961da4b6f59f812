"""Fixtures and helpers of the admin portal tests (import the fixtures by function name)."""

from __future__ import annotations

import pytest
from auth_helpers import csrf_from, fast_web_session, make_insurer, make_provider, make_user


class Page:
    """A test client signed in as one user, posting forms with the page's CSRF token."""

    def __init__(self, app, user):
        self.user = user
        self.client = app.test_client()
        fast_web_session(self.client, user)
        self._csrf = None

    @property
    def csrf(self) -> str:
        if self._csrf is None:
            self._csrf = csrf_from(self.client.get("/compte").get_data(as_text=True))
        return self._csrf

    def get(self, path: str, **kw):
        return self.client.get(path, **kw)

    def text(self, path: str, **kw) -> str:
        r = self.client.get(path, **kw)
        assert r.status_code == 200, (path, r.status_code)
        return r.get_data(as_text=True)

    def post(self, path: str, data: dict | None = None, **kw):
        return self.client.post(path, data={"csrf_token": self.csrf, **(data or {})}, **kw)


@pytest.fixture(name="admin")
def admin_fixture(app, ctx):
    return Page(app, make_user("ADMIN", email="root@dhamen.tn", mfa=True))


@pytest.fixture(name="orgs")
def orgs_fixture(ctx):
    from dhamen.extensions import db

    star, gat = make_insurer("STAR", "STAR Assurances"), make_insurer("GAT", "GAT Assurances")
    pharmacy = make_provider("pharmacist", "Pharmacie Lafayette")
    lab = make_provider("lab", "Labo Pasteur")
    db.session.commit()
    return {"star": star, "gat": gat, "pharmacy": pharmacy, "lab": lab}


def errors_of(html: str) -> str:
    """The page's error texts (field errors and the error box), for assertions."""
    import re

    found = re.findall(r'class="error"[^>]*>([^<]+)<', html) + re.findall(r"<li>([^<]+)</li>", html)
    found += re.findall(r'flash-error[^>]*>([^<]+)<', html)
    import html as html_lib

    return " | ".join(html_lib.unescape(f) for f in found)
