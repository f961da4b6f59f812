"""Audit of authentication events (SECURITY.md: Audit and logs).

One row per event with who, organisation, action, IP and user agent; never a
password, OTP, token or secret in a row or in the logs.
"""

from __future__ import annotations

import dataclasses
import re

from auth_helpers import (
    PASSWORD,
    SmsGateway,
    audit_dump,
    audit_rows,
    bearer,
    csrf_from,
    fast_web_session,
    page_csrf,
    totp_code,
    user_for_role,
)

from dhamen.access.auth import mfa

IP = "10.20.30.40"
UA = "DhamenAuditTest/1.0 (pytest)"
ENV = {"REMOTE_ADDR": IP, "HTTP_USER_AGENT": UA}


def _row(action: str, **match):
    rows = [r for r in audit_rows(action) if all(getattr(r, k) == v for k, v in match.items())]
    assert rows, f"no audit row {action} {match}"
    return rows[-1]


def _who_where(row, user=None):
    assert row.ip_address == IP
    assert row.user_agent == UA
    assert row.created_at is not None and row.created_at.utcoffset().total_seconds() == 0
    if user is not None:
        assert row.user_id == user.id
        assert row.insurer_id == user.insurer_id and row.provider_id == user.provider_id


def test_every_auth_event_is_audited_with_ip_and_user_agent_and_no_secret(app, ctx, world, app_logs,
                                                                          monkeypatch):
    from dhamen.extensions import db

    secrets_seen: list[str] = [PASSWORD]
    gateway = SmsGateway()
    monkeypatch.setitem(app.config, "DHAMEN", dataclasses.replace(
        app.config["DHAMEN"], sms_sender="http", sms_api_url=gateway.url, sms_api_token="gw-secret-token"))
    secrets_seen.append("gw-secret-token")
    try:
        agent = world.users["INSURER_AGENT"]
        agent.mfa_secret, agent.mfa_enabled, agent.phone = mfa.new_secret(), True, "+216 20 999 888"
        codes = mfa.new_recovery_codes(agent)
        db.session.commit()
        secrets_seen += [agent.mfa_secret, *codes]
        api = app.test_client()
        api.environ_base.update(ENV)

        # Failed logins: unknown email, wrong password.
        api.post("/api/v1/auth/login", json={"email": "ghost@exemple.tn", "password": "Ghost-password-991"})
        api.post("/api/v1/auth/login", json={"email": agent.email, "password": "Wrong-password-992"})
        secrets_seen += ["Ghost-password-991", "Wrong-password-992"]
        row = _row("auth.login_failed", entity_id="ghost@exemple.tn")
        _who_where(row)
        assert row.changes_json == {"email": "ghost@exemple.tn", "reason": "unknown_email"}
        row = _row("auth.login_failed", entity_id=agent.id)
        _who_where(row, agent)
        assert row.changes_json["reason"] == "bad_password"

        # MFA: a wrong code, an SMS, then a right TOTP code.
        data = api.post("/api/v1/auth/login", json={"email": agent.email, "password": PASSWORD}).get_json()["data"]
        secrets_seen.append(data["mfaToken"])
        _who_where(_row("auth.password_ok_mfa_pending"), agent)
        api.post("/api/v1/auth/mfa/verify", json={"mfaToken": data["mfaToken"], "otpCode": "482913"})
        _who_where(_row("auth.mfa_failed"), agent)
        api.post("/api/v1/auth/mfa/sms", json={"mfaToken": data["mfaToken"]})
        sms_code = re.search(r"\b(\d{6})\b", gateway.requests[0]["json"]["text"]).group(1)
        secrets_seen.append(sms_code)
        _who_where(_row("auth.mfa_sms_sent"), agent)
        code = totp_code(agent)
        secrets_seen.append(code)
        pair = api.post("/api/v1/auth/mfa/verify", json={"mfaToken": data["mfaToken"], "otpCode": code}
                        ).get_json()["data"]
        secrets_seen += [pair["accessToken"], pair["refreshToken"]]
        row = _row("auth.mfa_verified")
        _who_where(row, agent)
        assert row.changes_json == {"method": "totp"}
        row = _row("auth.login", user_id=agent.id)
        _who_where(row, agent)
        assert row.changes_json == {"channel": "api", "mfa": "totp"}

        # Recovery code login.
        data2 = api.post("/api/v1/auth/login", json={"email": agent.email, "password": PASSWORD}).get_json()["data"]
        secrets_seen.append(data2["mfaToken"])
        pair2 = api.post("/api/v1/auth/mfa/verify", json={"mfaToken": data2["mfaToken"], "otpCode": codes[0]}
                         ).get_json()["data"]
        secrets_seen += [pair2["accessToken"], pair2["refreshToken"]]
        assert _row("auth.mfa_verified").changes_json == {"method": "recovery_code"}

        # Refresh rotation, then reuse of the old refresh token.
        rotated = api.post("/api/v1/auth/refresh", json={"refreshToken": pair["refreshToken"]}).get_json()["data"]
        secrets_seen += [rotated["accessToken"], rotated["refreshToken"]]
        api.post("/api/v1/auth/refresh", json={"refreshToken": pair["refreshToken"]})
        _who_where(_row("auth.refresh_reuse"), agent)

        # API logout.
        api.post("/api/v1/auth/logout", headers=bearer(pair2["accessToken"]),
                 json={"refreshToken": pair2["refreshToken"]})
        row = _row("auth.logout", user_id=agent.id)
        _who_where(row, agent)
        assert row.changes_json == {"channel": "api"}

        # Portal: a pharmacist changes password, then logs in again and out.
        ph = world.users["PHARMACIST"]
        web = app.test_client()
        web.environ_base.update(ENV)
        token = page_csrf(web)
        web.post("/connexion", data={"email": ph.email, "password": PASSWORD, "csrf_token": token})
        row = _row("auth.login", user_id=ph.id)
        _who_where(row, ph)
        assert row.changes_json == {"channel": "web"}
        new_password = "Nouveau-mot-de-passe-secret-7731"
        secrets_seen.append(new_password)
        token = page_csrf(web, "/compte/mot-de-passe")
        web.post("/compte/mot-de-passe", data={"current": "Wrong-current-993", "new": new_password,
                                               "confirm": new_password, "csrf_token": token})
        secrets_seen.append("Wrong-current-993")
        _who_where(_row("auth.password_change_failed"), ph)
        web.post("/compte/mot-de-passe", data={"current": PASSWORD, "new": new_password, "confirm": new_password,
                                               "csrf_token": token})
        _who_where(_row("auth.password_change"), ph)
        token = page_csrf(web)
        web.post("/connexion", data={"email": ph.email, "password": new_password, "csrf_token": token})
        web.post("/deconnexion", data={"csrf_token": page_csrf(web, "/compte")})
        row = _row("auth.logout", user_id=ph.id)
        _who_where(row, ph)

        # Admin actions: role change, deactivation, MFA reset, password reset, MFA policy; a refused access.
        admin = app.test_client()
        admin.environ_base.update(ENV)
        fast_web_session(admin, world.admin)
        token = page_csrf(admin, "/admin/")
        doc, lab = world.users["DOCTOR"], world.users["LAB_MANAGER"]
        admin.post(f"/admin/utilisateurs/{world.users['INSURER_ADMIN'].id}/role",
                   data={"csrf_token": token, "role": "INSURER_AGENT"})
        admin.post(f"/admin/utilisateurs/{doc.id}/desactiver", data={"csrf_token": token})
        admin.post(f"/admin/utilisateurs/{agent.id}/reinitialiser-mfa", data={"csrf_token": token})
        reset_password = "Mot-de-passe-reinitialise-5521"
        secrets_seen.append(reset_password)
        admin.post(f"/admin/utilisateurs/{lab.id}/mot-de-passe", data={"csrf_token": token,
                                                                       "password": reset_password})
        admin.post("/admin/mfa-roles", data={"csrf_token": token, "roles": ["ADMIN"]})
        for action, entity in (("user.role_change", world.users["INSURER_ADMIN"].id), ("user.deactivate", doc.id),
                               ("user.mfa_reset", agent.id), ("user.password_reset", lab.id),
                               ("settings.mfa_required_roles", "mfa_required_roles")):
            _who_where(_row(action, entity_id=entity), world.admin)
        denied = app.test_client()
        denied.environ_base.update(ENV)
        fast_web_session(denied, world.users["CLINIC_ADMIN"])
        denied.get("/admin/")
        _who_where(_row("authz.denied"), world.users["CLINIC_ADMIN"])
    finally:
        gateway.close()

    dump = audit_dump()
    for secret in secrets_seen:
        assert secret not in dump, f"secret found in the audit log: {secret[:6]}…"
    logs = "\n".join(f"{r.name} {r.getMessage()}" for r in app_logs.records)
    for secret in secrets_seen:
        assert secret not in logs, f"secret found in the logs: {secret[:6]}…"


