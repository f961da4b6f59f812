"""Insurer admin pages (INSURER_ADMIN only): settings, conventions, users of its own insurer.

Everything is scoped to the admin's insurer: another insurer's convention or
user is "not found" (404).  Every change is audited with what changed.
"""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from dhamen.access.auth import service as auth_service
from dhamen.access.auth.passwords import hash_password, policy_errors
from dhamen.access.rbac import require_role
from dhamen.access.roles import ROLE_LABELS
from dhamen.access.tenancy import get_or_404, scoped
from dhamen.access.user_actions import add_user_actions
from dhamen.core import audit
from dhamen.domain.catalogue import CARE_TYPES
from dhamen.domain.config import RECONCILIATION_CYCLES
from dhamen.domain.fraud import DEFAULT_POINTS
from dhamen.domain.labels import CARE_TYPE_LABELS
from dhamen.domain.reasons import label as reason_label
from dhamen.extensions import db
from dhamen.insurer import conventions as operations
from dhamen.insurer import settings
from dhamen.insurer.views import bp
from dhamen.models import INSURER_ROLES, Convention, Insurer, Provider, User

ADMIN = "INSURER_ADMIN"
def _insurer() -> Insurer:
    return get_or_404(Insurer, current_user.insurer_id, current_user)


def _save_config(insurer: Insurer, new: dict, section: str) -> None:
    before = dict(insurer.config_json or {})
    diff = settings.changes(before, new)
    insurer.config_json = new
    audit.record("insurer.settings", "insurer", insurer.id, {"section": section, "changes": diff})


def _settings_page(errors=None, values=None, status=200, report=None):
    insurer = _insurer()
    config = insurer.config_json or {}
    context = {"insurer": insurer, "general": settings.general_values(config), "fraud": settings.fraud_values(config),
               "version": config.get("bareme_version") or "", "care_types": CARE_TYPE_LABELS,
               "cycles": {c: settings.CYCLE_LABELS[c] for c in RECONCILIATION_CYCLES},
               "fraud_ints": settings.FRAUD_INTS, "flag_points": [(c, reason_label(c)) for c in DEFAULT_POINTS],
               "counts": {t: len(settings.bareme_rows(config, t)) for t in CARE_TYPES},
               "errors": errors or {}, "report": report, "limits": settings.limits_values(config),
               "default_ceilings": settings.default_ceilings(), "ceiling_kinds": settings.CEILING_KINDS,
               "limit_ints": settings.LIMIT_INTS}
    if values:
        context.update(values)
    context["limit_rows"] = list(context["limits"]["rows"]) + [{"code": "", "quantity": "", "days": ""}] * settings.BLANK_ROWS
    return render_template("insurer/settings.html", **context), status


@bp.get("/parametres")
@require_role(ADMIN)
def settings_page():
    return _settings_page()


def _save_section(section: str, apply, message: str):
    """Apply the posted form of one settings section (shown again with its errors if refused)."""
    insurer = _insurer()
    try:
        new = apply(insurer.config_json or {}, request.form)
    except settings.SettingsError as exc:
        return _settings_page(exc.errors, {section: request.form}, 422)
    _save_config(insurer, new, section)
    flash(message, "success")
    return redirect(url_for(".settings_page"))


@bp.post("/parametres/general")
@require_role(ADMIN)
def settings_general():
    return _save_section("general", settings.apply_general,
                         "Paramètres enregistrés : ils s'appliquent aux nouvelles demandes.")


@bp.post("/parametres/fraude")
@require_role(ADMIN)
def settings_fraud():
    return _save_section("fraud", settings.apply_fraud,
                         "Règles de fraude enregistrées : elles s'appliquent aux nouvelles demandes.")


@bp.post("/parametres/plafonds")
@require_role(ADMIN)
def settings_limits():
    """Line and claim ceilings per care type, quantity limits per code, refill threshold, late claims."""
    insurer = _insurer()
    try:
        new = settings.apply_limits(insurer.config_json or {}, request.form)
    except settings.SettingsError as exc:
        posted = {k: v for k, v in request.form.items() if not k.startswith("qty-")}
        posted["rows"] = [{**row, "label": ""} for row in settings.posted_quantity_rows(request.form)]
        return _settings_page(exc.errors, {"limits": posted}, 422)
    _save_config(insurer, new, "limits")
    flash("Plafonds et limites enregistrés : ils s'appliquent aux nouvelles demandes.", "success")
    return redirect(url_for(".settings_page"))


@bp.post("/parametres/bareme/import")
@require_role(ADMIN)
def bareme_import():
    insurer = _insurer()
    upload = request.files.get("fichier")
    if upload is None or not upload.filename:
        return _settings_page({"fichier": "Choisissez un fichier CSV."}, status=422)
    new, report = settings.import_bareme(insurer.config_json or {}, upload.read(1_000_001)[:1_000_000], request.form)
    if new is None:
        return _settings_page({"fichier": "Import refusé : rien n'a été importé."}, status=422, report=report)
    _save_config(insurer, new, "bareme-import")
    flash(f"Barème importé : {report.accepted} tarif{'s' if report.accepted > 1 else ''}, version "
          f"{new['bareme_version']}.", "success")
    return redirect(url_for(".settings_page"))


