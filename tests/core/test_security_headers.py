"""Security headers, cookies outside development, CSRF on every form, no inline script."""

from __future__ import annotations

import base64
import re
import secrets
from pathlib import Path

import pytest
from auth_helpers import PASSWORD, csrf_from, fast_web_session, user_for_role

from dhamen.core.security import CSP

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: " ".join(part.split()[1:]) for part in policy.split(";") if part.strip()}


def _check_headers(r):
    csp = _csp(r)
    assert csp["frame-ancestors"] == "'none'"
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'"
    assert csp["object-src"] == "'none'"
    assert csp["base-uri"] == "'none'"
    assert "unsafe-inline" not in r.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] in ("same-origin", "no-referrer", "strict-origin-when-cross-origin")


@pytest.mark.parametrize("path", ["/", "/connexion", "/nulle-part", "/api/v1/health", "/api/v1/auth/me",
                                  "/static/js/app.js"])
def test_security_headers_everywhere(client, path):
    r = client.get(path)
    _check_headers(r)


def test_no_hsts_in_development(client):
    assert "Strict-Transport-Security" not in client.get("/connexion").headers


def test_auth_and_api_answers_are_not_cached(client):
    assert client.get("/connexion").headers["Cache-Control"] == "no-store"
    assert client.get("/api/v1/auth/me").headers["Cache-Control"] == "no-store"


def test_signed_in_pages_carry_the_headers(ctx, client):
    fast_web_session(client, user_for_role("ADMIN"))  # not enrolled yet: /compte/mfa shows the enrolment
    for path in ("/admin/", "/compte", "/compte/mfa"):
        r = client.get(path)
        assert r.status_code == 200
        _check_headers(r)


def test_no_retry_after_on_ordinary_answers(client):
    assert "Retry-After" not in client.get("/connexion").headers
    assert "Retry-After" not in client.post("/api/v1/auth/login", json={}).headers


# --- no inline script or style (the CSP forbids them) ----------------------------------------

INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "inline event handler"),
    (re.compile(r"\sstyle\s*=", re.I), "inline style attribute"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
    (re.compile(r"hx-on", re.I), "hx-on handler (evaluated inline)"),
]


def _inline_problems(text: str) -> list[str]:
    return [label for pattern, label in INLINE if pattern.search(text)]


def test_templates_have_no_inline_script_or_style():
    problems = {}
    for path in TEMPLATES.rglob("*.html"):
        found = _inline_problems(path.read_text(encoding="utf-8"))
        if found:
            problems[str(path.relative_to(TEMPLATES))] = found
    assert problems == {}


def test_rendered_pages_have_no_inline_script_or_style(ctx, client):
    pages = [client.get("/connexion"), client.get("/")]
    fast_web_session(client, user_for_role("ADMIN"))
    pages += [client.get(p) for p in ("/admin/", "/admin/utilisateurs/nouveau", "/compte", "/compte/mfa",
                                      "/compte/mot-de-passe")]
    assert all(r.status_code == 200 for r in pages[2:])
    for r in pages:
        assert _inline_problems(r.get_data(as_text=True)) == [], r.request.path


# --- CSRF on every form and every cookie-authenticated state change -------------------------------

FORM = re.compile(r"<form\b[^>]*>(.*?)</form>", re.S | re.I)


def test_every_post_form_in_templates_carries_a_csrf_token():
    missing = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"<form\b([^>]*)>(.*?)</form>", text, re.S | re.I):
            attrs, body = m.group(1), m.group(2)
            if re.search(r"method\s*=\s*\"?get", attrs, re.I):
                continue
            if "csrf_token" not in body and "hx-post" not in attrs and "hx-" not in body:
                missing.append(f"{path.relative_to(TEMPLATES)}: <form{attrs[:60]}>")
    assert missing == []


def _page_state_changing_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            yield rule, method


def _fill(rule) -> str:
    values = {name: "01HZZZZZZZZZZZZZZZZZZZZZZZ" for name in rule.arguments}
    for name, conv in rule._converters.items():  # noqa: SLF001
        if conv.__class__.__name__ in ("IntegerConverter", "FloatConverter"):
            values[name] = 1
    return rule.build(values, append_unknown=False)[1]


@pytest.mark.parametrize("role", ["ADMIN", "PHARMACIST", "INSURER_ADMIN"])
def test_every_page_state_change_needs_csrf(app, ctx, role):
    rules = list(_page_state_changing_rules(app))
    assert any(r.endpoint == "auth.logout" for r, _m in rules)
    user = user_for_role(role, mfa=True)
    client = app.test_client()
    fast_web_session(client, user)
    failures = []
    for rule, method in rules:
        path = _fill(rule)
        r = client.open(path, method=method, data={"x": "1"})
        if r.status_code != 400:
            failures.append(f"{method} {path} -> {r.status_code}")
        r = client.open(path, method=method, data={"csrf_token": "forged-token"})
        if r.status_code != 400:
            failures.append(f"{method} {path} (forged token) -> {r.status_code}")
    assert failures == []
    assert client.get("/compte").status_code == 200, "still signed in: nothing changed"


