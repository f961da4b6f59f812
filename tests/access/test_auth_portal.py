"""Portal authentication: login page, MFA challenge, logout, sessions, password change."""

from __future__ import annotations

import html
import time

import pytest
import time_machine
from auth_helpers import (
    PASSWORD,
    audit_rows,
    csrf_from,
    fast_web_session,
    location_path,
    page_csrf,
    totp_code,
    user_for_role,
    web_login,
)
from flask import url_for

from dhamen.access.auth import sessions
from dhamen.access.roles import HOME_ENDPOINTS, ROLES, home_endpoint


def _session(app, client) -> dict:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return app.session_interface.get_signing_serializer(app).loads(cookie.value) if cookie else {}


def _home_url(app, role) -> str:
    with app.test_request_context():
        return url_for(home_endpoint(role))


def _signed_in(client) -> bool:
    return client.get("/compte").status_code == 200


# --- login page -------------------------------------------------------------------------------

def test_login_page_is_french_with_csrf(client):
    r = client.get("/connexion")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "Connexion" in html and "Adresse e-mail" in html and "Mot de passe" in html
    assert 'name="csrf_token"' in html
    assert 'autocomplete="current-password"' in html
    assert r.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("case", ["unknown", "wrong", "inactive"])
def test_failed_login_shows_one_french_message(ctx, client, case):
    from dhamen.extensions import db

    user = user_for_role("DOCTOR", email="d@exemple.tn")
    if case == "inactive":
        user.is_active = False
        db.session.commit()
    email = "x@exemple.tn" if case == "unknown" else "d@exemple.tn"
    password = "wrong-password-123" if case == "wrong" else PASSWORD
    r = web_login(client, email, password)
    assert r.status_code == 401
    assert "Adresse e-mail ou mot de passe incorrect." in r.get_data(as_text=True)
    assert not _signed_in(client)


def test_login_form_validation_is_french(ctx, client):
    token = page_csrf(client)
    r = client.post("/connexion", data={"email": "pas-une-adresse", "password": "", "csrf_token": token})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "Adresse e-mail invalide." in html and "Saisissez votre mot de passe." in html


def test_login_form_without_csrf_is_refused(ctx, client):
    user_for_role("DOCTOR", email="d@exemple.tn")
    r = client.post("/connexion", data={"email": "d@exemple.tn", "password": PASSWORD})
    assert r.status_code == 400
    assert "Le formulaire a expiré" in r.get_data(as_text=True)
    assert not _signed_in(client)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_lands_on_its_home_page(app, ctx, client, role):
    user = user_for_role(role, mfa=True)
    r = web_login(client, user.email, user=user)
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    home = _home_url(app, role)
    assert location_path(r) == home
    if HOME_ENDPOINTS[role] in app.view_functions:
        assert home == _home_url_direct(app, HOME_ENDPOINTS[role])
    # The role may use its home page (not sent back to login, not refused).
    assert client.get(home).status_code not in (302, 401, 403)
    assert location_path(client.get("/")) == home


def _home_url_direct(app, endpoint):
    with app.test_request_context():
        return url_for(endpoint)


def test_already_signed_in_user_is_sent_home_from_login_page(app, ctx, client):
    user = user_for_role("DOCTOR")
    fast_web_session(client, user)
    r = client.get("/connexion")
    assert r.status_code == 302 and location_path(r) == _home_url(app, "DOCTOR")


# --- session id, cookies -----------------------------------------------------------------------

def test_login_starts_a_fresh_session(app, ctx, client):
    user = user_for_role("DOCTOR", email="d@exemple.tn")
    client.get("/connexion")
    with client.session_transaction() as sess:
        sess["planted"] = "by-an-attacker"
        sess["sid"] = "attacker-chosen-session-id-000000000000000"
    before = _session(app, client)
    r = web_login(client, "d@exemple.tn")
    assert r.status_code == 302
    after = _session(app, client)
    assert "planted" not in after
    assert after["sid"] != before["sid"] and len(after["sid"]) >= 43
    client.get("/compte")
    assert _session(app, client)["csrf_token"] != before["csrf_token"]
    assert sessions.load(after["sid"])["uid"] == user.id
    assert sessions.load(before["sid"]) is None


