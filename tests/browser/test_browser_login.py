"""The portal in a real browser (Debian's Chromium through Playwright).

Each demo role logs in with MFA and lands on its home page: the roles that must
use MFA and have not enrolled yet enrol through the UI (secret read from
``#totp-secret``), the others have a secret set in the database and answer the
challenge.  A wrong code is refused with a French message.  Nothing the pages
do may be blocked by the Content-Security-Policy.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pyotp
import pytest
from flask import url_for

from dhamen.access.roles import home_endpoint
from dhamen.seed.demo import DEMO_PASSWORD, DEMO_USERS

INCORRECT = "Code incorrect"

pytestmark = pytest.mark.browser


def _csp_violations(page) -> list[str]:
    return [p for p in page.csp_problems if "Content Security Policy" in p]


def _path(page) -> str:
    return urlsplit(page.url).path


def _home(app, role) -> str:
    with app.test_request_context():
        return url_for(home_endpoint(role))


def _submit(page):
    with page.expect_navigation():
        page.locator("main form:not(.inline) button[type=submit]").first.click()


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def _login(page, email):
    page.goto("/connexion")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    _submit(page)


ONE_USER_PER_ROLE = {}
for _email, _role, *_rest in DEMO_USERS:
    ONE_USER_PER_ROLE.setdefault(_role, _email)


@pytest.mark.parametrize("role", list(ONE_USER_PER_ROLE))
def test_each_demo_role_logs_in_with_mfa_and_lands_home(app, demo, page, role):
    from dhamen.access.auth import mfa
    from dhamen.access.auth.service import find_by_email
    from dhamen.extensions import db

    email = ONE_USER_PER_ROLE[role]
    user = find_by_email(email)
    enrol = role in mfa.required_roles()
    if not enrol:
        user.mfa_secret, user.mfa_enabled = mfa.new_secret(), True
        db.session.commit()
    secret = user.mfa_secret
    home = _home(app, role)

    _login(page, email)
    if enrol:
        assert _path(page) == "/compte/mfa"
        assert "exige la double authentification" in page.content()
        secret = page.locator("#totp-secret").inner_text().strip()
        assert re.fullmatch(r"[A-Z2-7]{32}", secret)
        assert page.locator("img[alt='QR code à scanner']").get_attribute("src").startswith("data:image/svg+xml")
        page.fill("input[name=code]", _wrong(pyotp.TOTP(secret).now()))
        _submit(page)
        assert INCORRECT in page.locator("[role=alert]").inner_text()
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        _submit(page)
        assert _path(page) == "/compte/codes-de-secours"
        codes = page.locator("#recovery-codes li").all_inner_texts()
        assert len(codes) == 10 and all(re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", c.strip())
                                        for c in codes)
        with page.expect_navigation():
            page.get_by_role("link", name="Continuer").click()
    else:
        assert _path(page) == "/connexion/mfa"
        page.fill("input[name=code]", _wrong(pyotp.TOTP(secret).now()))
        _submit(page)
        assert _path(page) == "/connexion/mfa"
        assert "Code incorrect ou expiré." in page.locator("[role=alert]").inner_text()
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        _submit(page)
    assert _path(page) == home, f"{role} landed on {page.url}, expected {home}"
    assert _csp_violations(page) == []


def test_session_cookie_is_httponly_and_logout_ends_it(app, demo, page):
    from dhamen.access.auth import mfa
    from dhamen.access.auth.service import find_by_email
    from dhamen.extensions import db

    user = find_by_email("admin@dhamen.tn")
    user.mfa_secret, user.mfa_enabled = mfa.new_secret(), True
    db.session.commit()
    _login(page, "admin@dhamen.tn")
    page.fill("input[name=code]", pyotp.TOTP(user.mfa_secret).now())
    _submit(page)
    assert _path(page) == _home(app, "ADMIN")
    cookies = {c["name"]: c for c in page.context.cookies()}
    session_cookie = cookies[app.config["SESSION_COOKIE_NAME"]]
    assert session_cookie["httpOnly"] is True and session_cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""  # invisible to scripts
    with page.expect_navigation():
        page.get_by_role("button", name="Se déconnecter").click()
    assert _path(page) == "/connexion"
    assert "Vous êtes déconnecté." in page.content()
    page.goto(_home(app, "ADMIN"))
    assert _path(page) == "/connexion"
    assert _csp_violations(page) == []


def test_login_with_wrong_password_shows_french_error(app, demo, page):
    page.goto("/connexion")
    page.fill("input[name=email]", "pharmacie@dhamen.tn")
    page.fill("input[name=password]", "pas le bon mot de passe")
    _submit(page)
    assert _path(page) == "/connexion"
    assert "Adresse e-mail ou mot de passe incorrect." in page.locator("[role=alert]").inner_text()
