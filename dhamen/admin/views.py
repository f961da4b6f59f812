"""Admin portal: users (create, role, deactivate, reset MFA / password) and MFA policy."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from dhamen.access.auth import mfa, service
from dhamen.access.auth.passwords import hash_password, policy_errors
from dhamen.access.auth.views import email_validator
from dhamen.access.rbac import require_role
from dhamen.access.roles import INSURER_ROLES, ROLE_LABELS, ROLE_PROVIDER_TYPE, ROLES
from dhamen.core import audit
from dhamen.domain.labels import PROVIDER_TYPE_LABELS
from dhamen.extensions import db
from dhamen.models import Insurer, Provider, User

bp = Blueprint("admin", __name__, url_prefix="/admin")
PER_PAGE = 50


class UserForm(FlaskForm):
    email = EmailField("Adresse e-mail", validators=[DataRequired("Adresse e-mail obligatoire."),
                                                     email_validator(), Length(max=254)])
    first_name = StringField("Prénom", validators=[DataRequired("Prénom obligatoire."), Length(max=100)])
    last_name = StringField("Nom", validators=[DataRequired("Nom obligatoire."), Length(max=100)])
    role = SelectField("Rôle", choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLES])
    organisation = SelectField("Organisation", validate_choice=False, validators=[Optional()])
    phone = StringField("Téléphone (SMS)", validators=[Optional(), Length(max=30)])
    password = PasswordField("Mot de passe initial", validators=[DataRequired("Mot de passe obligatoire.")])


def _organisations():
    insurers = db.session.scalars(select(Insurer).where(Insurer.is_live).order_by(Insurer.name)).all()
    providers = db.session.scalars(select(Provider).where(Provider.is_live).order_by(Provider.name)).all()
    return [SelectChoice("", "—")] + [SelectChoice(f"insurer:{i.id}", f"Assureur · {i.name}") for i in insurers] + [
        SelectChoice(f"provider:{p.id}", f"Prestataire · {p.name} ({PROVIDER_TYPE_LABELS[p.type]})") for p in providers]


def _check_organisation(role: str, org: str) -> tuple[str | None, str | None, str | None]:
    """(insurer_id, provider_id, error) for a role and an 'insurer:ID' / 'provider:ID' choice."""
    kind, _, oid = (org or "").partition(":")
    if role == "ADMIN":
        return None, None, None if not org else "Un administrateur n'est rattaché à aucune organisation."
    if role in INSURER_ROLES:
        if kind != "insurer" or db.session.get(Insurer, oid) is None:
            return None, None, "Choisissez l'assureur de cet utilisateur."
        return oid, None, None
    provider = db.session.get(Provider, oid) if kind == "provider" else None
    if provider is None:
        return None, None, "Choisissez le prestataire de cet utilisateur."
    if provider.type != ROLE_PROVIDER_TYPE[role]:
        return None, None, "Le type du prestataire ne correspond pas au rôle choisi."
    return None, provider.id, None


@bp.get("/")
@require_role("ADMIN")
def home():
    page = request.args.get("page", 1, type=int) or 1
    page = max(page, 1)
    total = db.session.scalar(select(func.count()).select_from(User))
    users = db.session.scalars(select(User).order_by(User.role, User.email)
                               .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    return render_template("admin/home.html", users=users, page=page, pages=max(1, -(-total // PER_PAGE)),
                           required=mfa.required_roles(), roles=ROLES, role_labels=ROLE_LABELS)


@bp.route("/utilisateurs/nouveau", methods=["GET", "POST"])
@require_role("ADMIN")
def create_user():
    form = UserForm()
    form.organisation.choices = _organisations()
    errors, status = [], 200
    if form.validate_on_submit():
        insurer_id, provider_id, org_error = _check_organisation(form.role.data, form.organisation.data)
        errors = ([org_error] if org_error else []) + policy_errors(form.password.data, email=form.email.data)
        if service.find_by_email(form.email.data):
            errors.append("Un utilisateur existe déjà avec cette adresse e-mail.")
        if not errors:
            user = User(email=form.email.data.strip().lower(), first_name=form.first_name.data.strip(),
                        last_name=form.last_name.data.strip(), role=form.role.data, insurer_id=insurer_id,
                        provider_id=provider_id, phone=form.phone.data or None,
                        password_hash=hash_password(form.password.data))
            db.session.add(user)
            db.session.flush()
            audit.record("user.create", "user", user.id, {"email": user.email, "role": user.role,
                                                           "insurer_id": insurer_id, "provider_id": provider_id})
            flash(f"Utilisateur {user.email} créé.", "success")
            return redirect(url_for("admin.home"))
        status = 422
    elif request.method == "POST":
        status = 422
    return render_template("admin/user_form.html", form=form, errors=errors), status


def _target(user_id: str) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.post("/utilisateurs/<user_id>/role")
@require_role("ADMIN")
def change_role(user_id: str):
    user = _target(user_id)
    role = request.form.get("role", "")
    if role not in ROLES:
        flash("Rôle inconnu.", "error")
        return redirect(url_for("admin.home")), 303
    org = f"insurer:{user.insurer_id}" if user.insurer_id else (f"provider:{user.provider_id}" if user.provider_id else "")
    insurer_id, provider_id, error = _check_organisation(role, request.form.get("organisation", org))
    if error:
        flash(error, "error")
        return redirect(url_for("admin.home"))
    old = user.role
    user.role, user.insurer_id, user.provider_id = role, insurer_id, provider_id
    service.revoke_everything(user)
    audit.record("user.role_change", "user", user.id, {"role": [old, role]})
    flash(f"Rôle de {user.email} modifié.", "success")
    return redirect(url_for("admin.home"))


@bp.post("/utilisateurs/<user_id>/desactiver")
@require_role("ADMIN")
def deactivate(user_id: str):
    user = _target(user_id)
    if user.id == current_user.id:
        flash("Vous ne pouvez pas désactiver votre propre compte.", "error")
        return redirect(url_for("admin.home"))
    service.deactivate(user, current_user)
    flash(f"{user.email} désactivé : ses sessions et jetons sont révoqués.", "success")
    return redirect(url_for("admin.home"))


@bp.post("/utilisateurs/<user_id>/reactiver")
@require_role("ADMIN")
def reactivate(user_id: str):
    user = _target(user_id)
    user.is_active = True
    audit.record("user.reactivate", "user", user.id, {"is_active": [False, True]})
    flash(f"{user.email} réactivé.", "success")
    return redirect(url_for("admin.home"))


@bp.post("/utilisateurs/<user_id>/reinitialiser-mfa")
@require_role("ADMIN")
def reset_mfa(user_id: str):
    user = _target(user_id)
    mfa.disable(user)
    service.revoke_everything(user)
    audit.record("user.mfa_reset", "user", user.id)
    flash(f"Double authentification réinitialisée pour {user.email}.", "success")
    return redirect(url_for("admin.home"))


@bp.post("/utilisateurs/<user_id>/mot-de-passe")
@require_role("ADMIN")
def reset_password(user_id: str):
    user = _target(user_id)
    new = request.form.get("password", "")
    errors = policy_errors(new, email=user.email)
    if errors:
        flash(" ".join(errors), "error")
        return redirect(url_for("admin.home"))
    service.set_password(user, new, action="user.password_reset", actor=current_user)
    flash(f"Mot de passe de {user.email} réinitialisé ; ses sessions sont fermées.", "success")
    return redirect(url_for("admin.home"))


@bp.post("/mfa-roles")
@require_role("ADMIN")
def mfa_roles():
    chosen = set(request.form.getlist("roles"))
    if not chosen <= set(ROLES):
        flash("Rôle inconnu.", "error")
        return redirect(url_for("admin.home"))
    before = mfa.required_roles()
    mfa.set_required_roles(chosen)
    audit.record("settings.mfa_required_roles", "setting", "mfa_required_roles",
                 {"before": sorted(before), "after": sorted(chosen)})
    flash("Rôles soumis à la double authentification enregistrés.", "success")
    return redirect(url_for("admin.home"))

