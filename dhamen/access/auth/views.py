"""Portal authentication pages: login, MFA challenge, enrolment, logout, password."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from dhamen.access.auth import mfa, reset, service, sessions
from dhamen.access.auth.passwords import policy_errors
from dhamen.access.rbac import public, require_role
from dhamen.access.roles import home_endpoint
from dhamen.core import audit
from dhamen.core.services import services
from dhamen.extensions import db, limiter, login_manager

bp = Blueprint("auth", __name__)


# WTForms' ``Email()`` needs the optional ``email_validator`` package (not a dependency:
# without it every login POST was a 500).  A plain shape check is enough here: the
# address is only ever compared with the stored ones.
EMAIL_SHAPE = r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z"


def email_validator(message: str = "Adresse e-mail invalide.") -> Regexp:
    return Regexp(EMAIL_SHAPE, message=message)


class LoginForm(FlaskForm):
    email = EmailField("Adresse e-mail", validators=[DataRequired("Saisissez votre adresse e-mail."),
                                                     email_validator(), Length(max=254)])
    password = PasswordField("Mot de passe", validators=[DataRequired("Saisissez votre mot de passe."),
                                                         Length(max=1024)])


class ForgotForm(FlaskForm):
    email = EmailField("Adresse e-mail", validators=[DataRequired("Saisissez votre adresse e-mail."),
                                                     email_validator(), Length(max=254)])


class NewPasswordForm(FlaskForm):
    new = PasswordField("Nouveau mot de passe", validators=[DataRequired("Saisissez un nouveau mot de passe.")])
    confirm = PasswordField("Confirmation", validators=[DataRequired("Confirmez le nouveau mot de passe.")])


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired("Saisissez le code."), Length(max=32)])


class PasswordForm(FlaskForm):
    current = PasswordField("Mot de passe actuel", validators=[DataRequired("Saisissez votre mot de passe actuel.")])
    new = PasswordField("Nouveau mot de passe", validators=[DataRequired("Saisissez un nouveau mot de passe.")])
    confirm = PasswordField("Confirmation", validators=[DataRequired("Confirmez le nouveau mot de passe.")])


def _settings():
    return current_app.config["DHAMEN"]


def _safe_next(target: str | None) -> str | None:
    """A local path to go back to after login, or None (never another site).

    Browsers read ``/\\evil.example`` as ``//evil.example``: backslashes and control
    characters are refused along with schemes, hosts and ``//``.
    """
    if not target or len(target) > 2000:
        return None
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


# Secrets shown during enrolment (the TOTP secret until it is confirmed, the recovery
# codes until they are displayed) stay in Redis: the session cookie is signed, not
# encrypted, and only carries a random reference to them.
_ENROL_TTL = 600
_CODES_TTL = 300


def _stash(kind: str, user_id: str, value, ttl: int) -> None:
    ref = secrets.token_urlsafe(24)
    old = session.pop(f"{kind}_ref", None)
    r = services().redis
    if old:
        r.delete(f"stash:{kind}:{old}")
    r.set(f"stash:{kind}:{ref}", json.dumps({"uid": user_id, "value": value}), ex=ttl)
    session[f"{kind}_ref"] = ref


def _peek(kind: str, user_id: str, *, pop: bool = False):
    ref = session.pop(f"{kind}_ref", None) if pop else session.get(f"{kind}_ref")
    if not isinstance(ref, str) or len(ref) > 64:
        return None
    r = services().redis
    key = f"stash:{kind}:{ref}"
    if pop:
        pipe = r.pipeline()
        pipe.get(key)
        pipe.delete(key)
        raw = pipe.execute()[0]
    else:
        raw = r.get(key)
    if raw is None:
        return None
    data = json.loads(raw)
    return data["value"] if data.get("uid") == user_id else None


def _start_session(user, method: str | None = None):
    """Fresh session id at login: clear the cookie session and create a new Redis session."""
    next_url = _safe_next(session.get("next"))
    session.clear()
    s = _settings()
    sid = sessions.create(user, "web", s.session_idle_minutes * 60)
    session["sid"] = sid
    login_user(user, remember=False, fresh=True)
    service.record_login(user, "web", method)
    return redirect(next_url or url_for(home_endpoint(user.role)))


@login_manager.user_loader
def _load_user(user_id: str):
    s = _settings()
    sid = session.get("sid")
    data = sessions.load(sid)
    user = service.load_user(user_id)
    if data is not None and data["kind"] != "web":  # an API session id never opens the portal
        data = None
    if not sessions.valid_for(data, user, idle=s.session_idle_minutes * 60, absolute=s.session_absolute_hours * 3600):
        sessions.end(sid)
        session.clear()
        return None
    sessions.touch(sid, s.session_idle_minutes * 60)
    return user


@login_manager.unauthorized_handler
def _unauthorized():
    return redirect(url_for("auth.login"))


@bp.route("/connexion", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for(home_endpoint(current_user.role)))
    form = LoginForm()
    if request.method == "GET" and _safe_next(request.args.get("next")):
        session["next"] = request.args["next"]
    error = None
    status = 200
    if form.validate_on_submit():
        result = service.authenticate(form.email.data, form.password.data, request.remote_addr)
        if result.status == "throttled":
            minutes = max(1, round(result.retry_after / 60))
            error = f"Trop de tentatives. Réessayez dans {minutes} minute{'s' if minutes > 1 else ''}."
            status = 429
        elif result.status == "invalid":
            error = service.INVALID_CREDENTIALS
            status = 401
        elif result.status in ("mfa", "enrol"):
            session["mfa_token"] = result.mfa_token
            return redirect(url_for("auth.mfa_challenge" if result.status == "mfa" else "auth.mfa_enrol"))
        else:
            return _start_session(result.user)
    elif request.method == "POST":
        status = 422
    response = render_template("auth/login.html", form=form, error=error)
    headers = {}
    if status == 429:
        g.retry_after = result.retry_after  # the exact wait, kept in the Retry-After header (dhamen.security)
        headers = {"Retry-After": str(result.retry_after)}
    return response, status, headers


@bp.route("/connexion/mfa", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])
def mfa_challenge():
    token = session.get("mfa_token")
    user = service.pending_user(token, "mfa")
    if user is None:
        if service.pending_user(token, "enrol") is not None:
            return redirect(url_for("auth.mfa_enrol"))
        session.pop("mfa_token", None)
        flash("Votre session de vérification a expiré : reconnectez-vous.", "warning")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    error, status = None, 200
    if form.validate_on_submit():
        result = service.verify_mfa(token, form.code.data, request.remote_addr)
        if result.ok:
            return _start_session(result.user, result.method)
        error, status = result.message, (429 if result.retry_after else 401)
        if result.retry_after:
            g.retry_after = result.retry_after
        if service.pending_user(token, "mfa") is None:
            session.pop("mfa_token", None)
            flash("Trop de codes incorrects : reconnectez-vous.", "error")
            return redirect(url_for("auth.login"))
    elif request.method == "POST":
        status = 422
    return render_template("auth/mfa.html", form=form, error=error, can_sms=bool(user.phone)), status


@bp.post("/connexion/mfa/sms")
@public
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"])
def mfa_sms():
    sent, message = service.send_sms_code(session.get("mfa_token"))
    flash(message, "success" if sent else "error")
    return redirect(url_for("auth.mfa_challenge"))


@bp.route("/compte/mfa", methods=["GET", "POST"])
@public  # signed-in users, or a user between password and forced enrolment; checked below
def mfa_enrol():
    pending = None
    if current_user.is_authenticated:
        user = current_user
        if user.mfa_enabled:
            # Replacing the authenticator needs more than a session: an admin resets it.
            flash("La double authentification est déjà activée. Pour changer d'appareil, demandez à un "
                  "administrateur de la réinitialiser.", "warning")
            return redirect(url_for("auth.account"))
    else:
        # Only a user whose role requires MFA and who has none yet enrols between password and
        # session; an enrolled user answers the challenge (the password alone never enrols).
        pending = session.get("mfa_token")
        user = service.pending_user(pending, "enrol")
        if user is None:
            return redirect(url_for("auth.mfa_challenge") if service.pending_user(pending, "mfa")
                            else url_for("auth.login"))
    secret = _peek("mfa_enrol", user.id) if request.method == "POST" else None
    if not secret:
        secret = mfa.new_secret()
        _stash("mfa_enrol", user.id, secret, _ENROL_TTL)
    form = CodeForm()
    error, status = None, 200
    if form.validate_on_submit():
        user.mfa_secret = secret
        if mfa.verify_totp(user, form.code.data):
            user.mfa_enabled = True
            codes = mfa.new_recovery_codes(user)
            audit.record("auth.mfa_enabled", "user", user.id, user=user)
            _peek("mfa_enrol", user.id, pop=True)
            if pending:
                if not services().redis.delete(f"mfa:{pending}"):  # the pending token is single-use
                    db.session.rollback()
                    session.pop("mfa_token", None)
                    return redirect(url_for("auth.login"))
                _start_session(user, "totp_enrolment")
            _stash("recovery_codes", user.id, codes, _CODES_TTL)
            return redirect(url_for("auth.recovery_codes"))
        db.session.rollback()
        audit.record("auth.mfa_enrolment_failed", "user", user.id, user=user)
        error, status = "Code incorrect : vérifiez l'heure de votre téléphone et saisissez le code affiché.", 422
    elif request.method == "POST":
        status = 422
    uri = mfa.provisioning_uri(secret, user.email)
    return render_template("auth/mfa_enrol.html", form=form, error=error, qr=mfa.qr_data_uri(uri), secret=secret,
                           forced=pending is not None), status


@bp.get("/compte/codes-de-secours")
@require_role()
def recovery_codes():
    codes = _peek("recovery_codes", current_user.id, pop=True)
    if not codes:
        flash("Les codes de secours ne s'affichent qu'une fois. Générez-en de nouveaux si besoin.", "warning")
        return redirect(url_for("auth.account"))
    return render_template("auth/recovery_codes.html", codes=codes)


@bp.post("/compte/codes-de-secours")
@require_role()
def regenerate_recovery_codes():
    if not current_user.mfa_enabled:
        abort(400)
    codes = mfa.new_recovery_codes(current_user)
    audit.record("auth.recovery_codes_regenerated", "user", current_user.id)
    _stash("recovery_codes", current_user.id, codes, _CODES_TTL)
    return redirect(url_for("auth.recovery_codes"))


@bp.get("/compte")
@require_role()
def account():
    return render_template("auth/account.html", remaining=mfa.remaining_recovery_codes(current_user),
                           mfa_required=mfa.must_use_mfa(current_user))


def _new_password_errors(form, check: Callable[[], list[str]]) -> list[str]:
    """The confirmation must match the new password; then ``check()`` (its French errors, or none)."""
    if form.new.data != form.confirm.data:
        return ["Confirmation : elle ne correspond pas au nouveau mot de passe."]
    return check()


@bp.route("/compte/mot-de-passe", methods=["GET", "POST"])
@require_role()
def change_password():
    form = PasswordForm()
    errors, status = [], 200
    if form.validate_on_submit():
        errors = _new_password_errors(
            form, lambda: service.change_password(current_user, form.current.data, form.new.data))
        if not errors:
            logout_user()
            session.clear()
            flash("Mot de passe modifié : toutes vos sessions ont été fermées. Reconnectez-vous.", "success")
            return redirect(url_for("auth.login"))
        status = 422
    elif request.method == "POST":
        status = 422
    return render_template("auth/password.html", form=form, errors=errors,
                           forced=current_user.must_change_password), status


LINK_EXPIRED = ("Ce lien de réinitialisation n'est plus valable (déjà utilisé, expiré ou remplacé). "
                "Demandez-en un nouveau avec « Mot de passe oublié ? ».")


@bp.route("/mot-de-passe-oublie", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])
def forgot_password():
    form = ForgotForm()
    if form.validate_on_submit():
        reset.request_reset(form.email.data, request.remote_addr)
        flash(reset.SAME_ANSWER, "success")
        return redirect(url_for("auth.login"), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("auth/forgot.html", form=form), status


@bp.get("/mot-de-passe/reinitialiser/<token>")
@public
def password_reset(token: str):
    """The link of the e-mail: the token moves into the session, out of the address bar (and Referer)."""

    if reset.user_for(token) is None:
        session.pop("reset_token", None)
        flash(LINK_EXPIRED, "error")
        return redirect(url_for("auth.login"), 303)
    session["reset_token"] = token
    return redirect(url_for("auth.password_reset_form"), 303)


@bp.route("/mot-de-passe/reinitialiser", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])
def password_reset_form():
    token = session.get("reset_token")
    user = reset.user_for(token)
    if user is None:
        session.pop("reset_token", None)
        flash(LINK_EXPIRED, "error")
        return redirect(url_for("auth.login"), 303)
    form = NewPasswordForm()
    errors, status = [], 200
    if form.validate_on_submit():
        errors = _new_password_errors(form, lambda: policy_errors(form.new.data, email=user.email))
        if not errors:
            if not reset.consume(token):
                session.pop("reset_token", None)
                flash("Ce lien de réinitialisation a déjà servi. Demandez-en un nouveau.", "error")
                return redirect(url_for("auth.forgot_password"))
            service.set_password(user, form.new.data, action="auth.password_reset_by_email")
            session.clear()
            flash("Mot de passe modifié : connectez-vous avec le nouveau mot de passe.", "success")
            return redirect(url_for("auth.login"), 303)
        status = 422
    elif request.method == "POST":
        status = 422
    return render_template("auth/reset.html", form=form, errors=errors, email=user.email), status


@bp.post("/deconnexion")
@public
def logout():
    sid = session.get("sid")
    if current_user.is_authenticated:
        audit.record("auth.logout", "user", current_user.id, {"channel": "web"})
    sessions.end(sid)
    logout_user()
    session.clear()
    flash("Vous êtes déconnecté.", "success")
    return redirect(url_for("auth.login"))
