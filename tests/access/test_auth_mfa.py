"""Second factor: TOTP, recovery codes, SMS codes, enrolment, MFA policy per role."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import time

import pyotp
import pytest
from auth_helpers import (
    PASSWORD,
    SmsGateway,
    app_logs_fixture,  # noqa: F401
    audit_rows,
    bearer,
    csrf_from,
    fast_web_session,
    location_path,
    page_csrf,
    set_mfa_required,
    totp_code,
    user_for_role,
    web_login,
)
from sqlalchemy import select

from dhamen.access.auth import mfa

LOGIN = "/api/v1/auth/login"
VERIFY = "/api/v1/auth/mfa/verify"
SMS = "/api/v1/auth/mfa/sms"


class _User:
    def __init__(self, secret, last=None):
        self.mfa_secret, self.mfa_last_step = secret, last


# --- TOTP -----------------------------------------------------------------------------------

def test_secrets_are_random_160_bits():
    secrets_ = {mfa.new_secret() for _ in range(50)}
    assert len(secrets_) == 50
    for s in secrets_:
        assert len(s) == 32 and re.fullmatch(r"[A-Z2-7]+", s)


def test_totp_step_is_30_seconds_and_window_is_plus_minus_one():
    secret = mfa.new_secret()
    now = 1_800_000_015.0
    totp = pyotp.TOTP(secret)
    assert totp.interval == 30
    for delta, ok in ((-60, False), (-30, True), (0, True), (30, True), (60, False)):
        user = _User(secret)
        assert mfa.verify_totp(user, totp.at(now + delta), now=now) is ok, delta


def test_each_code_is_usable_once_and_older_steps_are_refused_after():
    secret = mfa.new_secret()
    now = 1_800_000_015.0
    totp = pyotp.TOTP(secret)
    user = _User(secret)
    assert mfa.verify_totp(user, totp.at(now), now=now)
    assert user.mfa_last_step == int(now // 30)
    assert not mfa.verify_totp(user, totp.at(now), now=now)  # replay
    assert not mfa.verify_totp(user, totp.at(now - 30), now=now)  # older step
    assert mfa.verify_totp(user, totp.at(now + 30), now=now)  # a later step passes once


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12 34 5", None])
def test_malformed_codes_are_refused(code):
    assert not mfa.verify_totp(_User(mfa.new_secret()), code)


def test_no_secret_means_no_totp():
    assert not mfa.verify_totp(_User(None), "123456")


def test_provisioning_uri_and_qr():
    uri = mfa.provisioning_uri("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "a@b.tn")
    assert uri.startswith("otpauth://totp/Dhamen:a%40b.tn?") and "issuer=Dhamen" in uri
    assert mfa.qr_data_uri(uri).startswith("data:image/svg+xml")


# --- recovery codes ----------------------------------------------------------------------------

def test_recovery_codes_are_ten_random_and_stored_hashed(ctx):
    from dhamen.extensions import db
    from dhamen.models import RecoveryCode

    user = user_for_role("DOCTOR")
    codes = mfa.new_recovery_codes(user)
    db.session.commit()
    assert len(codes) == len(set(codes)) == 10
    for code in codes:
        assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    stored = db.session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all()
    assert len(stored) == 10
    for code in codes:
        assert code not in stored and code.replace("-", "") not in stored
    assert hashlib.sha256(codes[0].replace("-", "").encode()).hexdigest() in stored


def test_recovery_code_is_single_use_and_format_tolerant(ctx):
    from dhamen.extensions import db

    user = user_for_role("DOCTOR")
    codes = mfa.new_recovery_codes(user)
    db.session.commit()
    assert mfa.use_recovery_code(user, codes[0].lower().replace("-", " "))
    db.session.commit()
    assert not mfa.use_recovery_code(user, codes[0])
    assert mfa.remaining_recovery_codes(user) == 9
    assert not mfa.use_recovery_code(user, "AAAA-BBBB-CCCC")


def test_regenerating_recovery_codes_voids_the_old_ones(ctx):
    from dhamen.extensions import db

    user = user_for_role("DOCTOR")
    old = mfa.new_recovery_codes(user)
    db.session.commit()
    new = mfa.new_recovery_codes(user)
    db.session.commit()
    assert not set(old) & set(new)
    assert not mfa.use_recovery_code(user, old[1])
    assert mfa.use_recovery_code(user, new[1])


def test_recovery_code_logs_in_through_the_api_once(ctx, client):
    from dhamen.extensions import db

    user = user_for_role("INSURER_ADMIN", email="ia@exemple.tn", mfa=True)
    codes = mfa.new_recovery_codes(user)
    db.session.commit()
    token = client.post(LOGIN, json={"email": "ia@exemple.tn", "password": PASSWORD}).get_json()["data"]["mfaToken"]
    r = client.post(VERIFY, json={"mfaToken": token, "otpCode": codes[3]})
    assert r.status_code == 200 and "accessToken" in r.get_json()["data"]
    token = client.post(LOGIN, json={"email": "ia@exemple.tn", "password": PASSWORD}).get_json()["data"]["mfaToken"]
    assert client.post(VERIFY, json={"mfaToken": token, "otpCode": codes[3]}).status_code == 401
    assert audit_rows("auth.mfa_verified")[0].changes_json == {"method": "recovery_code"}


# --- replays across requests ----------------------------------------------------------------

def _mfa_token(client, email):
    r = client.post(LOGIN, json={"email": email, "password": PASSWORD})
    return r.get_json()["data"]["mfaToken"]


def test_totp_code_is_refused_the_second_time_across_logins(ctx, client):
    user = user_for_role("INSURER_AGENT", email="a@exemple.tn", mfa=True)
    code = totp_code(user)
    assert client.post(VERIFY, json={"mfaToken": _mfa_token(client, "a@exemple.tn"), "otpCode": code}).status_code == 200
    r = client.post(VERIFY, json={"mfaToken": _mfa_token(client, "a@exemple.tn"), "otpCode": code})
    assert r.status_code == 401


def test_concurrent_replay_of_a_totp_code_is_refused(ctx, client):
    """Two requests that both read the user before either stored the step: Redis decides."""
    from dhamen.extensions import db

    user = user_for_role("INSURER_AGENT", email="a@exemple.tn", mfa=True)
    first, second = _mfa_token(client, "a@exemple.tn"), _mfa_token(client, "a@exemple.tn")
    code = totp_code(user)
    assert client.post(VERIFY, json={"mfaToken": first, "otpCode": code}).status_code == 200
    user.mfa_last_step = None  # as the second request saw the row
    db.session.commit()
    r = client.post(VERIFY, json={"mfaToken": second, "otpCode": code})
    assert r.status_code == 401
    assert "accessToken" not in r.get_data(as_text=True)


# --- SMS -------------------------------------------------------------------------------------------

@pytest.fixture
def gateway(app, monkeypatch):
    gw = SmsGateway()
    settings = dataclasses.replace(app.config["DHAMEN"], sms_sender="http", sms_api_url=gw.url,
                                   sms_api_token="gw-token")
    monkeypatch.setitem(app.config, "DHAMEN", settings)
    yield gw
    gw.close()


def test_sender_is_chosen_by_configuration(app):
    settings = app.config["DHAMEN"]
    assert mfa.sms_sender(settings).name == "log"  # development default
    http = mfa.sms_sender(dataclasses.replace(settings, sms_sender="http", sms_api_url="https://sms.example/send"))
    assert isinstance(http, mfa.HttpSmsSender) and http.name == "http" and http.url == "https://sms.example/send"


def test_sms_code_through_the_http_gateway_logs_in(ctx, client, gateway):
    user_for_role("INSURER_AGENT", email="a@exemple.tn", mfa=True, phone="+216 20 123 456")
    r = client.post(LOGIN, json={"email": "a@exemple.tn", "password": PASSWORD})
    data = r.get_json()["data"]
    assert data["smsAvailable"] is True
    r = client.post(SMS, json={"mfaToken": data["mfaToken"]})
    assert r.status_code == 200, r.get_json()
    assert len(gateway.requests) == 1
    sent = gateway.requests[0]
    assert sent["auth"] == "Bearer gw-token" and sent["type"] == "application/json"
    assert sent["json"]["to"] == "+216 20 123 456"
    code = re.search(r"\b(\d{6})\b", sent["json"]["text"]).group(1)
    # A second code within a minute is refused (no SMS flooding).
    assert client.post(SMS, json={"mfaToken": data["mfaToken"]}).status_code == 400
    assert len(gateway.requests) == 1
    wrong = "000000" if code != "000000" else "111111"
    assert client.post(VERIFY, json={"mfaToken": data["mfaToken"], "otpCode": wrong}).status_code == 401
    r = client.post(VERIFY, json={"mfaToken": data["mfaToken"], "otpCode": code})
    assert r.status_code == 200 and "accessToken" in r.get_json()["data"]
    assert audit_rows("auth.mfa_verified")[-1].changes_json == {"method": "sms"}
    # The code is stored hashed only, and dies with its token.
    assert client.post(VERIFY, json={"mfaToken": data["mfaToken"], "otpCode": code}).status_code == 401


def test_sms_code_expires_with_its_token(ctx, client, gateway):
    import time_machine

    user_for_role("INSURER_AGENT", email="a@exemple.tn", mfa=True, phone="+216 20 123 456")
    token = _mfa_token(client, "a@exemple.tn")
    client.post(SMS, json={"mfaToken": token})
    code = re.search(r"\b(\d{6})\b", gateway.requests[0]["json"]["text"]).group(1)
    with time_machine.travel(time.time() + 301, tick=False):
        assert client.post(VERIFY, json={"mfaToken": token, "otpCode": code}).status_code == 401


def test_sms_needs_a_phone(ctx, client, gateway):
    user_for_role("INSURER_AGENT", email="a@exemple.tn", mfa=True)
    token = _mfa_token(client, "a@exemple.tn")
    r = client.post(SMS, json={"mfaToken": token})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "SMS_NOT_SENT"
    assert gateway.requests == []


def test_development_sender_logs_the_code(ctx, client, app_logs):
    user_for_role("INSURER_AGENT", email="a@exemple.tn", mfa=True, phone="+216 20 123 456")
    token = _mfa_token(client, "a@exemple.tn")
    assert client.post(SMS, json={"mfaToken": token}).status_code == 200
    records = [r for r in app_logs.records if r.name == "dhamen.sms"]
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    code = re.search(r"\b(\d{6})\b", records[0].getMessage()).group(1)
    assert client.post(VERIFY, json={"mfaToken": token, "otpCode": code}).status_code == 200


def test_log_sender_is_refused_outside_development():
    from dhamen.config import ConfigError, load_config

    env = {"ENVIRONMENT": "production", "SECRET_KEY": "s" * 40, "JWT_SECRET": "j" * 40,
           "DATABASE_URL": "sqlite:////tmp/x.db", "REDIS_URL": "redis://127.0.0.1:6379/0",
           "DATA_ENCRYPTION_KEY": "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=",
           "LOOKUP_HMAC_KEY": "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=", "STORAGE_URL": "file:///tmp/st",
           "SMTP_HOST": "smtp.example", "MAIL_FROM": "Dhamen <no-reply@dhamen.tn>", "PUBLIC_BASE_URL": "https://dhamen.example",}
    with pytest.raises(ConfigError, match="SMS"):
        load_config(dict(env, SMS_SENDER="log"))
    with pytest.raises(ConfigError, match="SMS_API_URL"):
        load_config(env)
    assert load_config(dict(env, SMS_API_URL="https://sms.example/send")).sms_sender == "http"


# --- enrolment page ----------------------------------------------------------------------------

def _session_data(app, client) -> dict:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    if cookie is None:
        return {}
    return app.session_interface.get_signing_serializer(app).loads(cookie.value)


def _enrol_page(client):
    r = client.get("/compte/mfa")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', html).group(1)
    return html, secret


def test_enrolment_shows_qr_checks_first_code_and_shows_ten_codes_once(app, ctx):
    from dhamen.extensions import db
    from dhamen.models import RecoveryCode

    user = user_for_role("DOCTOR", email="d@exemple.tn")
    client = app.test_client()
    fast_web_session(client, user)
    html, secret = _enrol_page(client)
    assert 'src="data:image/svg+xml' in html
    assert secret not in json.dumps(_session_data(app, client)), "the TOTP secret must not ride in the cookie"

    token = page_csrf(client, "/compte")
    r = client.post("/compte/mfa", data={"code": "000000" if pyotp.TOTP(secret).now() != "000000" else "111111",
                                         "csrf_token": token})
    assert r.status_code == 422
    assert "Code incorrect" in r.get_data(as_text=True)
    db.session.expire_all()
    assert user.mfa_enabled is False and user.mfa_secret is None

    r = client.post("/compte/mfa", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    assert r.status_code == 302 and location_path(r) == "/compte/codes-de-secours"
    session_dump = json.dumps(_session_data(app, client))
    page = client.get("/compte/codes-de-secours").get_data(as_text=True)
    codes = re.findall(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", page)
    assert len(set(codes)) == 10
    for code in codes:
        assert code not in session_dump, "recovery codes must not ride in the cookie"
    stored = set(db.session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)))
    assert len(stored) == 10 and not stored & set(codes)
    # Shown once only.
    again = client.get("/compte/codes-de-secours")
    assert again.status_code == 302
    assert not re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", client.get("/compte").get_data(as_text=True))
    db.session.expire_all()
    assert user.mfa_enabled is True and user.mfa_secret == secret
    assert audit_rows("auth.mfa_enabled")[0].user_id == user.id


def test_enrolment_secret_is_bound_to_its_user(app, ctx):
    """A stashed secret reference replayed in another user's session is worthless."""
    a, b = user_for_role("DOCTOR"), user_for_role("DOCTOR")
    ca, cb = app.test_client(), app.test_client()
    fast_web_session(ca, a)
    fast_web_session(cb, b)
    _html, secret_a = _enrol_page(ca)
    ref = _session_data(app, ca)["mfa_enrol_ref"]
    _enrol_page(cb)
    with cb.session_transaction() as sess:
        sess["mfa_enrol_ref"] = ref
    token = page_csrf(cb, "/compte")
    r = cb.post("/compte/mfa", data={"code": pyotp.TOTP(secret_a).now(), "csrf_token": token})
    assert r.status_code == 422


