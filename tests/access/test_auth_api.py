"""The spec's four auth calls (section 3) and what SECURITY.md asks of tokens.

POST /api/v1/auth/login, /auth/mfa/verify, /auth/refresh, /auth/logout; JWT
payload and verification; refresh rotation and reuse detection; revocation on
logout, deactivation and password change; expiry (time travel).
"""

from __future__ import annotations

import base64
import json
import time

import jwt
import pyotp
import pytest
import time_machine
from auth_helpers import (
    PASSWORD,
    api_login,
    audit_rows,
    bearer,
    fast_web_session,
    make_insurer,
    make_provider,
    make_user,
    page_csrf,
    probe_app_fixture,  # noqa: F401
    totp_code,
    user_for_role,
    world_fixture,  # noqa: F401
)

LOGIN = "/api/v1/auth/login"
VERIFY = "/api/v1/auth/mfa/verify"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"


def _settings(app):
    return app.config["DHAMEN"]


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _header(token: str) -> dict:
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


def _me(client, access):
    return client.get(ME, headers=bearer(access))


def _error(r) -> dict:
    body = r.get_json()
    assert body["success"] is False, body
    return body["error"]


# --- login ------------------------------------------------------------------------------

def test_login_without_mfa_returns_token_pair_with_spec_payload(app, ctx, client):
    provider = make_provider("pharmacist", "Pharmacie du Test")
    user = make_user("PHARMACIST", email="ph@exemple.tn", provider=provider)
    before = int(time.time())
    r = client.post(LOGIN, json={"email": "ph@exemple.tn", "password": PASSWORD})
    assert r.status_code == 200
    body = r.get_json()
    assert body["success"] is True
    data = body["data"]
    assert set(data) >= {"accessToken", "refreshToken"}
    assert "requiresMfa" not in data
    claims = _claims(data["accessToken"])
    assert claims["sub"] == user.id
    assert claims["role"] == "PHARMACIST"
    assert claims["providerId"] == provider.id
    assert "insurerId" not in claims
    assert claims["iss"] == "dhamen"
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] - claims["iat"] == _settings(app).jwt_expires_in == 900
    assert claims["typ"] == "access"
    assert _header(data["accessToken"])["alg"] == "HS256"
    # The refresh token is opaque: not a JWT, 256 bits of randomness.
    assert data["refreshToken"].count(".") == 0 and len(data["refreshToken"]) >= 43
    assert _me(client, data["accessToken"]).get_json()["data"]["id"] == user.id


def test_insurer_token_carries_insurer_id(ctx, client):
    insurer = make_insurer("STARX")
    user = make_user("INSURER_AGENT", email="ag@exemple.tn", insurer=insurer, mfa=True)
    data = api_login(client, "ag@exemple.tn", user=user)
    claims = _claims(data["accessToken"])
    assert claims["insurerId"] == insurer.id and claims["role"] == "INSURER_AGENT"
    assert "providerId" not in claims


def test_email_is_case_insensitive(ctx, client):
    user_for_role("DOCTOR", email="doc@exemple.tn")
    r = client.post(LOGIN, json={"email": "  DOC@Exemple.TN ", "password": PASSWORD})
    assert r.status_code == 200


@pytest.mark.parametrize("case", ["unknown_email", "bad_password", "inactive"])
def test_invalid_credentials_never_reveal_whether_the_email_exists(ctx, client, case):
    from dhamen.extensions import db

    user = user_for_role("DOCTOR", email="known@exemple.tn")
    email, password = "known@exemple.tn", PASSWORD
    if case == "unknown_email":
        email = "nobody@exemple.tn"
    elif case == "bad_password":
        password = "not-the-password-at-all"
    else:
        user.is_active = False
        db.session.commit()
    r = client.post(LOGIN, json={"email": email, "password": password})
    assert r.status_code == 401
    assert r.get_json() == {"success": False, "error": {"code": "INVALID_CREDENTIALS",
                                                        "message": "Adresse e-mail ou mot de passe incorrect."}}


@pytest.mark.parametrize("body", [{}, {"email": "a@b.tn"}, {"password": "x" * 12}, {"email": 3, "password": "x"},
                                  {"email": "a@b.tn", "password": "x" * 2000}])
def test_login_validates_its_body(ctx, client, body):
    r = client.post(LOGIN, json=body)
    assert r.status_code == 422
    assert _error(r)["code"] == "VALIDATION_ERROR"


