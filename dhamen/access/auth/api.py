"""The spec's auth API (section 3): login, MFA verify, refresh, logout."""

from __future__ import annotations

import re

from flask import current_app, g, request

from dhamen.access.auth import service, sessions, tokens
from dhamen.access.auth.views import EMAIL_SHAPE
from dhamen.access.rbac import public, require_role
from dhamen.core import audit
from dhamen.core.http import ApiError, json_body, ok
from dhamen.extensions import limiter


def _string(data: dict, name: str, max_len: int = 256) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(422, "VALIDATION_ERROR", f"Le champ « {name} » est obligatoire.", {"field": name})
    if len(value) > max_len:
        raise ApiError(422, "VALIDATION_ERROR", f"Le champ « {name} » est trop long.", {"field": name})
    return value


def _throttled(seconds: int, message: str = "Trop de tentatives : réessayez plus tard."):
    g.retry_after = seconds  # the exact wait, kept in the Retry-After header (dhamen.security)
    return ApiError(429, "RATE_LIMITED", message, {"retryAfter": seconds}, headers={"Retry-After": str(seconds)})


@public
@limiter.limit(lambda: limiter_config("RATELIMIT_LOGIN"))
def login():
    data = json_body()
    email = _string(data, "email", 254)
    if not re.match(EMAIL_SHAPE, email.strip()):
        # Also keeps a password typed into the email field out of the audit log.
        raise ApiError(422, "VALIDATION_ERROR", "Adresse e-mail invalide.", {"field": "email"})
    password = _string(data, "password", 1024)
    result = service.authenticate(email, password, request.remote_addr)
    if result.status == "throttled":
        raise _throttled(result.retry_after)
    if result.status == "invalid":
        raise ApiError(401, "INVALID_CREDENTIALS", service.INVALID_CREDENTIALS)
    if result.status == "enrol":
        raise ApiError(403, "MFA_ENROLMENT_REQUIRED",
                       "La double authentification est obligatoire pour ce rôle : activez-la d'abord depuis le portail.")
    if result.status == "mfa":
        return ok({"requiresMfa": True, "mfaToken": result.mfa_token, "smsAvailable": bool(result.user.phone)})
    pair = tokens.issue(result.user)
    service.record_login(result.user, "api")
    return ok(pair.as_json())


@public
@limiter.limit(lambda: limiter_config("RATELIMIT_LOGIN"))
def mfa_verify():
    data = json_body()
    token = _string(data, "mfaToken", 100)
    code = _string(data, "otpCode", 32)
    result = service.verify_mfa(token, code, request.remote_addr)
    if not result.ok:
        if result.retry_after:
            raise _throttled(result.retry_after, result.message)
        raise ApiError(401, "INVALID_OTP", result.message)
    pair = tokens.issue(result.user)
    service.record_login(result.user, "api", result.method)
    return ok(pair.as_json())


@public
@limiter.limit(lambda: limiter_config("RATELIMIT_LOGIN"))
def mfa_sms():
    data = json_body()
    sent, message = service.send_sms_code(_string(data, "mfaToken", 100))
    if not sent:
        raise ApiError(400, "SMS_NOT_SENT", message)
    return ok({"sent": True, "message": message})


@public
@limiter.limit(lambda: limiter_config("RATELIMIT_LOGIN"))
def refresh():
    data = json_body()
    try:
        pair, user = tokens.rotate(_string(data, "refreshToken", 100), service.load_user)
    except tokens.RefreshError as exc:
        if exc.reuse_user_id:
            audit.record("auth.refresh_reuse", "user", exc.reuse_user_id, {"family": "revoked"},
                         user=service.load_user(exc.reuse_user_id))
        raise ApiError(401, exc.code, exc.message) from None
    return ok(pair.as_json())


@require_role()
def logout():
    sessions.end(g.api_sid)
    data = request.get_json(silent=True) if request.is_json else None
    if isinstance(data, dict) and isinstance(data.get("refreshToken"), str):
        tokens.revoke_refresh(data["refreshToken"], g.api_user.id)
    audit.record("auth.logout", "user", g.api_user.id, {"channel": "api"})
    return ok({"loggedOut": True})


@require_role()
def me():
    user = g.api_user
    return ok({"id": user.id, "email": user.email, "role": user.role, "firstName": user.first_name,
               "lastName": user.last_name, "providerId": user.provider_id, "insurerId": user.insurer_id,
               "mfaEnabled": user.mfa_enabled, "mustChangePassword": user.must_change_password})


def limiter_config(name: str) -> str:
    return current_app.config[name]


#: (rule, view, methods), registered on the API blueprint by ``dhamen.core.api``.
ROUTES = (
    ("/auth/login", login, ("POST",)),
    ("/auth/mfa/verify", mfa_verify, ("POST",)),
    ("/auth/mfa/sms", mfa_sms, ("POST",)),
    ("/auth/refresh", refresh, ("POST",)),
    ("/auth/logout", logout, ("POST",)),
    ("/auth/me", me, ("GET",)),
)
