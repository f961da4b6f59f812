"""Login, MFA challenge, password change, deactivation: shared by pages and API.

Services flush; the caller (view) commits once.  Audit rows for failures are
committed by the views too, in the same request.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from dhamen.access.auth import mfa, sessions, throttle
from dhamen.access.auth.passwords import dummy_hash, hash_password, policy_errors, verify_password
from dhamen.core import audit
from dhamen.core.services import services
from dhamen.core.sqltypes import utcnow
from dhamen.extensions import db
from dhamen.models import User

INVALID_CREDENTIALS = "Adresse e-mail ou mot de passe incorrect."
INVALID_CODE = "Code incorrect ou expiré."
MFA_TOKEN_TTL = 300
MFA_MAX_ATTEMPTS = 5


def load_user(user_id: str | None) -> User | None:
    if not user_id:
        return None
    return db.session.get(User, user_id)


def find_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == (email or "").strip().lower()))


@dataclass
class LoginResult:
    status: str  # ok | mfa | enrol | invalid | throttled
    user: User | None = None
    retry_after: int = 0
    mfa_token: str | None = None


def authenticate(email: str, password: str, ip: str | None) -> LoginResult:
    email = (email or "").strip()[:254]
    acct, ipk = throttle.account_key("login", email), throttle.ip_key("login", ip)
    wait = throttle.retry_after(acct, ipk)
    if wait:
        audit.record("auth.login_throttled", "user", email.lower() or "-", {"email": email.lower()}, user=None)
        return LoginResult("throttled", retry_after=wait)
    user = find_by_email(email)
    valid = verify_password(password or "", user.password_hash if user else dummy_hash())
    if not valid or user is None or not user.is_active:
        throttle.fail(acct)
        throttle.fail(ipk, throttle.IP_FREE_FAILURES)
        reason = "unknown_email" if user is None else ("inactive" if not user.is_active and valid else "bad_password")
        audit.record("auth.login_failed", "user", user.id if user else (email.lower() or "-"),
                     {"email": email.lower(), "reason": reason}, user=user)
        return LoginResult("invalid")
    throttle.reset(acct)
    if mfa.must_use_mfa(user):
        token = start_mfa(user, "mfa" if user.mfa_enabled else "enrol")
        if not user.mfa_enabled:
            audit.record("auth.mfa_enrolment_required", "user", user.id, user=user)
            return LoginResult("enrol", user=user, mfa_token=token)
        audit.record("auth.password_ok_mfa_pending", "user", user.id, user=user)
        return LoginResult("mfa", user=user, mfa_token=token)
    return LoginResult("ok", user=user)


# --- the MFA challenge between password and session ----------------------------------------

def start_mfa(user: User, purpose: str = "mfa") -> str:
    """A short-lived (5 min), single-use token standing for "password checked, second factor pending".

    ``purpose`` is ``mfa`` (answer the challenge of an enrolled user) or ``enrol`` (a
    user whose role requires MFA sets it up).  An ``enrol`` token never passes the
    challenge, and an ``mfa`` token never opens the enrolment page: otherwise the
    password alone would let anyone enrol a new authenticator and sign in.
    """
    token = secrets.token_urlsafe(32)
    record = {"uid": user.id, "sv": user.session_version, "n": 0, "exp": int(time.time()) + MFA_TOKEN_TTL,
              "purpose": purpose}
    services().redis.set(f"mfa:{token}", json.dumps(record), ex=MFA_TOKEN_TTL)
    return token


def pending_user(token: str | None, purpose: str = "mfa") -> User | None:
    """The user a pending token of this ``purpose`` stands for, or None."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    raw = services().redis.get(f"mfa:{token}")
    if raw is None:
        return None
    data = json.loads(raw)
    if time.time() >= data.get("exp", float("inf")) or data.get("purpose") != purpose:
        return None
    user = load_user(data["uid"])
    if user is None or not user.is_active or user.session_version != data["sv"]:
        return None
    if purpose == "mfa" and not user.mfa_enabled or purpose == "enrol" and user.mfa_enabled:
        return None
    return user


@dataclass
class MfaResult:
    ok: bool
    user: User | None = None
    message: str = ""
    retry_after: int = 0
    method: str | None = None