def test_each_login_gets_its_own_session_id(app, ctx):
    user_for_role("DOCTOR", email="d@exemple.tn")
    sids = set()
    for _ in range(2):
        c = app.test_client()
        web_login(c, "d@exemple.tn")
        sids.add(_session(app, c)["sid"])
    assert len(sids) == 2


def test_session_cookie_flags_in_development(app, ctx, client):
    user_for_role("DOCTOR", email="d@exemple.tn")
    token = page_csrf(client)
    r = client.post("/connexion", data={"email": "d@exemple.tn", "password": PASSWORD, "csrf_token": token})
    cookies = [h for h in r.headers.getlist("Set-Cookie") if h.startswith(app.config["SESSION_COOKIE_NAME"] + "=")]
    assert cookies
    flags = cookies[-1].lower()
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert "expires=" not in flags  # a browser-session cookie: the server enforces the timeouts


def test_cookie_session_only_carries_a_reference(app, ctx, client):
    user = user_for_role("DOCTOR", email="d@exemple.tn")
    web_login(client, "d@exemple.tn")
    data = _session(app, client)
    assert set(data) <= {"sid", "_user_id", "_fresh", "_id", "csrf_token", "_flashes", "next"}
    assert user.password_hash not in str(data)


# --- MFA challenge page ------------------------------------------------------------------------

def test_wrong_code_is_refused_in_french_then_the_right_one_passes(app, ctx, client):
    user = user_for_role("INSURER_AGENT", email="a@exemple.tn", mfa=True)
    token = page_csrf(client)
    r = client.post("/connexion", data={"email": "a@exemple.tn", "password": PASSWORD, "csrf_token": token})
    assert location_path(r) == "/connexion/mfa"
    assert not _signed_in(client)
    page = client.get("/connexion/mfa").get_data(as_text=True)
    assert "Vérification en deux étapes" in page
    token = csrf_from(page)
    wrong = "000000" if totp_code(user) != "000000" else "111111"
    r = client.post("/connexion/mfa", data={"code": wrong, "csrf_token": token})
    assert r.status_code == 401
    assert "Code incorrect ou expiré." in r.get_data(as_text=True)
    assert not _signed_in(client)
    r = client.post("/connexion/mfa", data={"code": totp_code(user), "csrf_token": token})
    assert r.status_code == 302 and location_path(r) == _home_url(app, "INSURER_AGENT")
    assert _signed_in(client)


def test_five_wrong_codes_send_back_to_login(ctx, client):
    user_for_role("INSURER_AGENT", email="a@exemple.tn", mfa=True)
    token = page_csrf(client)
    client.post("/connexion", data={"email": "a@exemple.tn", "password": PASSWORD, "csrf_token": token})
    token = page_csrf(client, "/connexion/mfa")
    statuses = [client.post("/connexion/mfa", data={"code": "abcdef", "csrf_token": token}).status_code
                for _ in range(5)]
    assert statuses[-1] == 302
    r = client.get("/connexion/mfa")
    assert r.status_code == 302 and location_path(r) == "/connexion"


def test_mfa_page_without_password_step_redirects_to_login(client):
    r = client.get("/connexion/mfa")
    assert r.status_code == 302 and location_path(r) == "/connexion"


def test_mfa_challenge_expires(ctx, client):
    user = user_for_role("INSURER_AGENT", email="a@exemple.tn", mfa=True)
    token = page_csrf(client)
    client.post("/connexion", data={"email": "a@exemple.tn", "password": PASSWORD, "csrf_token": token})
    token = page_csrf(client, "/connexion/mfa")
    with time_machine.travel(time.time() + 301, tick=False):
        r = client.post("/connexion/mfa", data={"code": totp_code(user), "csrf_token": token})
    assert r.status_code == 302 and location_path(r) == "/connexion"
    assert not _signed_in(client)


# --- logout ------------------------------------------------------------------------------------------

