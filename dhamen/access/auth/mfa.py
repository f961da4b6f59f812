"""Multi-factor authentication: TOTP, recovery codes, SMS codes.

TOTP (RFC 6238) with pyotp: 30-second step, ±1 step tolerance, and each
code usable once — the last accepted step is stored on the user and only a
later step passes.  Recovery codes: ten random codes shown once, stored as
SHA-256 hashes (they carry 60 bits of randomness), each single-use.  SMS
codes go through a pluggable sender (an HTTP gateway configured by
environment, or in development a sender that writes the code to the log).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
import urllib.request

import pyotp
import segno
from sqlalchemy import select, update

from dhamen.access.roles import DEFAULT_MFA_ROLES
from dhamen.core.sqltypes import utcnow
from dhamen.extensions import db
from dhamen.models import AppSetting, RecoveryCode

log = logging.getLogger("dhamen.sms")
ISSUER = "Dhamen"
STEP = 30
RECOVERY_COUNT = 10
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits from `secrets`


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def verify_totp(user, code: str, now: float | None = None) -> bool:
    """Accept a 6-digit code of the current step ±1, never a step already used."""
    if not user.mfa_secret or not code:
        return False
    code = code.replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(user.mfa_secret)
    now = time.time() if now is None else now
    current = int(now // STEP)
    for step in (current - 1, current, current + 1):
        if user.mfa_last_step is not None and step <= user.mfa_last_step:
            continue
        if hmac.compare_digest(totp.at(step * STEP), code):
            user.mfa_last_step = step
            return True
    return False


def _normalise_recovery(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def _hash_recovery(code: str) -> str:
    return hashlib.sha256(_normalise_recovery(code).encode()).hexdigest()


def new_recovery_codes(user) -> list[str]:
    """Replace the user's recovery codes; the plaintext is returned once."""
    for old in db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        db.session.delete(old)
    codes = []
    for _ in range(RECOVERY_COUNT):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
        code = f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"
        codes.append(code)
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_hash_recovery(code)))
    return codes


def use_recovery_code(user, code: str) -> bool:
    normal = _normalise_recovery(code)
    if len(normal) != 12:
        return False
    # One conditional UPDATE: of two concurrent uses of the same code, only one changes the row.
    result = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash_recovery(normal),
               RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def remaining_recovery_codes(user) -> int:
    return len(db.session.scalars(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))).all())


def disable(user) -> None:
    user.mfa_enabled = False
    user.mfa_secret = None
    user.mfa_last_step = None
    for old in db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        db.session.delete(old)


# --- which roles must use MFA -------------------------------------------------------------

def required_roles() -> set[str]:
    row = db.session.get(AppSetting, "mfa_required_roles")
    return set(row.value_json) if row is not None else set(DEFAULT_MFA_ROLES)


def set_required_roles(roles: set[str]) -> None:
    row = db.session.get(AppSetting, "mfa_required_roles")
    if row is None:
        db.session.add(AppSetting(key="mfa_required_roles", value_json=sorted(roles)))
    else:
        row.value_json = sorted(roles)


def must_use_mfa(user) -> bool:
    return user.mfa_enabled or user.role in required_roles()


# --- SMS -----------------------------------------------------------------------------------

class LogSmsSender:
    """Development only: the code goes to the log instead of a phone."""

    name = "log"

    def send(self, phone: str, text: str) -> None:
        log.warning("SMS (développement) vers %s: %s", phone, text)


class HttpSmsSender:
    """POSTs ``{"to": ..., "text": ...}`` as JSON to ``SMS_API_URL`` with a Bearer token."""

    name = "http"

    def __init__(self, url: str, token: str | None, timeout: float = 5):
        self.url, self.token, self.timeout = url, token, timeout

    def send(self, phone: str, text: str) -> None:
        body = json.dumps({"to": phone, "text": text}).encode()
        req = urllib.request.Request(self.url, data=body, method="POST",  # noqa: S310 - configured https URL
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {self.token}"} if self.token else {})})
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
            if resp.status >= 300:
                raise RuntimeError(f"passerelle SMS: HTTP {resp.status}")


def sms_sender(settings):
    if settings.sms_sender == "http":
        return HttpSmsSender(settings.sms_api_url, settings.sms_api_token)
    return LogSmsSender()


def new_sms_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def sms_code_hash(code: str, salt: str) -> str:
    return base64.b64encode(hashlib.sha256(f"{salt}:{code}".encode()).digest()).decode()
