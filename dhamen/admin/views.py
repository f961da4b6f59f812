"""Admin portal: users (list, create, edit, role, temporary password, MFA, deactivation) and MFA policy.

The reference data pages live next door (``orgs``, ``members``, ``imports``, ``audit_log``)
and register their routes on the same blueprint.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from dhamen.access.auth import mfa, service
from dhamen.access.auth.passwords import hash_password, policy_errors
from dhamen.access.auth.views import email_validator
from dhamen.access.rbac import require_role
from dhamen.access.roles import INSURER_ROLES, ROLE_LABELS, ROLE_PROVIDER_TYPE, ROLES
from dhamen.access.user_actions import add_user_actions
from dhamen.admin.common import FrenchForm, apply_changes, form_errors, keyset, org_filter
from dhamen.core import audit
from dhamen.core.sqltypes import utcnow
from dhamen.domain.labels import PROVIDER_TYPE_LABELS
from dhamen.extensions import db
from dhamen.models import Insurer, Provider, User

bp = Blueprint("admin", __name__, url_prefix="/admin")


class UserForm(FrenchForm):
    email = EmailField("Adresse e-mail", validators=[DataRequired("obligatoire."),
                                                     email_validator("adresse invalide."), Length(max=254)])
    first_name = StringField("Prénom", validators=[DataRequired("obligatoire."), Length(max=100)])
    last_name = StringField("Nom", validators=[DataRequired("obligatoire."), Length(max=100)])
    role = SelectField("Rôle", choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLES])
    organisation = SelectField("Organisation", validate_choice=False, validators=[Optional()])
    phone = StringField("Téléphone (SMS)", validators=[Optional(), Length(max=30)])
    password = PasswordField("Mot de passe temporaire", validators=[DataRequired("obligatoire.")])


class UserEditForm(FrenchForm):
    email = UserForm.email
    first_name = UserForm.first_name
    last_name = UserForm.last_name
    phone = UserForm.phone


def _organisations():
    insurers = db.session.scalars(select(Insurer).where(Insurer.is_live).order_by(Insurer.name)).all()
    providers = db.session.scalars(select(Provider).where(Provider.is_live).order_by(Provider.name)).all()
    return [SelectChoice("", "—")] + [SelectChoice(f"insurer:{i.id}", f"Assureur · {i.name}") for i in insurers] + [
        SelectChoice(f"provider:{p.id}", f"{PROVIDER_TYPE_LABELS[p.type]} · {p.name}") for p in providers]


def _check_organisation(role: str, org: str) -> tuple[str | None, str | None, str | None]:
    """(insurer_id, provider_id, error) for a role and an 'insurer:ID' / 'provider:ID' choice."""
    kind, _, oid = (org or "").partition(":")
    if role == "ADMIN":
        return None, None, None if not org else "Organisation : un administrateur n'est rattaché à aucune organisation."
    if role in INSURER_ROLES:
        if kind != "insurer" or Insurer.get_live(oid) is None:
            return None, None, "Organisation : choisissez l'assureur de cet utilisateur."
        return oid, None, None
    provider = Provider.get_live(oid) if kind == "provider" else None
    if provider is None:
        return None, None, "Organisation : choisissez le prestataire de cet utilisateur."
    if provider.type != ROLE_PROVIDER_TYPE[role]:
        return None, None, (f"Organisation : un {ROLE_LABELS[role].lower()} se rattache à un prestataire de type "
                            f"« {PROVIDER_TYPE_LABELS[ROLE_PROVIDER_TYPE[role]]} ».")
    return None, provider.id, None


def _org_value(user: User) -> str:
    return f"insurer:{user.insurer_id}" if user.insurer_id else (f"provider:{user.provider_id}" if user.provider_id else "")


LAST_LOGIN_FILTERS = {"jamais": "Jamais connecté", "30j": "Connecté ces 30 derniers jours",
                      "inactif": "Pas connecté depuis 30 jours"}


def _user_filters(args) -> tuple[list, dict]:
    conditions, chosen = [], {}
    q = (args.get("q") or "").strip()[:100]
    if q:
        like = f"%{q.lower()}%"
        conditions.append(or_(func.lower(User.email).like(like), func.lower(User.first_name).like(like),
                              func.lower(User.last_name).like(like)))
        chosen["q"] = q
    role = args.get("role")
    if role in ROLES:
        conditions.append(User.role == role)
        chosen["role"] = role
    org_filter(args, User, conditions, chosen)
    for name, column in (("actif", User.is_active), ("mfa", User.mfa_enabled)):
        if args.get(name) in ("oui", "non"):
            conditions.append(column.is_(args[name] == "oui"))
            chosen[name] = args[name]
    last = args.get("connexion")
    month_ago = utcnow() - timedelta(days=30)
    if last == "jamais":
        conditions.append(User.last_login_at.is_(None))
    elif last == "30j":
        conditions.append(User.last_login_at >= month_ago)
    elif last == "inactif":
        conditions.append(or_(User.last_login_at.is_(None), User.last_login_at < month_ago))
    if last in LAST_LOGIN_FILTERS:
        chosen["connexion"] = last
    return conditions, chosen


@bp.get("/")
@require_role("ADMIN")
def home():
    conditions, chosen = _user_filters(request.args)
    stmt = select(User).where(*conditions)
    users, next_cursor = keyset(stmt, [User.email], request.args.get("apres"))
    total = db.session.scalar(select(func.count()).select_from(User).where(*conditions))
    return render_template("admin/users.html", users=users, next_cursor=next_cursor, total=total, chosen=chosen,
                           organisations=_organisations(), required=mfa.required_roles(), roles=ROLES,
                           role_labels=ROLE_LABELS, last_login_filters=LAST_LOGIN_FILTERS)


@bp.route("/utilisateurs/nouveau", methods=["GET", "POST"])
@require_role("ADMIN")
def create_user():
    form = UserForm()
    form.organisation.choices = _organisations()
    errors, status = [], 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            insurer_id, provider_id, org_error = _check_organisation(form.role.data, form.organisation.data)
            errors = ([org_error] if org_error else []) + [
                f"Mot de passe temporaire : {e}" for e in policy_errors(form.password.data, email=form.email.data)]
            if service.find_by_email(form.email.data):
                errors.append("Adresse e-mail : un utilisateur existe déjà avec cette adresse.")
            if not errors:
                user = User(email=form.email.data.strip().lower(), first_name=form.first_name.data.strip(),
                            last_name=form.last_name.data.strip(), role=form.role.data, insurer_id=insurer_id,
                            provider_id=provider_id, phone=form.phone.data or None,
                            password_hash=hash_password(form.password.data), must_change_password=True)
                db.session.add(user)
                db.session.flush()
                audit.record("user.create", "user", user.id, {"email": user.email, "role": user.role,
                                                               "insurer_id": insurer_id, "provider_id": provider_id})
                flash(f"Utilisateur {user.email} créé. Communiquez-lui son mot de passe temporaire : il devra le "
                      "changer à sa première connexion.", "success")
                return redirect(url_for("admin.edit_user", user_id=user.id), 303)
        else:
            errors = form_errors(form)
    return render_template("admin/user_form.html", form=form, errors=errors), status


def _target(user_id: str) -> User:
    user = db.session.get(User, user_id) if len(user_id) <= 26 else None
    if user is None:
        abort(404)
    return user


def _back(user: User):
    return redirect(url_for("admin.edit_user", user_id=user.id), 303)


@bp.route("/utilisateurs/<user_id>", methods=["GET", "POST"])
@require_role("ADMIN")
def edit_user(user_id: str):
    user = _target(user_id)
    form = UserEditForm(obj=user)
    errors, status = [], 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            email = form.email.data.strip().lower()
            other = service.find_by_email(email)
            if other is not None and other.id != user.id:
                errors.append("Adresse e-mail : un autre utilisateur a déjà cette adresse.")
            if not errors:
                changes = apply_changes(user, {"email": email, "first_name": form.first_name.data.strip(),
                                               "last_name": form.last_name.data.strip(),
                                               "phone": form.phone.data or None})
                if changes:
                    audit.record("user.update", "user", user.id, changes)
                    if "email" in changes or "phone" in changes:
                        service.revoke_everything(user)  # the login name or the SMS number changed
                    flash("Utilisateur modifié.", "success")
                else:
                    flash("Aucune modification.", "success")
                return _back(user)
        else:
            errors = form_errors(form)
    return render_template("admin/user_edit.html", user=user, form=form, errors=errors,
                           organisations=_organisations(), org_value=_org_value(user), roles=ROLES,
                           role_labels=ROLE_LABELS, mfa_required=mfa.must_use_mfa(user)), status


@bp.post("/utilisateurs/<user_id>/role")
@require_role("ADMIN")
def change_role(user_id: str):
    user = _target(user_id)
    role = request.form.get("role", "")
    if role not in ROLES:
        flash("Rôle : rôle inconnu.", "error")
        return _back(user)
    if user.id == current_user.id and role != "ADMIN":
        flash("Rôle : vous ne pouvez pas retirer votre propre rôle d'administrateur.", "error")
        return _back(user)
    insurer_id, provider_id, error = _check_organisation(role, request.form.get("organisation", _org_value(user)))
    if error:
        flash(error, "error")
        return _back(user)
    changes = apply_changes(user, {"role": role, "insurer_id": insurer_id, "provider_id": provider_id})
    if not changes:
        flash("Aucune modification.", "success")
        return _back(user)
    service.revoke_everything(user)
    audit.record("user.role_change", "user", user.id, changes)
    flash(f"Rôle de {user.email} modifié ; ses sessions sont fermées.", "success")
    return _back(user)


add_user_actions(bp, "ADMIN", _target, _back)


@bp.post("/utilisateurs/<user_id>/mot-de-passe")
@require_role("ADMIN")
def reset_password(user_id: str):
    user = _target(user_id)
    new = request.form.get("password", "")
    errors = [f"Mot de passe temporaire : {e}" for e in policy_errors(new, email=user.email)]
    if errors:
        flash(" ".join(errors), "error")
        return _back(user)
    service.set_password(user, new, action="user.password_reset", actor=current_user, temporary=True)
    flash(f"Mot de passe temporaire de {user.email} enregistré ; ses sessions sont fermées et il devra le "
          "changer à sa prochaine connexion.", "success")
    return _back(user)


@bp.post("/mfa-roles")
@require_role("ADMIN")
def mfa_roles():
    chosen = set(request.form.getlist("roles"))
    if not chosen <= set(ROLES):
        flash("Rôles : rôle inconnu.", "error")
        return redirect(url_for("admin.home"), 303)
    before = mfa.required_roles()
    mfa.set_required_roles(chosen)
    audit.record("settings.mfa_required_roles", "setting", "mfa_required_roles",
                 {"before": sorted(before), "after": sorted(chosen)})
    flash("Rôles soumis à la double authentification enregistrés.", "success")
    return redirect(url_for("admin.home"), 303)


from dhamen.admin import audit_log, conventions, imports, members, orgs  # noqa: E402,F401  (their routes join ``bp``)
