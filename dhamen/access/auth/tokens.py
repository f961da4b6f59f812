"""API tokens (spec section 3): JWT access tokens and opaque refresh tokens.

Access token: HS256 JWT (algorithm pinned) with the spec's payload
``sub, role, providerId?, insurerId?, iat, exp, iss`` plus ``typ: "access"``
(a refresh token can never pass as one), ``sid`` (the Redis session it lives
in: logout ends it at once) and ``sv`` (the user's session version).

Refresh token: 256 random bits, stored only as a SHA-256 hash in Redis with
a TTL of ``REFRESH_EXPIRES_IN`` (the expiry time is also stored with it and
checked here, so a key Redis has not evicted yet is still refused on time),
rotated at every use, within the session's absolute lifetime
(``API_SESSION_ABSOLUTE_HOURS``: after it, refreshing fails and access tokens
stop working; the client logs in again).  Each use first claims
``rt:used:<hash>`` with ``SET NX``: a second presentation of the same token
finds it claimed, which is reuse — the whole family (the session) is
revoked and the event audited.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import jwt
import redis
from flask import current_app, g, request

from dhamen.access.auth import sessions
from dhamen.access.auth.service import load_user
from dhamen.core.services import services

ALGORITHM = "HS256"


@dataclass
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int

    def as_json(self) -> dict:
        return {"accessToken": self.access_token, "refreshToken": self.refresh_token,
                "tokenType": "Bearer", "expiresIn": self.expires_in}


def _settings():
    return current_app.config["DHAMEN"]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def encode_access(user, sid: str) -> str:
    s = _settings()
    now = int(time.time())
    payload = {"sub": user.id, "role": user.role, "iat": now, "exp": now + s.jwt_expires_in, "iss": s.jwt_issuer,
               "typ": "access", "sid": sid, "sv": user.session_version, "jti": secrets.token_hex(8)}
    if user.provider_id:
        payload["providerId"] = user.provider_id
    if user.insurer_id:
        payload["insurerId"] = user.insurer_id
    return jwt.encode(payload, s.jwt_secret, algorithm=ALGORITHM)


def decode_access(token: str) -> dict | None:
    s = _settings()
    try:
        payload = jwt.decode(token, s.jwt_secret, algorithms=[ALGORITHM], issuer=s.jwt_issuer,
                             options={"require": ["exp", "iat", "iss", "sub", "sid", "typ"]})
    except jwt.PyJWTError:
        return None
    if payload.get("typ") != "access":
        return None
    return payload


def _store_refresh(user_id: str, sid: str) -> str:
    token = secrets.token_urlsafe(32)
    ttl = _settings().refresh_expires_in
    services().redis.set(f"rt:{_hash(token)}", f"{user_id}:{sid}:{int(time.time()) + ttl}", ex=ttl)
    return token


def _parse_refresh(stored: bytes) -> tuple[str, str, int | None]:
    """``user_id:sid:expiry`` (older records have no expiry: Redis' TTL alone then)."""
    parts = stored.decode().split(":")
    expiry = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else None
    return parts[0], parts[1], expiry


def api_session_lifetime() -> int:
    """Seconds an API session may live from its login, refreshes included."""
    return _settings().api_session_absolute_hours * 3600


def issue(user) -> TokenPair:
    """A new API session with its first token pair (after a full login)."""
    s = _settings()
    sid = sessions.create(user, "api", s.refresh_expires_in)
    return TokenPair(encode_access(user, sid), _store_refresh(user.id, sid), s.jwt_expires_in)


class RefreshError(Exception):
    def __init__(self, code: str, message: str, reuse_user_id: str | None = None):
        super().__init__(message)
        self.code, self.message, self.reuse_user_id = code, message, reuse_user_id


def rotate(refresh_token: str, load_user) -> tuple[TokenPair, object]:
    """Exchange a refresh token for a new pair; detect reuse."""
    s = _settings()
    if not isinstance(refresh_token, str) or not 20 <= len(refresh_token) <= 100:
        raise RefreshError("INVALID_REFRESH_TOKEN", "Jeton de rafraîchissement invalide ou expiré.")
    h = _hash(refresh_token)
    r = services().redis
    try:
        stored = r.get(f"rt:{h}")
        if stored is None:
            raise RefreshError("INVALID_REFRESH_TOKEN", "Jeton de rafraîchissement invalide ou expiré.")
        user_id, sid, expiry = _parse_refresh(stored)
        if expiry is not None and time.time() >= expiry:
            raise RefreshError("INVALID_REFRESH_TOKEN", "Jeton de rafraîchissement invalide ou expiré.")
        if not r.set(f"rt:used:{h}", 1, nx=True, ex=s.refresh_expires_in):
            # Already used once: someone replays it. Revoke the family.
            sessions.end(sid)
            raise RefreshError("REFRESH_TOKEN_REUSED",
                               "Jeton de rafraîchissement déjà utilisé : la session a été révoquée.", user_id)
        session = sessions.load(sid)
        user = load_user(user_id)
        if not sessions.valid_for(session, user) or session["kind"] != "api":
            sessions.end(sid)
            raise RefreshError("INVALID_REFRESH_TOKEN", "Session expirée ou révoquée.")
        if not sessions.valid_for(session, user, absolute=api_session_lifetime()):
            sessions.end(sid)
            raise RefreshError("SESSION_EXPIRED", "Session expirée (durée maximale atteinte) : reconnectez-vous.")
        sessions.touch(sid, s.refresh_expires_in)
        pair = TokenPair(encode_access(user, sid), _store_refresh(user.id, sid), s.jwt_expires_in)
        return pair, user
    except redis.exceptions.RedisError as exc:
        raise sessions.SessionStoreDown("magasin de sessions injoignable") from exc


def revoke_refresh(refresh_token: str, user_id: str) -> str | None:
    """End the session a refresh token of ``user_id`` belongs to; returns its sid.

    Someone else's refresh token is ignored: logging out never ends another user's session.
    """
    if not isinstance(refresh_token, str) or len(refresh_token) > 100:
        return None
    try:
        stored = services().redis.get(f"rt:{_hash(refresh_token)}")
    except redis.exceptions.RedisError as exc:
        raise sessions.SessionStoreDown("magasin de sessions injoignable") from exc
    if stored is None:
        return None
    owner, sid, _expiry = _parse_refresh(stored)
    if owner != user_id:
        return None
    sessions.end(sid)
    return sid


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate_bearer():
    """The user behind this request's access token, checked against Redis and the database."""
    if "api_user" in g:
        return g.api_user
    g.api_user = None
    token = bearer_token()
    if token is None:
        return None
    payload = decode_access(token)
    if payload is None:
        return None

    session = sessions.load(payload["sid"])
    user = load_user(payload["sub"])
    if not sessions.valid_for(session, user, absolute=api_session_lifetime()) \
            or payload.get("sv") != user.session_version:
        return None
    if session["kind"] != "api":  # a browser session's id never opens the API
        return None
    g.api_user = user
    g.api_sid = payload["sid"]
    g._login_user = user  # flask_login.current_user answers the API user too
    return user