def verify_mfa(token: str, code: str, ip: str | None) -> MfaResult:
    """Check a TOTP, SMS or recovery code against a pending MFA token (single use)."""
    user = pending_user(token)
    if user is None:
        return MfaResult(False, message="Session de vérification expirée : reconnectez-vous.")
    key, ipk = throttle.account_key("mfa", user.id), throttle.ip_key("mfa", ip)
    wait = throttle.retry_after(key, ipk)
    if wait:
        return MfaResult(False, user, "Trop de codes incorrects : patientez avant de réessayer.", wait)
    code = (code or "").strip()
    method = None
    if user.mfa_enabled and mfa.verify_totp(user, code):
        method = "totp"
    elif _check_sms(token, code):
        method = "sms"
    elif user.mfa_enabled and mfa.use_recovery_code(user, code):
        method = "recovery_code"
    r = services().redis
    if method is None:
        throttle.fail(key)
        throttle.fail(ipk, throttle.IP_FREE_FAILURES)
        data = json.loads(r.get(f"mfa:{token}") or "{}")
        data["n"] = data.get("n", 0) + 1
        if data["n"] >= MFA_MAX_ATTEMPTS:
            r.delete(f"mfa:{token}")
        else:
            r.set(f"mfa:{token}", json.dumps(data), keepttl=True)
        audit.record("auth.mfa_failed", "user", user.id, {"attempt": data["n"]}, user=user)
        return MfaResult(False, user, INVALID_CODE)
    # Single use, even against a concurrent request with the same token: only the one
    # that deletes the token wins; a TOTP step is claimed in Redis for the same reason
    # (two requests could both read the user before either commits ``mfa_last_step``).
    if not r.delete(f"mfa:{token}") or (
        method == "totp" and not r.set(f"mfa:step:{user.id}:{user.mfa_last_step}", 1, nx=True, ex=4 * mfa.STEP)
    ):
        db.session.rollback()
        return MfaResult(False, None, "Session de vérification expirée : reconnectez-vous.")
    r.delete(f"mfa:sms:{token}")
    throttle.reset(key)
    audit.record("auth.mfa_verified", "user", user.id, {"method": method}, user=user)
    return MfaResult(True, user, method=method)


def send_sms_code(token: str) -> tuple[bool, str]:
    user = pending_user(token)
    if user is None:
        return False, "Session de vérification expirée : reconnectez-vous."
    if not user.phone:
        return False, "Aucun numéro de téléphone n'est enregistré pour ce compte."
    r = services().redis
    if not r.set(f"mfa:sms-sent:{token}", 1, nx=True, ex=60):
        return False, "Un code vient d'être envoyé : patientez une minute avant d'en demander un autre."
    code = mfa.new_sms_code()
    r.set(f"mfa:sms:{token}", mfa.sms_code_hash(code, token), ex=MFA_TOKEN_TTL)
    sender = mfa.sms_sender(current_app.config["DHAMEN"])
    try:
        sender.send(user.phone, f"Dhamen : votre code de connexion est {code}")
    except Exception as exc:  # noqa: BLE001 - a gateway failure is an answer, not a 500
        r.delete(f"mfa:sms:{token}", f"mfa:sms-sent:{token}")
        current_app.logger.warning("passerelle SMS (%s) en échec: %s", sender.name, exc.__class__.__name__)
        audit.record("auth.mfa_sms_failed", "user", user.id, {"sender": sender.name}, user=user)
        return False, ("L'envoi du SMS a échoué. Réessayez dans un instant ou utilisez votre application "
                       "d'authentification ou un code de secours.")
    audit.record("auth.mfa_sms_sent", "user", user.id, {"sender": sender.name}, user=user)
    return True, "Code envoyé par SMS."


def _check_sms(token: str, code: str) -> bool:
    stored = services().redis.get(f"mfa:sms:{token}")
    if stored is None or len(code) != 6 or not code.isdigit():
        return False
    return hmac.compare_digest(stored.decode(), mfa.sms_code_hash(code, token))


# --- after a full login ---------------------------------------------------------------------

def record_login(user: User, channel: str, method: str | None = None) -> None:
    user.last_login_at = utcnow()
    audit.record("auth.login", "user", user.id, {"channel": channel, **({"mfa": method} if method else {})}, user=user)


def change_password(user: User, current: str, new: str) -> list[str]:
    if not verify_password(current or "", user.password_hash):
        audit.record("auth.password_change_failed", "user", user.id, {"reason": "bad_current"}, user=user)
        return ["Le mot de passe actuel est incorrect."]
    errors = policy_errors(new, email=user.email)
    if not errors and verify_password(new, user.password_hash):
        errors.append("Le nouveau mot de passe doit être différent de l'actuel.")
    if errors:
        return errors
    set_password(user, new, action="auth.password_change")
    return []


def set_password(user: User, new: str, action: str, actor: User | None = None, *, temporary: bool = False) -> None:
    """Set the password; ``temporary`` (an admin chose it) makes the user change it at the next login."""
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    user.must_change_password = temporary
    revoke_everything(user)
    audit.record(action, "user", user.id, {"by": actor.id if actor else user.id}, user=actor or user)


def revoke_everything(user: User) -> None:
    """Every session and token of the user stops working at once."""
    user.session_version = (user.session_version or 1) + 1
    sessions.end_user_sessions(user.id)


def deactivate(user: User, actor: User) -> str | None:
    """Close the account: every session and token ends. A French refusal for one's own account."""
    if user.id == actor.id:
        return "Vous ne pouvez pas désactiver votre propre compte."
    if user.is_active:
        user.is_active = False
        revoke_everything(user)
        audit.record("user.deactivate", "user", user.id, {"is_active": [True, False]}, user=actor)
    return None


def reactivate(user: User, actor: User) -> None:
    if not user.is_active:
        user.is_active = True
        audit.record("user.reactivate", "user", user.id, {"is_active": [False, True]}, user=actor)


def reset_mfa(user: User, actor: User) -> None:
    """The second factor is chosen again at the next login; open sessions end."""
    mfa.disable(user)
    revoke_everything(user)
    audit.record("user.mfa_reset", "user", user.id, user=actor)