@bp.route("/parametres/bareme", methods=["GET", "POST"])
@require_role(ADMIN)
def bareme():
    """One care type's tariffs (``?type=pharmacy``)."""
    care_type = request.args.get("type", "")
    if care_type not in CARE_TYPES:
        abort(404)
    insurer = _insurer()
    config = insurer.config_json or {}
    errors, status = {}, 200
    rows = settings.bareme_rows(config, care_type)
    version = config.get("bareme_version") or ""
    if request.method == "POST":
        try:
            new = settings.apply_bareme(config, care_type, request.form)
        except settings.SettingsError as exc:
            errors, status = exc.errors, 422
            version = request.form.get("version", "")
            rows = settings.posted_rows(request.form)
        else:
            _save_config(insurer, new, f"bareme-{care_type}")
            flash(f"Barème {CARE_TYPE_LABELS[care_type].lower()} enregistré (version {new['bareme_version']}) : "
                  "il s'applique aux nouvelles demandes.", "success")
            return redirect(url_for(".bareme", type=care_type))
    rows = list(rows) + [{"code": "", "price": ""}] * settings.BLANK_ROWS
    return render_template("insurer/bareme.html", care_type=care_type, label=CARE_TYPE_LABELS[care_type],
                           rows=rows, version=version, errors=errors), status


# --- conventions -------------------------------------------------------------------------------

@bp.get("/conventions")
@require_role(ADMIN)
def conventions():
    rows = db.session.scalars(scoped(select(Convention).join(Provider, Provider.id == Convention.provider_id)
                                     .order_by(Provider.name), Convention, current_user)).all()
    return render_template("insurer/conventions.html", conventions=rows, today=date.today(),
                           versions={c.id: (c.bareme_json or {}).get("version") for c in rows})


def _convention_form(convention: Convention | None, errors=None, form=None, status=200):
    taken = set(db.session.scalars(scoped(select(Convention.provider_id), Convention, current_user)))
    providers = db.session.scalars(select(Provider).where(Provider.deleted_at.is_(None), Provider.is_active.is_(True))
                                   .order_by(Provider.type, Provider.name)).all()
    values, dates = operations.form_values(convention, form)
    return render_template("insurer/convention_form.html", convention=convention, values=values, dates=dates,
                           providers=[p for p in providers if p.id not in taken or
                                      (convention and p.id == convention.provider_id)],
                           care_types=CARE_TYPE_LABELS, errors=errors or {}), status


@bp.route("/conventions/nouvelle", methods=["GET", "POST"])
@require_role(ADMIN)
def convention_new():
    if request.method == "GET":
        return _convention_form(None)

    convention, errors = operations.create(current_user.insurer_id, request.form)
    if errors:
        return _convention_form(None, errors, request.form, 422)
    flash(f"Convention créée avec {convention.provider.name}.", "success")
    return redirect(url_for(".conventions"))


@bp.route("/conventions/<convention_id>", methods=["GET", "POST"])
@require_role(ADMIN)
def convention_edit(convention_id: str):
    convention = get_or_404(Convention, convention_id, current_user)
    if request.method == "GET":
        return _convention_form(convention)

    errors = operations.update(convention, request.form)
    if errors:
        return _convention_form(convention, errors, request.form, 422)
    flash("Convention enregistrée : elle s'applique aux nouvelles demandes.", "success")
    return redirect(url_for(".conventions"))


@bp.post("/conventions/<convention_id>/fin")
@require_role(ADMIN)
def convention_end(convention_id: str):
    convention = get_or_404(Convention, convention_id, current_user)
    end, error = operations.end(convention, request.form.get("end_date"))
    if error:
        flash(error, "error")
        return redirect(url_for(".conventions"))
    flash(f"Convention avec {convention.provider.name} terminée le {end.strftime('%d/%m/%Y')}.", "success")
    return redirect(url_for(".conventions"))


# --- users of the insurer ------------------------------------------------------------------------

@bp.get("/utilisateurs")
@require_role(ADMIN)
def users():
    rows = db.session.scalars(scoped(select(User).order_by(User.last_name, User.first_name), User, current_user)).all()
    return render_template("insurer/users.html", users=rows, roles=ROLE_LABELS, form={}, errors={})


@bp.post("/utilisateurs")
@require_role(ADMIN)
def user_create():
    form = request.form
    errors: dict[str, str] = {}
    email = (form.get("email") or "").strip().lower()
    first, last = (form.get("first_name") or "").strip(), (form.get("last_name") or "").strip()
    role = form.get("role", "INSURER_AGENT")
    if not email or "@" not in email or len(email) > 254:
        errors["email"] = "Adresse e-mail invalide."
    elif auth_service.find_by_email(email):
        errors["email"] = "Un utilisateur existe déjà avec cette adresse e-mail."
    if not first or len(first) > 100:
        errors["first_name"] = "Prénom obligatoire (100 caractères au plus)."
    if not last or len(last) > 100:
        errors["last_name"] = "Nom obligatoire (100 caractères au plus)."
    if role not in INSURER_ROLES:
        errors["role"] = "Choisissez agent ou administrateur de votre compagnie."
    problems = policy_errors(form.get("password", ""), email=email)
    if problems:
        errors["password"] = " ".join(problems)
    if errors:
        rows = db.session.scalars(scoped(select(User).order_by(User.last_name, User.first_name), User, current_user)).all()
        return render_template("insurer/users.html", users=rows, roles=ROLE_LABELS, form=form, errors=errors), 422
    user = User(email=email, first_name=first, last_name=last, role=role, insurer_id=current_user.insurer_id,
                password_hash=hash_password(form["password"]))
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", "user", user.id, {"email": email, "role": role, "insurer_id": user.insurer_id})
    flash(f"Utilisateur {email} créé : il choisira sa double authentification à la première connexion.", "success")
    return redirect(url_for(".users"))


def _own_user(user_id: str) -> User:
    user = get_or_404(User, user_id, current_user)
    if user.role not in INSURER_ROLES:  # scoped already: an insurer's users are insurer roles
        abort(404)
    return user


add_user_actions(bp, ADMIN, _own_user, lambda _user: redirect(url_for(".users")), "user_")
