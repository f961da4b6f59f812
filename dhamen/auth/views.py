"""Portal authentication pages: login, MFA challenge, enrolment, logout, password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length

from dhamen import audit
from dhamen.auth import mfa, service, sessions
from dhamen.auth.roles import home_endpoint
from dhamen.extensions import db, limiter, login_manager
from dhamen.rbac import public, require_role

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField("Adresse e-mail", validators=[DataRequired("Saisissez votre adresse e-mail."),
                                                     Email("Adresse e-mail invalide."), Length(max=254)])
    password = PasswordField("Mot de passe", validators=[DataRequired("Saisissez votre mot de passe."),
                                                         Length(max=1024)])


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired("Saisissez le code."), Length(max=32)])


class PasswordForm(FlaskForm):
    current = PasswordField("Mot de passe actuel", validators=[DataRequired("Saisissez votre mot de passe actuel.")])
    new = PasswordField("Nouveau mot de passe", validators=[DataRequired("Saisissez un nouveau mot de passe.")])
    confirm = PasswordField("Confirmation", validators=[DataRequired("Confirmez le nouveau mot de passe.")])


def _settings():
    return current_app.config["DHAMEN"]


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _start_session(user, method: str | None = None):
    """Fresh session id at login: clear the cookie session and create a new Redis session."""
    next_url = _safe_next(session.get("next"))
    session.clear()
    s = _settings()
    sid = sessions.create(user, "web", s.session_idle_minutes * 60)
    session["sid"] = sid
    login_user(user, remember=False, fresh=True)
    service.record_login(user, "web", method)
    db.session.commit()
    return redirect(next_url or url_for(home_endpoint(user.role)))


@login_manager.user_loader
def _load_user(user_id: str):
    s = _settings()
    sid = session.get("sid")
    data = sessions.load(sid)
    user = service.load_user(user_id)
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
        db.session.commit()
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
    headers = {"Retry-After": str(result.retry_after)} if status == 429 else {}
    return response, status, headers


@bp.route("/connexion/mfa", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])
def mfa_challenge():
    token = session.get("mfa_token")
    user = service.pending_user(token)
    if user is None:
        session.pop("mfa_token", None)
        flash("Votre session de vérification a expiré : reconnectez-vous.", "warning")
        return redirect(url_for("auth.login"))
    if not user.mfa_enabled:
        return redirect(url_for("auth.mfa_enrol"))
    form = CodeForm()
    error, status = None, 200
    if form.validate_on_submit():
        result = service.verify_mfa(token, form.code.data, request.remote_addr)
        if result.ok:
            return _start_session(result.user, result.method)
        db.session.commit()
        error, status = result.message, (429 if result.retry_after else 401)
        if service.pending_user(token) is None:
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
    db.session.commit()
    flash(message, "success" if sent else "error")
    return redirect(url_for("auth.mfa_challenge"))


@bp.route("/compte/mfa", methods=["GET", "POST"])
@public  # signed-in users, or a user between password and forced enrolment; checked below
def mfa_enrol():
    pending = None
    if current_user.is_authenticated:
        user = current_user
    else:
        pending = session.get("mfa_token")
        user = service.pending_user(pending)
        if user is None:
            return redirect(url_for("auth.login"))
    secret = session.get("mfa_enrol_secret")
    if not secret or request.method == "GET":
        secret = mfa.new_secret()
        session["mfa_enrol_secret"] = secret
    form = CodeForm()
    error, status = None, 200
    if form.validate_on_submit():
        user.mfa_secret = secret
        if mfa.verify_totp(user, form.code.data):
            user.mfa_enabled = True
            codes = mfa.new_recovery_codes(user)
            audit.record("auth.mfa_enabled", "user", user.id, user=user)
            session.pop("mfa_enrol_secret", None)
            if pending:
                from dhamen.services import services

                services().redis.delete(f"mfa:{pending}")  # the pending token is single-use
                _start_session(user, "totp_enrolment")
            else:
                db.session.commit()
            session["recovery_codes_once"] = codes
            return redirect(url_for("auth.recovery_codes"))
        db.session.rollback()
        error, status = "Code incorrect : vérifiez l'heure de votre téléphone et saisissez le code affiché.", 422
        session["mfa_enrol_secret"] = secret
    elif request.method == "POST":
        status = 422
    uri = mfa.provisioning_uri(secret, user.email)
    return render_template("auth/mfa_enrol.html", form=form, error=error, qr=mfa.qr_data_uri(uri), secret=secret,
                           forced=pending is not None), status


@bp.get("/compte/codes-de-secours")
@require_role()
def recovery_codes():
    codes = session.pop("recovery_codes_once", None)
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
    db.session.commit()
    session["recovery_codes_once"] = codes
    return redirect(url_for("auth.recovery_codes"))


@bp.get("/compte")
@require_role()
def account():
    return render_template("auth/account.html", remaining=mfa.remaining_recovery_codes(current_user),
                           mfa_required=mfa.must_use_mfa(current_user))


@bp.route("/compte/mot-de-passe", methods=["GET", "POST"])
@require_role()
def change_password():
    form = PasswordForm()
    errors, status = [], 200
    if form.validate_on_submit():
        if form.new.data != form.confirm.data:
            errors = ["La confirmation ne correspond pas au nouveau mot de passe."]
        else:
            errors = service.change_password(current_user, form.current.data, form.new.data)
        if not errors:
            db.session.commit()
            logout_user()
            session.clear()
            flash("Mot de passe modifié : toutes vos sessions ont été fermées. Reconnectez-vous.", "success")
            return redirect(url_for("auth.login"))
        db.session.commit()  # the audit row of a failed attempt
        status = 422
    elif request.method == "POST":
        status = 422
    return render_template("auth/password.html", form=form, errors=errors), status


@bp.post("/deconnexion")
@public
def logout():
    sid = session.get("sid")
    if current_user.is_authenticated:
        audit.record("auth.logout", "user", current_user.id, {"channel": "web"})
        db.session.commit()
    sessions.end(sid)
    logout_user()
    session.clear()
    flash("Vous êtes déconnecté.", "success")
    return redirect(url_for("auth.login"))