def test_login_with_mfa_returns_only_a_challenge(ctx, client):
    user = user_for_role("INSURER_ADMIN", email="ia@exemple.tn", mfa=True)
    r = client.post(LOGIN, json={"email": "ia@exemple.tn", "password": PASSWORD})
    assert r.status_code == 200
    data = r.get_json()["data"]
    assert data["requiresMfa"] is True
    assert len(data["mfaToken"]) >= 40
    assert "accessToken" not in data and "refreshToken" not in data
    assert user.mfa_secret not in r.get_data(as_text=True)


def test_role_that_requires_mfa_without_enrolment_gets_no_token(ctx, client):
    user_for_role("ADMIN", email="adm@exemple.tn")  # ADMIN must use MFA by default, not enrolled
    r = client.post(LOGIN, json={"email": "adm@exemple.tn", "password": PASSWORD})
    assert r.status_code == 403
    assert _error(r)["code"] == "MFA_ENROLMENT_REQUIRED"
    assert "accessToken" not in r.get_data(as_text=True)


def test_mfa_is_asked_of_any_user_who_enabled_it(ctx, client):
    user_for_role("LAB_MANAGER", email="lab@exemple.tn", mfa=True)
    r = client.post(LOGIN, json={"email": "lab@exemple.tn", "password": PASSWORD})
    assert r.get_json()["data"]["requiresMfa"] is True


# --- MFA verify ---------------------------------------------------------------------------