def test_enrolment_events_are_audited_without_the_secret(app, ctx, app_logs):
    import pyotp

    user = user_for_role("DOCTOR")
    client = app.test_client()
    client.environ_base.update(ENV)
    fast_web_session(client, user)
    page = client.get("/compte/mfa").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    token = csrf_from(page)
    client.post("/compte/mfa", data={"code": "000000" if pyotp.TOTP(secret).now() != "000000" else "111111",
                                     "csrf_token": token})
    _who_where(_row("auth.mfa_enrolment_failed"), user)
    client.post("/compte/mfa", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    _who_where(_row("auth.mfa_enabled"), user)
    codes = re.findall(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}",
                       client.get("/compte/codes-de-secours").get_data(as_text=True))
    assert len(codes) == 10
    dump = audit_dump()
    logs = "\n".join(r.getMessage() for r in app_logs.records)
    for s in (secret, *codes):
        assert s not in dump and s not in logs


def test_throttled_login_is_audited(ctx, client):
    from dhamen.access.auth import throttle

    user_for_role("DOCTOR", email="d@exemple.tn")
    for _ in range(throttle.FREE_FAILURES + 1):
        client.post("/api/v1/auth/login", json={"email": "d@exemple.tn", "password": "Wrong-password-1"},
                    environ_base=ENV)
    row = _row("auth.login_throttled")
    assert row.ip_address == IP and row.user_agent == UA


def test_password_typed_into_the_email_field_is_not_audited(ctx, client):
    client.post("/api/v1/auth/login", json={"email": "MonMotDePasse-Secret", "password": "x" * 12})
    assert "MonMotDePasse-Secret" not in audit_dump()
