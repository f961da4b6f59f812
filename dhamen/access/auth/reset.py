""""Mot de passe oublié": a reset link by e-mail, single use, valid 30 minutes.

The link carries a random token (256 bits); Redis keeps only its SHA-256, with
the user id and the user's session version: any password change, deactivation
or MFA reset (which bump the version) voids every link sent before.  The
request answers the same whether the address exists or not; it is throttled
per address and per IP (a few mails an hour, the rest silently dropped), and
the mail is sent by a job after the commit, so no timing tells known
addresses from unknown ones.
"""

from __future__ import annotations

import hashlib
import json
import secrets

from flask import current_app, url_for

from dhamen.access.auth import service, throttle
from dhamen.core import audit, mail
from dhamen.core.jobs import with_app
from dhamen.core.services import after_commit, services
from dhamen.models import User

TTL = 30 * 60
MAILS_PER_HOUR = 3  # per address
IP_REQUESTS_PER_HOUR = 20
SAME_ANSWER = ("Si un compte actif correspond à cette adresse, un lien de réinitialisation vient d'y être "
               "envoyé. Il est valable 30 minutes et ne sert qu'une fois.")


def _key(token: str) -> str:
    return "pwreset:" + hashlib.sha256(token.encode()).hexdigest()


def _counted(key: str, limit: int) -> bool:
    """Count one request under ``key`` (one-hour window); False once over ``limit``."""
    r = services().redis
    pipe = r.pipeline()
    pipe.set(key, 0, nx=True, ex=throttle.WINDOW)
    pipe.incr(key)
    return pipe.execute()[1] <= limit


def request_reset(email: str, ip: str | None) -> None:
    """Send a reset link if the address is an active account's and not over its quota. Answers nothing."""
    email = (email or "").strip().lower()[:254]
    if not _counted(throttle.ip_key("pwreset", ip) + ":n", IP_REQUESTS_PER_HOUR):
        audit.record("auth.password_reset_throttled", "user", "-", {"reason": "ip"}, user=None)
        return
    user = service.find_by_email(email)
    if user is None or not user.is_active:
        audit.record("auth.password_reset_requested", "user", email or "-",
                     {"email": email, "sent": False, "reason": "unknown_or_inactive"}, user=None)
        return
    if not _counted(throttle.account_key("pwreset", email) + ":n", MAILS_PER_HOUR):
        audit.record("auth.password_reset_throttled", "user", user.id, {"reason": "account"}, user=user)
        return
    token = secrets.token_urlsafe(32)
    services().redis.set(_key(token), json.dumps({"uid": user.id, "sv": user.session_version}), ex=TTL)
    base = current_app.config["DHAMEN"].public_base_url
    path = url_for("auth.password_reset", token=token)
    link = (base + path) if base else url_for("auth.password_reset", token=token, _external=True)
    audit.record("auth.password_reset_requested", "user", user.id, {"sent": True}, user=user)
    after_commit("events", send_reset_mail, user.email, user.first_name, link)


@with_app
def send_reset_mail(to: str, first_name: str, link: str) -> None:
    settings = current_app.config["DHAMEN"]
    body = (f"Bonjour {first_name},\n\n"
            "Une réinitialisation du mot de passe de votre compte Dhamen a été demandée.\n"
            f"Pour choisir un nouveau mot de passe, ouvrez ce lien (valable 30 minutes, une seule fois) :\n\n{link}\n\n"
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre mot de passe "
            "reste inchangé.\n\nL'équipe Dhamen")
    mail.sender(settings.mail).send(to, "Dhamen : réinitialisation de votre mot de passe", body)


def user_for(token: str | None) -> User | None:
    """The active user a still-valid link stands for (the link is not consumed)."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    raw = services().redis.get(_key(token))
    if raw is None:
        return None
    data = json.loads(raw)
    user = service.load_user(data["uid"])
    if user is None or not user.is_active or user.session_version != data["sv"]:
        return None
    return user


def consume(token: str) -> bool:
    """Use the link up: True for exactly one caller, even when two submit at once."""
    return bool(services().redis.delete(_key(token)))