def test_regenerated_codes_are_shown_once(app, ctx):
    from dhamen.extensions import db

    user = user_for_role("DOCTOR", mfa=True)
    old = mfa.new_recovery_codes(user)
    db.session.commit()
    client = app.test_client()
    fast_web_session(client, user)
    token = page_csrf(client, "/compte")
    r = client.post("/compte/codes-de-secours", data={"csrf_token": token})
    assert r.status_code == 302
    page = client.get("/compte/codes-de-secours").get_data(as_text=True)
    codes = re.findall(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", page)
    assert len(set(codes)) == 10 and not set(codes) & set(old)
    assert client.get("/compte/codes-de-secours").status_code == 302
    assert audit_rows("auth.recovery_codes_regenerated")


def test_forced_enrolment_at_login_for_a_role_that_requires_mfa(app, ctx):
    from dhamen.access.roles import home_endpoint

    user_for_role("ADMIN", email="adm@exemple.tn")
    client = app.test_client()
    r = web_login(client, "adm@exemple.tn")
    assert r.status_code == 302 and location_path(r) == "/compte/mfa"
    assert client.get("/compte").status_code == 302, "not signed in before the second factor"
    html, secret = _enrol_page(client)
    assert "Votre rôle exige la double authentification" in html
    token = csrf_from(html)
    r = client.post("/compte/mfa", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    assert r.status_code == 302 and location_path(r) == "/compte/codes-de-secours"
    assert client.get("/compte/codes-de-secours").status_code == 200
    r = client.get("/")
    with app.test_request_context():
        from flask import url_for

        assert location_path(r) == url_for(home_endpoint("ADMIN"))
    assert client.get(location_path(r)).status_code == 200
    rows = audit_rows("auth.login")
    assert rows[-1].changes_json == {"channel": "web", "mfa": "totp_enrolment"}


def test_pending_enrolment_without_password_step_goes_to_login(app, ctx):
    client = app.test_client()
    r = client.get("/compte/mfa")
    assert r.status_code == 302 and location_path(r) == "/connexion"


# --- MFA policy per role ------------------------------------------------------------------------

def test_default_mfa_roles_are_admin_and_insurer_roles(ctx):
    assert mfa.required_roles() == {"ADMIN", "INSURER_ADMIN", "INSURER_AGENT"}


def test_admin_can_require_mfa_per_role(app, ctx, client):
    admin = user_for_role("ADMIN", mfa=True)
    user_for_role("PHARMACIST", email="ph@exemple.tn")
    user_for_role("INSURER_AGENT", email="ag@exemple.tn")
    # Before: the pharmacist logs straight in, the agent must enrol.
    assert "accessToken" in client.post(LOGIN, json={"email": "ph@exemple.tn", "password": PASSWORD}).get_json()["data"]
    assert client.post(LOGIN, json={"email": "ag@exemple.tn", "password": PASSWORD}).status_code == 403

    admin_client = app.test_client()
    fast_web_session(admin_client, admin)
    page = admin_client.get("/admin/").get_data(as_text=True)
    token = page_csrf(admin_client, "/admin/")
    assert 'value="INSURER_AGENT" checked' in page
    r = admin_client.post("/admin/mfa-roles", data={"csrf_token": token, "roles": ["ADMIN", "PHARMACIST"]})
    assert r.status_code == 303
    assert mfa.required_roles() == {"ADMIN", "PHARMACIST"}
    r = client.post(LOGIN, json={"email": "ph@exemple.tn", "password": PASSWORD})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "MFA_ENROLMENT_REQUIRED"
    assert "accessToken" in client.post(LOGIN, json={"email": "ag@exemple.tn", "password": PASSWORD}).get_json()["data"]
    row = audit_rows("settings.mfa_required_roles")[0]
    assert row.changes_json["after"] == ["ADMIN", "PHARMACIST"] and row.user_id == admin.id


def test_only_admins_set_the_mfa_policy(app, ctx):
    user = user_for_role("INSURER_ADMIN", mfa=True)
    client = app.test_client()
    fast_web_session(client, user)
    token = page_csrf(client, "/compte")
    r = client.post("/admin/mfa-roles", data={"csrf_token": token, "roles": ["ADMIN"]})
    assert r.status_code == 403
    assert mfa.required_roles() == {"ADMIN", "INSURER_ADMIN", "INSURER_AGENT"}


def test_unknown_role_in_policy_is_refused(app, ctx):
    admin = user_for_role("ADMIN", mfa=True)
    client = app.test_client()
    fast_web_session(client, admin)
    token = page_csrf(client, "/admin/")
    client.post("/admin/mfa-roles", data={"csrf_token": token, "roles": ["ADMIN", "ROOT"]})
    assert mfa.required_roles() == {"ADMIN", "INSURER_ADMIN", "INSURER_AGENT"}


def test_mfa_policy_change_applies_to_logged_in_user_next_login_only(ctx, client):
    set_mfa_required(["ADMIN"])
    user_for_role("INSURER_AGENT", email="ag@exemple.tn")
    data = client.post(LOGIN, json={"email": "ag@exemple.tn", "password": PASSWORD}).get_json()["data"]
    assert client.get("/api/v1/auth/me", headers=bearer(data["accessToken"])).status_code == 200


# --- the password alone never gets past the second factor ----------------------------------------

def test_password_alone_cannot_enrol_a_new_authenticator(app, ctx):
    """An enrolled user's pending challenge must not open the enrolment page (MFA bypass)."""
    from dhamen.extensions import db

    user = user_for_role("INSURER_AGENT", email="a@exemple.tn", mfa=True)
    original = user.mfa_secret
    client = app.test_client()
    r = client.post("/connexion", data={"email": "a@exemple.tn", "password": PASSWORD,
                                        "csrf_token": page_csrf(client)})
    assert location_path(r) == "/connexion/mfa"
    r = client.get("/compte/mfa")
    assert r.status_code == 302 and location_path(r) == "/connexion/mfa"
    attacker_secret = mfa.new_secret()
    r = client.post("/compte/mfa", data={"code": pyotp.TOTP(attacker_secret).now(),
                                         "csrf_token": page_csrf(client, "/connexion")})
    assert r.status_code == 302 and location_path(r) != "/compte/codes-de-secours"
    assert client.get("/compte").status_code == 302
    db.session.expire_all()
    assert user.mfa_secret == original
    assert not audit_rows("auth.mfa_enabled") and not audit_rows("auth.login")


def test_signed_in_user_cannot_replace_the_authenticator(app, ctx):
    from dhamen.extensions import db

    user = user_for_role("DOCTOR", mfa=True)
    original = user.mfa_secret
    client = app.test_client()
    fast_web_session(client, user)
    r = client.get("/compte/mfa")
    assert r.status_code == 302 and location_path(r) == "/compte"
    assert "déjà activée" in client.get("/compte").get_data(as_text=True)
    r = client.post("/compte/mfa", data={"code": "123456", "csrf_token": page_csrf(client, "/compte")})
    assert r.status_code == 302
    db.session.expire_all()
    assert user.mfa_secret == original


def test_enrolment_token_does_not_pass_the_challenge(app, ctx, gateway):
    """A user who must enrol cannot skip enrolment through the challenge or the API."""
    user_for_role("ADMIN", email="adm@exemple.tn", phone="+216 20 111 222")
    client = app.test_client()
    r = client.post("/connexion", data={"email": "adm@exemple.tn", "password": PASSWORD,
                                        "csrf_token": page_csrf(client)})
    assert location_path(r) == "/compte/mfa"
    token = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    token = app.session_interface.get_signing_serializer(app).loads(token.value)["mfa_token"]
    r = client.get("/connexion/mfa")
    assert location_path(r) == "/compte/mfa"
    assert client.post(SMS, json={"mfaToken": token}).status_code == 400
    assert gateway.requests == []
    assert client.post(VERIFY, json={"mfaToken": token, "otpCode": "123456"}).status_code == 401


def test_sms_gateway_failure_is_a_clear_answer_not_a_500(app, ctx, client, monkeypatch):
    settings = dataclasses.replace(app.config["DHAMEN"], sms_sender="http", sms_api_url="http://127.0.0.1:9/sms")
    monkeypatch.setitem(app.config, "DHAMEN", settings)
    user_for_role("INSURER_AGENT", email="a@exemple.tn", mfa=True, phone="+216 20 123 456")
    token = _mfa_token(client, "a@exemple.tn")
    r = client.post(SMS, json={"mfaToken": token})
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == "SMS_NOT_SENT" and "échoué" in r.get_json()["error"]["message"]
    assert audit_rows("auth.mfa_sms_failed")[0].changes_json == {"sender": "http"}
    # A retry is allowed at once (the one-a-minute guard only counts SMS really sent).
    r = client.post(SMS, json={"mfaToken": token})
    assert "échoué" in r.get_json()["error"]["message"]


def test_portal_sms_code_signs_in(app, ctx, gateway):
    from dhamen.access.roles import home_endpoint

    user_for_role("INSURER_AGENT", email="a@exemple.tn", mfa=True, phone="+216 20 123 456")
    client = app.test_client()
    r = client.post("/connexion", data={"email": "a@exemple.tn", "password": PASSWORD,
                                        "csrf_token": page_csrf(client)})
    page = client.get("/connexion/mfa").get_data(as_text=True)
    assert "Recevoir un code par SMS" in page
    r = client.post("/connexion/mfa/sms", data={"csrf_token": csrf_from(page)})
    assert r.status_code == 302 and location_path(r) == "/connexion/mfa"
    page = client.get("/connexion/mfa").get_data(as_text=True)
    assert "Code envoyé par SMS." in page
    code = re.search(r"\b(\d{6})\b", gateway.requests[0]["json"]["text"]).group(1)
    r = client.post("/connexion/mfa", data={"code": code, "csrf_token": csrf_from(page)})
    with app.test_request_context():
        from flask import url_for

        assert location_path(r) == url_for(home_endpoint("INSURER_AGENT"))
    assert client.get("/compte").status_code == 200
    assert client.post("/connexion/mfa/sms").status_code == 400  # CSRF