def test_logout_ends_the_session_at_once(app, ctx, client):
    user = user_for_role("DOCTOR", email="d@exemple.tn")
    web_login(client, "d@exemple.tn")
    stolen = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    sid = _session(app, client)["sid"]
    token = page_csrf(client, "/compte")
    r = client.post("/deconnexion", data={"csrf_token": token})
    assert r.status_code == 302 and location_path(r) == "/connexion"
    assert sessions.load(sid) is None
    assert not _signed_in(client)
    # The old cookie, replayed, opens nothing.
    replay = app.test_client()
    replay.set_cookie(app.config["SESSION_COOKIE_NAME"], stolen)
    assert not _signed_in(replay)
    row = audit_rows("auth.logout")[0]
    assert row.user_id == user.id and row.changes_json == {"channel": "web"}


def test_logout_needs_post_and_csrf(ctx, client):
    user_for_role("DOCTOR", email="d@exemple.tn")
    web_login(client, "d@exemple.tn")
    assert client.get("/deconnexion").status_code == 405
    assert client.post("/deconnexion").status_code == 400
    assert _signed_in(client)


def test_htmx_requests_carry_csrf_in_a_header(ctx, client):
    user_for_role("DOCTOR", email="d@exemple.tn")
    web_login(client, "d@exemple.tn")
    token = page_csrf(client, "/compte")
    assert client.post("/deconnexion", headers={"HX-Request": "true", "X-CSRFToken": "forged"}).status_code == 400
    assert _signed_in(client)
    r = client.post("/deconnexion", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert r.status_code == 302
    assert not _signed_in(client)


def test_csrf_token_of_another_session_is_refused(app, ctx):
    a, b = user_for_role("DOCTOR"), user_for_role("DOCTOR")
    ca, cb = app.test_client(), app.test_client()
    fast_web_session(ca, a)
    fast_web_session(cb, b)
    token_a = page_csrf(ca, "/compte")
    assert cb.post("/deconnexion", data={"csrf_token": token_a}).status_code == 400
    assert _signed_in(cb)


# --- timeouts ------------------------------------------------------------------------------------------

def test_idle_timeout(app, ctx, client):
    user_for_role("DOCTOR", email="d@exemple.tn")
    web_login(client, "d@exemple.tn")
    idle = app.config["DHAMEN"].session_idle_minutes * 60
    start = time.time()
    with time_machine.travel(start + idle - 60, tick=False):
        assert _signed_in(client)  # activity resets the idle clock
    with time_machine.travel(start + 2 * idle - 120, tick=False):
        assert _signed_in(client)
    with time_machine.travel(start + 3 * idle, tick=False):
        r = client.get("/compte")
        assert r.status_code == 302 and location_path(r) == "/connexion"


def test_absolute_timeout_even_when_active(app, ctx, client):
    user_for_role("DOCTOR", email="d@exemple.tn")
    web_login(client, "d@exemple.tn")
    settings = app.config["DHAMEN"]
    absolute = settings.session_absolute_hours * 3600
    step = settings.session_idle_minutes * 60 - 300
    start = time.time()
    t = start
    while t + step < start + absolute:
        t += step
        with time_machine.travel(t, tick=False):
            assert _signed_in(client), (t - start) / 3600
    with time_machine.travel(start + absolute + 60, tick=False):
        assert not _signed_in(client)


def test_expired_session_is_removed_from_redis(app, ctx, client):
    user_for_role("DOCTOR", email="d@exemple.tn")
    web_login(client, "d@exemple.tn")
    sid = _session(app, client)["sid"]
    with time_machine.travel(time.time() + app.config["DHAMEN"].session_idle_minutes * 60 + 5, tick=False):
        assert not _signed_in(client)
    assert sessions.load(sid) is None


# --- next= after login ----------------------------------------------------------------------------------

def test_login_returns_to_the_page_asked_for(app, ctx, client):
    user_for_role("DOCTOR", email="d@exemple.tn")
    r = client.get("/compte/mot-de-passe")
    assert r.status_code == 302 and location_path(r) == "/connexion"
    client.get(r.headers["Location"])
    r = web_login(client, "d@exemple.tn")
    assert location_path(r) == "/compte/mot-de-passe"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example",
                                    "\\\\evil.example", "/\r\nLocation: https://evil.example",
                                    "javascript:alert(1)", "/\tevil", " //evil.example"])