def test_csrf_failure_is_a_french_page_and_api_ignores_csrf(ctx, client):
    r = client.post("/connexion", data={"email": "a@b.tn", "password": "x"})
    assert r.status_code == 400, (r.status_code, r.get_data(as_text=True)[:500])
    assert "Le formulaire a expiré" in r.get_data(as_text=True)
    # Bearer API: no CSRF token needed (no cookie authentication there).
    r = client.post("/api/v1/auth/login", json={"email": "a@b.tn", "password": "x" * 12})
    assert r.status_code == 401, (r.status_code, r.get_data(as_text=True)[:500], dict(r.headers))


# --- outside development: HSTS, Secure __Host- cookie ------------------------------------------------

def _key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(params=["production", "staging"])
def prod_app(request, app, app_env, tmp_path):
    """An app with ENVIRONMENT=production/staging on the test database."""
    import fakeredis

    from dhamen import create_app
    from dhamen.core import crypto
    from dhamen.extensions import db

    env = {
        "ENVIRONMENT": request.param,
        "DHAMEN_INSTANCE_PATH": str(tmp_path),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_SECRET": secrets.token_urlsafe(48),
        "DATABASE_URL": app_env.get("DATABASE_URL") or app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app_env.get("REDIS_URL") or "redis://127.0.0.1:9/0",
        "STORAGE_URL": f"file://{tmp_path / 'storage'}",
        "DATA_ENCRYPTION_KEY": _key(),
        "LOOKUP_HMAC_KEY": _key(),
        "SMS_API_URL": "https://sms.example/send",
        "SMTP_HOST": "smtp.example", "MAIL_FROM": "Dhamen <no-reply@dhamen.tn>", "PUBLIC_BASE_URL": "https://dhamen.example",
        "RATELIMIT_ENABLED": "false",
    }
    settings = app.config["DHAMEN"]
    production = create_app(env)
    production.config.update(TESTING=True)
    if not app_env.get("REDIS_URL"):
        production.extensions["dhamen.services"].redis = fakeredis.FakeRedis()
    yield production
    with production.app_context():
        db.session.remove()
        production.extensions["dhamen.services"].redis.flushdb()
        db.engine.dispose()
    crypto.configure(crypto.Keyring(settings.data_encryption_keys, settings.data_encryption_key_id,
                                    settings.lookup_key))


def test_outside_development_hsts_and_secure_host_cookie(prod_app):
    from dhamen.extensions import db

    with prod_app.app_context():
        user_for_role("PHARMACIST", email="p@exemple.tn")
        db.session.remove()
    client = prod_app.test_client()
    r = client.get("/connexion", base_url="https://localhost")
    hsts = r.headers["Strict-Transport-Security"]
    assert "max-age=" in hsts and int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 31536000
    _check_headers(r)
    token = csrf_from(r.get_data(as_text=True))
    # Over HTTPS, Flask-WTF also checks that the Referer is this site (browsers send it:
    # Referrer-Policy same-origin).
    r = client.post("/connexion", data={"email": "p@exemple.tn", "password": PASSWORD, "csrf_token": token},
                    base_url="https://localhost", headers={"Referer": "https://evil.example/connexion"})
    assert r.status_code == 400
    r = client.post("/connexion", data={"email": "p@exemple.tn", "password": PASSWORD, "csrf_token": token},
                    base_url="https://localhost", headers={"Referer": "https://localhost/connexion"})
    assert r.status_code == 302
    cookie = [h for h in r.headers.getlist("Set-Cookie") if h.startswith("__Host-")]
    assert cookie, r.headers.getlist("Set-Cookie")
    flags = [f.strip().lower() for f in cookie[-1].split(";")]
    assert "secure" in flags and "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert not any(f.startswith("domain=") for f in flags)
    assert client.get("/compte", base_url="https://localhost").status_code == 200


def test_no_demo_account_outside_development(prod_app):
    from sqlalchemy import func, select

    from dhamen.extensions import db
    from dhamen.models import User

    result = prod_app.test_cli_runner().invoke(args=["dhamen", "seed", "--members", "1"])
    assert result.exit_code == 0, result.output
    assert "Dhamen-Demo-2026" not in result.output
    with prod_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
        db.session.remove()


def test_production_refuses_weak_or_development_secrets(app_env):
    from dhamen.config import ConfigError, load_config

    base = {"ENVIRONMENT": "production", "SECRET_KEY": secrets.token_urlsafe(48),
            "JWT_SECRET": secrets.token_urlsafe(48), "DATABASE_URL": "sqlite:////tmp/x.db",
            "REDIS_URL": "redis://127.0.0.1:6379/0", "DATA_ENCRYPTION_KEY": _key(), "LOOKUP_HMAC_KEY": _key(),
            "STORAGE_URL": "file:///tmp/st", "SMS_API_URL": "https://sms.example/send",
            "SMTP_HOST": "smtp.example", "MAIL_FROM": "Dhamen <no-reply@dhamen.tn>", "PUBLIC_BASE_URL": "https://dhamen.example",}
    assert load_config(base).jwt_secret == base["JWT_SECRET"]
    for name in ("JWT_SECRET", "SECRET_KEY"):
        with pytest.raises(ConfigError):
            load_config(dict(base, **{name: "short"}))
        with pytest.raises(ConfigError):
            load_config({k: v for k, v in base.items() if k != name})


def test_csp_constant_matches_what_is_sent(client):
    assert client.get("/connexion").headers["Content-Security-Policy"] == CSP