def _challenge(client, email) -> str:
    r = client.post(LOGIN, json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["data"]["mfaToken"]


def test_mfa_verify_with_totp_returns_token_pair(ctx, client):
    user = user_for_role("INSURER_AGENT", email="a@exemple.tn", mfa=True)
    token = _challenge(client, "a@exemple.tn")
    r = client.post(VERIFY, json={"mfaToken": token, "otpCode": totp_code(user)})
    assert r.status_code == 200
    data = r.get_json()["data"]
    assert _claims(data["accessToken"])["sub"] == user.id
    assert _me(client, data["accessToken"]).status_code == 200


def test_mfa_token_is_single_use(ctx, client):
    user = user_for_role("INSURER_AGENT", email="a@exemple.tn", mfa=True)
    token = _challenge(client, "a@exemple.tn")
    assert client.post(VERIFY, json={"mfaToken": token, "otpCode": totp_code(user)}).status_code == 200
    r = client.post(VERIFY, json={"mfaToken": token, "otpCode": totp_code(user)})
    assert r.status_code == 401
    assert _error(r)["code"] == "INVALID_OTP"


def test_mfa_token_is_short_lived(ctx, client):
    user = user_for_role("INSURER_AGENT", email="a@exemple.tn", mfa=True)
    token = _challenge(client, "a@exemple.tn")
    with time_machine.travel(time.time() + 301, tick=False):
        r = client.post(VERIFY, json={"mfaToken": token, "otpCode": totp_code(user)})
    assert r.status_code == 401
    assert "expirée" in _error(r)["message"]


def test_wrong_code_is_refused_in_french(ctx, client):
    user = user_for_role("INSURER_AGENT", email="a@exemple.tn", mfa=True)
    token = _challenge(client, "a@exemple.tn")
    wrong = "000000" if totp_code(user) != "000000" else "111111"
    r = client.post(VERIFY, json={"mfaToken": token, "otpCode": wrong})
    assert r.status_code == 401
    assert r.get_json() == {"success": False, "error": {"code": "INVALID_OTP", "message": "Code incorrect ou expiré."}}
    # The token survives a typo: the right code still works.
    assert client.post(VERIFY, json={"mfaToken": token, "otpCode": totp_code(user)}).status_code == 200


def test_mfa_token_dies_after_five_wrong_codes(ctx, client):
    user = user_for_role("INSURER_AGENT", email="a@exemple.tn", mfa=True)
    token = _challenge(client, "a@exemple.tn")
    for _ in range(5):
        assert client.post(VERIFY, json={"mfaToken": token, "otpCode": "abcdef"}).status_code in (401, 429)
    r = client.post(VERIFY, json={"mfaToken": token, "otpCode": totp_code(user)})
    assert r.status_code in (401, 429)
    assert "accessToken" not in r.get_data(as_text=True)


def test_mfa_token_of_a_user_deactivated_meanwhile_is_dead(ctx, client):
    from dhamen.access.auth import service
    from dhamen.extensions import db

    user = user_for_role("INSURER_AGENT", email="a@exemple.tn", mfa=True)
    admin = user_for_role("ADMIN")
    token = _challenge(client, "a@exemple.tn")
    service.deactivate(user, admin)
    db.session.commit()
    assert client.post(VERIFY, json={"mfaToken": token, "otpCode": totp_code(user)}).status_code == 401


@pytest.mark.parametrize("token", ["short", "x" * 150, "A" * 43])
def test_mfa_verify_with_garbage_token(ctx, client, token):
    r = client.post(VERIFY, json={"mfaToken": token, "otpCode": "123456"})
    assert r.status_code in (401, 422)
    assert _error(r)["code"] in ("INVALID_OTP", "VALIDATION_ERROR")


# --- refresh: rotation and reuse ---------------------------------------------------------

def _pair(ctx, client, role="PHARMACIST", email="u@exemple.tn"):
    user = user_for_role(role, email=email)
    return user, api_login(client, email)


def test_refresh_rotates_both_tokens(ctx, client):
    user, pair = _pair(ctx, client)
    r = client.post(REFRESH, json={"refreshToken": pair["refreshToken"]})
    assert r.status_code == 200
    new = r.get_json()["data"]
    assert new["refreshToken"] != pair["refreshToken"]
    assert new["accessToken"] != pair["accessToken"]
    assert _claims(new["accessToken"])["sub"] == user.id
    assert _me(client, new["accessToken"]).status_code == 200
    # The new refresh token rotates again.
    r = client.post(REFRESH, json={"refreshToken": new["refreshToken"]})
    assert r.status_code == 200


def test_refresh_token_reuse_revokes_the_whole_family_and_is_audited(ctx, client):
    user, pair = _pair(ctx, client)
    first = client.post(REFRESH, json={"refreshToken": pair["refreshToken"]}).get_json()["data"]
    second = client.post(REFRESH, json={"refreshToken": first["refreshToken"]}).get_json()["data"]
    assert _me(client, second["accessToken"]).status_code == 200

    # An attacker replays the first refresh token.
    r = client.post(REFRESH, json={"refreshToken": pair["refreshToken"]})
    assert r.status_code == 401
    assert _error(r)["code"] == "REFRESH_TOKEN_REUSED"

    # Everything of that family is dead: the latest refresh token and every access token.
    assert client.post(REFRESH, json={"refreshToken": second["refreshToken"]}).status_code == 401
    for access in (pair["accessToken"], first["accessToken"], second["accessToken"]):
        assert _me(client, access).status_code == 401
    rows = audit_rows("auth.refresh_reuse")
    assert len(rows) == 1 and rows[0].user_id == user.id
    assert rows[0].ip_address


def test_reuse_in_one_family_leaves_other_sessions_alone(ctx, client):
    user, pair = _pair(ctx, client)
    other = api_login(client, "u@exemple.tn")
    client.post(REFRESH, json={"refreshToken": pair["refreshToken"]})
    client.post(REFRESH, json={"refreshToken": pair["refreshToken"]})  # reuse
    assert _me(client, other["accessToken"]).status_code == 200
    assert client.post(REFRESH, json={"refreshToken": other["refreshToken"]}).status_code == 200


@pytest.mark.parametrize("value", ["", "nope", "x" * 43, "y" * 200])
def test_unknown_refresh_tokens_are_refused(ctx, client, value):
    r = client.post(REFRESH, json={"refreshToken": value})
    assert r.status_code in (401, 422)


def test_refresh_token_is_stored_hashed_with_a_ttl(app, ctx, client):
    _user, pair = _pair(ctx, client)
    r = app.extensions["dhamen.services"].redis
    keys = [k.decode() for k in r.scan_iter("rt:*")]
    assert keys, "the refresh token should live in Redis"
    for key in keys:
        assert pair["refreshToken"] not in key
        value = r.get(key)
        assert value is None or pair["refreshToken"].encode() not in value
        assert 0 < r.ttl(key) <= _settings(app).refresh_expires_in
    dump = b" ".join((r.get(k) or b"") for k in r.scan_iter("*") if r.type(k) == b"string")
    assert pair["refreshToken"].encode() not in dump and pair["accessToken"].encode() not in dump


def test_access_token_is_not_a_refresh_token_and_vice_versa(ctx, client):
    _user, pair = _pair(ctx, client)
    assert client.post(REFRESH, json={"refreshToken": pair["accessToken"]}).status_code in (401, 422)
    assert _me(client, pair["refreshToken"]).status_code == 401


# --- logout ---------------------------------------------------------------------------------

def test_logout_ends_access_and_refresh_token_at_once(ctx, client):
    user, pair = _pair(ctx, client)
    r = client.post(LOGOUT, headers=bearer(pair["accessToken"]), json={"refreshToken": pair["refreshToken"]})
    assert r.status_code == 200 and r.get_json() == {"success": True, "data": {"loggedOut": True}}
    assert _me(client, pair["accessToken"]).status_code == 401
    assert client.post(REFRESH, json={"refreshToken": pair["refreshToken"]}).status_code == 401
    rows = audit_rows("auth.logout")
    assert len(rows) == 1 and rows[0].user_id == user.id


def test_logout_without_body_still_kills_the_refresh_token_of_the_session(ctx, client):
    _user, pair = _pair(ctx, client)
    assert client.post(LOGOUT, headers=bearer(pair["accessToken"])).status_code == 200
    assert client.post(REFRESH, json={"refreshToken": pair["refreshToken"]}).status_code == 401


def test_logout_needs_a_valid_access_token(ctx, client):
    r = client.post(LOGOUT)
    assert r.status_code == 401 and _error(r)["code"] == "UNAUTHORIZED"


def test_logout_leaves_other_sessions_of_the_user_alone(ctx, client):
    _user, pair = _pair(ctx, client)
    other = api_login(client, "u@exemple.tn")
    client.post(LOGOUT, headers=bearer(pair["accessToken"]))
    assert _me(client, other["accessToken"]).status_code == 200


def test_logout_cannot_end_someone_elses_session(ctx, client):
    _a, pair_a = _pair(ctx, client, email="a@exemple.tn")
    _b, pair_b = _pair(ctx, client, email="b@exemple.tn")
    client.post(LOGOUT, headers=bearer(pair_a["accessToken"]), json={"refreshToken": pair_b["refreshToken"]})
    assert _me(client, pair_b["accessToken"]).status_code == 200
    assert client.post(REFRESH, json={"refreshToken": pair_b["refreshToken"]}).status_code == 200


# --- expiry (time travel) -----------------------------------------------------------------

def test_access_token_expires_after_jwt_expires_in(app, ctx, client):
    _user, pair = _pair(ctx, client)
    lifetime = _settings(app).jwt_expires_in
    start = time.time()
    with time_machine.travel(start + lifetime - 5, tick=False):
        assert _me(client, pair["accessToken"]).status_code == 200
    with time_machine.travel(start + lifetime + 5, tick=False):
        r = _me(client, pair["accessToken"])
        assert r.status_code == 401 and _error(r)["code"] == "UNAUTHORIZED"
        # The refresh token is still good: a new access token works.
        r = client.post(REFRESH, json={"refreshToken": pair["refreshToken"]})
        assert r.status_code == 200
        assert _me(client, r.get_json()["data"]["accessToken"]).status_code == 200


def test_refresh_token_expires_after_refresh_expires_in(app, ctx, client):
    _user, pair = _pair(ctx, client)
    lifetime = _settings(app).refresh_expires_in
    start = time.time()
    with time_machine.travel(start + lifetime + 5, tick=False):
        r = client.post(REFRESH, json={"refreshToken": pair["refreshToken"]})
    assert r.status_code == 401 and _error(r)["code"] == "INVALID_REFRESH_TOKEN"


def test_rotation_gives_a_fresh_refresh_lifetime(app, ctx, client):
    _user, pair = _pair(ctx, client)
    lifetime = _settings(app).refresh_expires_in
    start = time.time()
    with time_machine.travel(start + lifetime - 100, tick=False):
        new = client.post(REFRESH, json={"refreshToken": pair["refreshToken"]}).get_json()["data"]
    with time_machine.travel(start + lifetime + 100, tick=False):
        assert client.post(REFRESH, json={"refreshToken": new["refreshToken"]}).status_code == 200


def test_refreshing_cannot_keep_an_api_session_beyond_its_absolute_lifetime(app, ctx, client):
    """Each refresh token lives REFRESH_EXPIRES_IN, but the session ends API_SESSION_ABSOLUTE_HOURS after
    the login, however often it is refreshed: the client must log in again."""
    _user, pair = _pair(ctx, client)
    step = _settings(app).refresh_expires_in - 100
    absolute = _settings(app).api_session_absolute_hours * 3600
    start, at, token = time.time(), 0, pair["refreshToken"]
    while at + step < absolute - 60:
        at += step
        with time_machine.travel(start + at, tick=False):
            r = client.post(REFRESH, json={"refreshToken": token})
            assert r.status_code == 200, (at, r.get_json())
            token, access = r.get_json()["data"]["refreshToken"], r.get_json()["data"]["accessToken"]
    with time_machine.travel(start + absolute - 30, tick=False):
        assert _me(client, access).status_code in (200, 401)  # 401 only if the access token itself expired
        r = client.post(REFRESH, json={"refreshToken": token})
        assert r.status_code == 200
        token, access = r.get_json()["data"]["refreshToken"], r.get_json()["data"]["accessToken"]
        assert _me(client, access).status_code == 200
    with time_machine.travel(start + absolute + 30, tick=False):
        assert _me(client, access).status_code == 401  # a fresh access token dies with its session
        r = client.post(REFRESH, json={"refreshToken": token})
        assert r.status_code == 401 and _error(r)["code"] == "SESSION_EXPIRED" and "reconnectez" in _error(r)["message"]
    # the session is gone: even back in time nothing of it works
    assert client.post(REFRESH, json={"refreshToken": token}).status_code == 401
    assert _me(client, access).status_code == 401


# --- JWT verification -------------------------------------------------------------------------

def _forge(app, user, sid, **changes):
    now = int(time.time())
    payload = {"sub": user.id, "role": user.role, "iat": now, "exp": now + 900, "iss": "dhamen", "typ": "access",
               "sid": sid, "sv": user.session_version}
    for k, v in changes.items():
        if v is None:
            payload.pop(k, None)
        else:
            payload[k] = v
    return payload


def _session_of(client, email):
    data = api_login(client, email)
    return data, _claims(data["accessToken"])["sid"]


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_forged_tokens_are_refused(app, ctx, client):
    user = user_for_role("PHARMACIST", email="f@exemple.tn")
    data, sid = _session_of(client, "f@exemple.tn")
    secret = _settings(app).jwt_secret
    good = jwt.encode(_forge(app, user, sid), secret, algorithm="HS256")
    assert _me(client, good).status_code == 200  # the forge itself is right

    unsigned = jwt.encode(_forge(app, user, sid), None, algorithm="none")
    header_none = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    body = good.split(".")[1]
    bad = {
        "alg none": unsigned,
        "alg none, no signature": f"{header_none}.{body}.",
        "wrong key": jwt.encode(_forge(app, user, sid), "another-secret-of-sufficient-length-0123456789",
                                algorithm="HS256"),
        "HS512 with the right key": jwt.encode(_forge(app, user, sid), secret, algorithm="HS512"),
        "wrong issuer": jwt.encode(_forge(app, user, sid, iss="evil"), secret, algorithm="HS256"),
        "no issuer": jwt.encode(_forge(app, user, sid, iss=None), secret, algorithm="HS256"),
        "no exp": jwt.encode(_forge(app, user, sid, exp=None), secret, algorithm="HS256"),
        "expired": jwt.encode(_forge(app, user, sid, exp=int(time.time()) - 10), secret, algorithm="HS256"),
        "typ refresh": jwt.encode(_forge(app, user, sid, typ="refresh"), secret, algorithm="HS256"),
        "no typ": jwt.encode(_forge(app, user, sid, typ=None), secret, algorithm="HS256"),
        "unknown session": jwt.encode(_forge(app, user, sid="x" * 43), secret, algorithm="HS256"),
        "old session version": jwt.encode(_forge(app, user, sid, sv=0), secret, algorithm="HS256"),
        "payload edited": good.split(".")[0] + "." + base64.urlsafe_b64encode(
            json.dumps(_forge(app, user, sid, role="ADMIN")).encode()).rstrip(b"=").decode() + "." + good.split(".")[2],
        "garbage": "not.a.jwt",
    }
    for name, token in bad.items():
        r = _me(client, token)
        assert r.status_code == 401, name
        assert _error(r) == {"code": "UNAUTHORIZED", "message": "Authentification requise."}, name


def test_token_of_another_users_session_is_refused(ctx, client, app):
    a = user_for_role("PHARMACIST", email="a@exemple.tn")
    user_for_role("PHARMACIST", email="b@exemple.tn")
    _data, sid_b = _session_of(client, "b@exemple.tn")
    token = jwt.encode(_forge(app, a, sid_b), _settings(app).jwt_secret, algorithm="HS256")
    assert _me(client, token).status_code == 401


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer ", "bearer  ", "Token abc"])
def test_malformed_authorization_headers(ctx, client, header):
    assert client.get(ME, headers={"Authorization": header}).status_code == 401


def test_session_cookie_does_not_authenticate_the_api(ctx, client):
    user = user_for_role("PHARMACIST")
    fast_web_session(client, user)
    assert client.get("/compte").status_code == 200  # the cookie session works for pages
    assert client.get(ME).status_code == 401


def test_jwt_secret_is_not_the_flask_secret_key(app):
    assert _settings(app).jwt_secret != app.config["SECRET_KEY"]


# --- deactivation, password change, role change: everything stops at once ----------------------

def _web_and_api(client, app, email, user):
    data = api_login(client, email, user=user)
    web = app.test_client()
    fast_web_session(web, user)
    assert web.get("/compte").status_code == 200
    return data, web


def test_deactivation_ends_every_session_and_token(app, ctx, client, world):
    from dhamen.extensions import db

    target = world.users["PHARMACIST"]
    data, web = _web_and_api(client, app, target.email, target)
    admin_client = app.test_client()
    fast_web_session(admin_client, world.admin)
    token = page_csrf(admin_client, "/admin/")
    r = admin_client.post(f"/admin/utilisateurs/{target.id}/desactiver", data={"csrf_token": token})
    assert r.status_code == 303
    db.session.expire_all()
    assert _me(client, data["accessToken"]).status_code == 401
    assert client.post(REFRESH, json={"refreshToken": data["refreshToken"]}).status_code == 401
    r = web.get("/compte")
    assert r.status_code == 302 and "/connexion" in r.headers["Location"]
    r = client.post(LOGIN, json={"email": target.email, "password": PASSWORD})
    assert r.status_code == 401 and _error(r)["code"] == "INVALID_CREDENTIALS"
    row = audit_rows("user.deactivate")[0]
    assert row.user_id == world.admin.id and row.entity_id == target.id


def test_password_change_ends_every_session_and_token(app, ctx, client):
    user = user_for_role("DOCTOR", email="d@exemple.tn")
    data, web = _web_and_api(client, app, "d@exemple.tn", user)
    other_web = app.test_client()
    fast_web_session(other_web, user)
    token = page_csrf(web, "/compte/mot-de-passe")
    new = "Un nouveau mot de passe très long"
    r = web.post("/compte/mot-de-passe", data={"current": PASSWORD, "new": new, "confirm": new, "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].endswith("/connexion")
    assert _me(client, data["accessToken"]).status_code == 401
    assert client.post(REFRESH, json={"refreshToken": data["refreshToken"]}).status_code == 401
    for c in (web, other_web):
        assert c.get("/compte").status_code == 302
    assert client.post(LOGIN, json={"email": "d@exemple.tn", "password": PASSWORD}).status_code == 401
    assert client.post(LOGIN, json={"email": "d@exemple.tn", "password": new}).status_code == 200


def test_role_change_ends_sessions_so_no_token_keeps_the_old_role(app, ctx, client, world):
    target = world.users["INSURER_AGENT"]
    from dhamen.extensions import db

    target.mfa_secret, target.mfa_enabled = pyotp.random_base32(), True
    db.session.commit()
    data = api_login(client, target.email, user=target)
    admin_client = app.test_client()
    fast_web_session(admin_client, world.admin)
    token = page_csrf(admin_client, "/admin/")
    r = admin_client.post(f"/admin/utilisateurs/{target.id}/role", data={"csrf_token": token, "role": "INSURER_ADMIN"})
    assert r.status_code == 303
    assert _me(client, data["accessToken"]).status_code == 401
    row = audit_rows("user.role_change")[0]
    assert row.changes_json == {"role": ["INSURER_AGENT", "INSURER_ADMIN"]} and row.user_id == world.admin.id


def test_admin_mfa_reset_ends_sessions(app, ctx, client, world):
    from dhamen.extensions import db

    target = world.users["LAB_MANAGER"]
    target.mfa_secret, target.mfa_enabled = pyotp.random_base32(), True
    db.session.commit()
    data = api_login(client, target.email, user=target)
    admin_client = app.test_client()
    fast_web_session(admin_client, world.admin)
    token = page_csrf(admin_client, "/admin/")
    assert admin_client.post(f"/admin/utilisateurs/{target.id}/reinitialiser-mfa",
                             data={"csrf_token": token}).status_code == 303
    assert _me(client, data["accessToken"]).status_code == 401
    db.session.expire_all()
    assert target.mfa_enabled is False and target.mfa_secret is None


# --- RBAC on the API ------------------------------------------------------------------------------

def test_require_role_refuses_with_the_seed_body_and_audits(probe_app, ctx):
    app2 = probe_app()
    client = app2.test_client()
    with app2.app_context():
        user_for_role("PHARMACIST", email="p@exemple.tn")
        data = api_login(client, "p@exemple.tn")
    r = client.get("/api/v1/_probe/admin", headers=bearer(data["accessToken"]))
    assert r.status_code == 403
    assert r.get_json() == {"success": False, "error": {"code": "FORBIDDEN", "message": "Droits insuffisants pour cette action."}}
    r = client.get("/api/v1/_probe/admin")
    assert r.status_code == 401
    with app2.app_context():
        rows = audit_rows("authz.denied")
        assert len(rows) == 1 and rows[0].changes_json["role"] == "PHARMACIST"


def test_require_role_lets_the_right_roles_through(probe_app, ctx):
    app2 = probe_app()
    client = app2.test_client()
    with app2.app_context():
        agent = user_for_role("INSURER_AGENT", email="ag@exemple.tn", mfa=True)
        data = api_login(client, "ag@exemple.tn", user=agent)
    r = client.get("/api/v1/_probe/insurer", headers=bearer(data["accessToken"]))
    assert r.status_code == 200 and r.get_json()["data"] == {"probe": "insurer"}
    assert client.get("/api/v1/_probe/admin", headers=bearer(data["accessToken"])).status_code == 403


# --- Redis down: fail closed ---------------------------------------------------------------------

def test_redis_down_fails_closed_on_every_auth_call(app, ctx, client):
    user = user_for_role("PHARMACIST", email="r@exemple.tn")
    pair = api_login(client, "r@exemple.tn")
    web = app.test_client()
    fast_web_session(web, user)
    services = app.extensions["dhamen.services"]
    import redis

    good = services.redis
    services.redis = redis.Redis(host="127.0.0.1", port=9, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        for r in (
            _me(client, pair["accessToken"]),
            client.post(REFRESH, json={"refreshToken": pair["refreshToken"]}),
            client.post(LOGIN, json={"email": "r@exemple.tn", "password": PASSWORD}),
            client.post(LOGOUT, headers=bearer(pair["accessToken"])),
        ):
            assert r.status_code == 503, r.get_json()
            assert _error(r)["code"] == "SERVICE_UNAVAILABLE"
            assert "accessToken" not in r.get_data(as_text=True)
        page = web.get("/compte")
        assert page.status_code == 503
        assert "Service indisponible" in page.get_data(as_text=True)
    finally:
        services.redis = good
    assert _me(client, pair["accessToken"]).status_code == 200  # back when Redis is


def test_sessions_do_not_cross_channels(app, ctx, client):
    """A browser session id inside a (validly signed) JWT, or an API session id in the cookie, opens nothing."""
    user = user_for_role("PHARMACIST", email="x@exemple.tn")
    web = app.test_client()
    web_sid = fast_web_session(web, user)
    token = jwt.encode(_forge(app, user, web_sid), _settings(app).jwt_secret, algorithm="HS256")
    assert _me(client, token).status_code == 401
    _data, api_sid = _session_of(client, "x@exemple.tn")
    with web.session_transaction() as sess:
        sess["sid"] = api_sid
    assert web.get("/compte").status_code == 302


def test_redis_down_with_a_token_the_health_check_still_answers(app, ctx, client):
    import redis

    user_for_role("PHARMACIST", email="h@exemple.tn")
    pair = api_login(client, "h@exemple.tn")
    services = app.extensions["dhamen.services"]
    good = services.redis
    services.redis = redis.Redis(host="127.0.0.1", port=9, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        r = client.get("/api/v1/health", headers=bearer(pair["accessToken"]))
        assert r.status_code == 503 and r.get_json()["checks"]["cache"]["status"] == "error"
        r = _me(client, pair["accessToken"])
        assert r.status_code == 503 and _error(r)["code"] == "SERVICE_UNAVAILABLE"
    finally:
        services.redis = good