def test_next_never_leaves_the_site(app, ctx, client, target):
    user_for_role("DOCTOR", email="d@exemple.tn")
    client.get("/connexion", query_string={"next": target})
    r = web_login(client, "d@exemple.tn")
    location = r.headers["Location"]
    assert location_path(r) == _home_url(app, "DOCTOR"), location
    assert "evil" not in location


# --- password change ----------------------------------------------------------------------------------------

def _change(client, current, new, confirm=None):
    token = page_csrf(client, "/compte/mot-de-passe")
    return client.post("/compte/mot-de-passe", data={"current": current, "new": new,
                                                     "confirm": new if confirm is None else confirm,
                                                     "csrf_token": token})


def test_password_change_needs_the_current_password(ctx, client):
    user = user_for_role("DOCTOR", email="d@exemple.tn")
    fast_web_session(client, user)
    r = _change(client, "not-my-password", "Un nouveau mot de passe solide")
    assert r.status_code == 422 and "Le mot de passe actuel est incorrect." in r.get_data(as_text=True)
    assert _signed_in(client)
    assert audit_rows("auth.password_change_failed")[0].changes_json == {"reason": "bad_current"}


@pytest.mark.parametrize("new, message", [
    ("court", "au moins 12 caractères"),
    ("x" * 129, "dépasser 128 caractères"),
    ("qwerty123456", "trop courant"),
    ("d@exemple.tn", "Le mot de passe ne peut pas être votre adresse e-mail."),
    (PASSWORD, "différent de l'actuel"),
])
def test_password_change_applies_the_policy(ctx, client, new, message):
    user = user_for_role("DOCTOR", email="d@exemple.tn")
    fast_web_session(client, user)
    r = _change(client, PASSWORD, new)
    assert r.status_code == 422
    assert message in html.unescape(r.get_data(as_text=True))


def test_password_change_confirmation_must_match(ctx, client):
    user = user_for_role("DOCTOR", email="d@exemple.tn")
    fast_web_session(client, user)
    r = _change(client, PASSWORD, "Un nouveau mot de passe solide", "Autre chose encore ici")
    assert r.status_code == 422 and "Confirmation : elle ne correspond pas" in r.get_data(as_text=True)


def test_long_utf8_password_works_end_to_end(app, ctx, client):
    user_for_role("DOCTOR", email="d@exemple.tn")
    web_login(client, "d@exemple.tn")
    new = "é" * 60 + "-fin"  # 124 bytes: beyond bcrypt's 72
    r = _change(client, PASSWORD, new)
    assert r.status_code == 302 and location_path(r) == "/connexion"
    assert "Mot de passe modifié" in client.get("/connexion").get_data(as_text=True)
    assert not _signed_in(client)
    assert web_login(app.test_client(), "d@exemple.tn", "é" * 60 + "-FIN").status_code == 401
    assert web_login(app.test_client(), "d@exemple.tn", "é" * 60).status_code == 401
    c = app.test_client()
    assert web_login(c, "d@exemple.tn", new).status_code == 302 and _signed_in(c)
    assert audit_rows("auth.password_change")


# --- access control on pages ----------------------------------------------------------------------------------

def test_forbidden_page_is_french_and_audited(ctx, client):
    user = user_for_role("PHARMACIST")
    fast_web_session(client, user)
    r = client.get("/admin/")
    assert r.status_code == 403
    page = html.unescape(r.get_data(as_text=True))
    assert "Accès refusé" in page and "Vous n'avez pas les droits" in page
    row = audit_rows("authz.denied")[0]
    assert row.user_id == user.id and row.entity_id == "admin.home"


def test_pages_need_a_session(client):
    for path in ("/admin/", "/assureur/", "/compte", "/compte/mot-de-passe"):
        r = client.get(path)
        assert r.status_code == 302 and location_path(r) == "/connexion", path


def test_forbidden_htmx_request_gets_a_fragment(ctx, client):
    user = user_for_role("PHARMACIST")
    fast_web_session(client, user)
    r = client.get("/admin/", headers={"HX-Request": "true"})
    assert r.status_code == 403
    assert "<html" not in r.get_data(as_text=True)
