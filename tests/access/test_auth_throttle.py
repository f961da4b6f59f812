"""Brute force and rate limits: login and MFA per account and per IP, API per token."""

from __future__ import annotations

import html
import time

import pytest
import time_machine
from auth_helpers import PASSWORD, bearer, fast_api_token, page_csrf, totp_code, user_for_role

from dhamen.access.auth import throttle

LOGIN = "/api/v1/auth/login"
VERIFY = "/api/v1/auth/mfa/verify"
ME = "/api/v1/auth/me"


def _login(client, email, password, ip="10.0.0.1"):
    return client.post(LOGIN, json={"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip})


def _assert_throttled(r, low=1, high=throttle.MAX_LOCK):
    assert r.status_code == 429, r.get_json()
    body = r.get_json()
    assert body["success"] is False and body["error"]["code"] == "RATE_LIMITED"
    retry = int(r.headers["Retry-After"])
    assert low <= retry <= high, retry
    assert body["error"]["details"]["retryAfter"] == retry
    return retry


@pytest.mark.parametrize("email", ["known@exemple.tn", "unknown@exemple.tn"])
def test_five_failures_lock_the_account_for_30_seconds(ctx, client, email):
    user_for_role("DOCTOR", email="known@exemple.tn")
    for _ in range(throttle.FREE_FAILURES):
        assert _login(client, email, "wrong-password-1").status_code == 401
    # Locked: even the right password waits (and the answer is the same for unknown emails).
    retry = _assert_throttled(_login(client, email, PASSWORD), 25, 30)
    assert retry > 20


def test_back_off_is_exponential_then_lets_the_real_user_in(ctx, client):
    user_for_role("DOCTOR", email="d@exemple.tn")
    for _ in range(throttle.FREE_FAILURES):
        _login(client, "d@exemple.tn", "wrong-password-1")
    waits = []
    t = time.time()
    for expected in (30, 60, 120):
        with time_machine.travel(t, tick=False):
            r = _login(client, "d@exemple.tn", "wrong-password-1")
            waits.append(_assert_throttled(r, expected - 2, expected))
        t += expected + 1
        with time_machine.travel(t, tick=False):
            assert _login(client, "d@exemple.tn", "wrong-password-1").status_code == 401
    assert waits == sorted(waits) and waits[-1] > 2 * waits[0]
    # Not a permanent lock: once the wait is over the real user gets in, and the counter resets.
    with time_machine.travel(t + 250, tick=False):
        assert _login(client, "d@exemple.tn", PASSWORD).status_code == 200
        for _ in range(throttle.FREE_FAILURES - 1):
            assert _login(client, "d@exemple.tn", "wrong-password-1").status_code == 401
        assert _login(client, "d@exemple.tn", PASSWORD).status_code == 200


def test_back_off_is_capped(ctx):
    key = throttle.account_key("login", "cap@exemple.tn")
    locks = [throttle.fail(key) for _ in range(40)]
    assert max(locks) == throttle.MAX_LOCK == 15 * 60
    assert 0 < throttle.retry_after(key) <= throttle.MAX_LOCK


def test_success_resets_the_account_counter(ctx, client):
    user_for_role("DOCTOR", email="d@exemple.tn")
    for _ in range(throttle.FREE_FAILURES - 1):
        _login(client, "d@exemple.tn", "wrong-password-1")
    assert _login(client, "d@exemple.tn", PASSWORD).status_code == 200
    for _ in range(throttle.FREE_FAILURES - 1):
        assert _login(client, "d@exemple.tn", "wrong-password-1").status_code == 401
    assert _login(client, "d@exemple.tn", PASSWORD).status_code == 200


def test_account_lock_holds_across_ips(ctx, client):
    user_for_role("DOCTOR", email="d@exemple.tn")
    for n in range(throttle.FREE_FAILURES):
        _login(client, "d@exemple.tn", "wrong-password-1", ip=f"10.1.0.{n}")
    _assert_throttled(_login(client, "d@exemple.tn", PASSWORD, ip="10.1.1.1"))


def test_ip_lock_holds_across_accounts_and_spares_other_ips(ctx, client):
    user_for_role("DOCTOR", email="victim@exemple.tn")
    for n in range(throttle.IP_FREE_FAILURES):
        _login(client, f"spray{n}@exemple.tn", "wrong-password-1", ip="10.2.0.1")
    _assert_throttled(_login(client, "victim@exemple.tn", PASSWORD, ip="10.2.0.1"))
    assert _login(client, "victim@exemple.tn", PASSWORD, ip="10.2.0.2").status_code == 200


def test_failed_attempts_of_one_account_do_not_lock_another(ctx, client):
    user_for_role("DOCTOR", email="a@exemple.tn")
    user_for_role("DOCTOR", email="b@exemple.tn")
    for _ in range(throttle.FREE_FAILURES):
        _login(client, "a@exemple.tn", "wrong-password-1")
    assert _login(client, "b@exemple.tn", PASSWORD, ip="10.0.0.1").status_code == 200


def test_throttle_keys_do_not_store_the_email(app, ctx, client):
    _login(client, "someone.secret@exemple.tn", "wrong-password-1")
    keys = [k.decode() for k in app.extensions["dhamen.services"].redis.scan_iter("thr:*")]
    assert keys and not any("someone" in k for k in keys)


def test_mfa_failures_lock_the_account(ctx, client):
    user = user_for_role("INSURER_AGENT", email="a@exemple.tn", mfa=True)
    failures = 0
    while failures < throttle.FREE_FAILURES:
        token = _login(client, "a@exemple.tn", PASSWORD).get_json()["data"]["mfaToken"]
        for _ in range(2):
            if failures < throttle.FREE_FAILURES:
                r = client.post(VERIFY, json={"mfaToken": token, "otpCode": "abcdef"},
                                environ_base={"REMOTE_ADDR": "10.0.0.1"})
                assert r.status_code == 401
                failures += 1
    token = _login(client, "a@exemple.tn", PASSWORD).get_json()["data"]["mfaToken"]
    r = client.post(VERIFY, json={"mfaToken": token, "otpCode": totp_code(user)})
    _assert_throttled(r, 1, 30)
    assert "accessToken" not in r.get_data(as_text=True)
    with time_machine.travel(time.time() + 31, tick=False):
        r = client.post(VERIFY, json={"mfaToken": token, "otpCode": totp_code(user)})
        assert r.status_code == 200


def test_mfa_failures_per_ip(ctx, client):
    users = [user_for_role("INSURER_AGENT", email=f"a{n}@exemple.tn", mfa=True) for n in range(6)]
    failures = 0
    for user in users:
        for _ in range(4):  # below the per-account threshold
            if failures == throttle.IP_FREE_FAILURES:
                break
            token = _login(client, user.email, PASSWORD, ip="10.9.0.1").get_json()["data"]["mfaToken"]
            client.post(VERIFY, json={"mfaToken": token, "otpCode": "abcdef"}, environ_base={"REMOTE_ADDR": "10.9.0.1"})
            failures += 1
    last = users[-1]
    token = _login(client, last.email, PASSWORD, ip="10.9.0.2").get_json()["data"]["mfaToken"]
    r = client.post(VERIFY, json={"mfaToken": token, "otpCode": totp_code(last)}, environ_base={"REMOTE_ADDR": "10.9.0.1"})
    _assert_throttled(r)


def test_portal_login_throttle_is_a_french_429_with_retry_after(ctx, client):
    user_for_role("DOCTOR", email="d@exemple.tn")
    for _ in range(throttle.FREE_FAILURES):
        token = page_csrf(client)
        client.post("/connexion", data={"email": "d@exemple.tn", "password": "wrong-password-1", "csrf_token": token})
    token = page_csrf(client)
    r = client.post("/connexion", data={"email": "d@exemple.tn", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 429
    assert 0 < int(r.headers["Retry-After"]) <= 30
    assert "Trop de tentatives" in html.unescape(r.get_data(as_text=True))


# --- request rate limits (Flask-Limiter) ---------------------------------------------------------

def test_login_endpoint_request_limit(app, ctx, client, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN", "3 per minute")
    for _ in range(3):
        assert client.post(LOGIN, json={"email": "x@exemple.tn", "password": "whatever-123"}).status_code in (401, 429)
    r = client.post(LOGIN, json={"email": "x@exemple.tn", "password": "whatever-123"})
    assert r.status_code == 429
    assert r.get_json()["success"] is False and r.get_json()["error"]["code"] == "RATE_LIMITED"
    assert int(r.headers["Retry-After"]) > 0


def test_api_is_limited_per_token_not_per_ip(app, ctx, client, monkeypatch):
    a, b = user_for_role("PHARMACIST"), user_for_role("PHARMACIST")
    token_a, token_b = fast_api_token(a), fast_api_token(b)
    monkeypatch.setitem(app.config, "RATELIMIT_API", "3 per minute")
    for _ in range(3):
        assert client.get(ME, headers=bearer(token_a)).status_code == 200
    r = client.get(ME, headers=bearer(token_a))
    assert r.status_code == 429
    assert r.get_json() == {"success": False, "error": {"code": "RATE_LIMITED",
                                                        "message": "Trop de requêtes, réessayez plus tard."}}
    assert int(r.headers["Retry-After"]) > 0
    # Same IP, another token: its own budget.
    assert client.get(ME, headers=bearer(token_b)).status_code == 200
    # The same token from another IP is still limited.
    assert client.get(ME, headers=bearer(token_a), environ_base={"REMOTE_ADDR": "10.5.5.5"}).status_code == 429


def test_anonymous_api_calls_are_limited_per_ip(app, ctx, client, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_API", "2 per minute")
    for _ in range(2):
        client.get(ME, environ_base={"REMOTE_ADDR": "10.7.0.1"})
    assert client.get(ME, environ_base={"REMOTE_ADDR": "10.7.0.1"}).status_code == 429
    assert client.get(ME, environ_base={"REMOTE_ADDR": "10.7.0.2"}).status_code == 401
