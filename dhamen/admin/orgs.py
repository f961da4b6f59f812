"""Insurers and providers: list, search, create, edit, soft-delete, restore (ADMIN).

Both go through one ``Directory`` (model, form, labels, unique fields); every change is
audited with its before → after values.  A deleted organisation keeps its history
(``deleted_at``), disappears from the lists and choices, and can be restored.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select
from wtforms import BooleanField, DecimalField, EmailField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from dhamen.access.auth.views import email_validator
from dhamen.access.rbac import require_role
from dhamen.admin.common import PROVIDER_TYPE_LABELS, FrenchForm, apply_changes, form_errors, keyset
from dhamen.admin.views import bp
from dhamen.core import audit
from dhamen.core.sqltypes import utcnow
from dhamen.extensions import db
from dhamen.models import Insurer, Provider, User

PROVIDER_TYPES = tuple(PROVIDER_TYPE_LABELS)

REQUIRED = "obligatoire."
PHONE = Regexp(r"^\+?[0-9 .\-]{8,20}$", message="numéro invalide (chiffres, espaces, + en tête).")
# Tunisia's bounding box: a provider's pin outside it is a typo (swapped or truncated coordinates).
LAT_RANGE, LNG_RANGE = (30.2, 37.6), (7.5, 11.6)


class InsurerForm(FrenchForm):
    name = StringField("Raison sociale", validators=[DataRequired(REQUIRED), Length(max=200)])
    code = StringField("Code", validators=[DataRequired(REQUIRED), Length(max=20),
                                           Regexp(r"^[A-Za-z0-9_-]+$", message="lettres, chiffres, - et _ seulement.")])
    tax_id = StringField("Matricule fiscal", validators=[Optional(), Length(max=50)])
    address = StringField("Adresse", validators=[Optional(), Length(max=300)])
    phone = StringField("Téléphone", validators=[Optional(), PHONE])
    email = EmailField("E-mail", validators=[Optional(), email_validator("adresse invalide."), Length(max=254)])
    is_active = BooleanField("Actif", default=True)


class ProviderForm(FrenchForm):
    type = SelectField("Type", choices=[SelectChoice("", "— choisir —")]
                       + [SelectChoice(t, PROVIDER_TYPE_LABELS[t]) for t in PROVIDER_TYPES],
                       validators=[DataRequired("choisissez le type de prestataire.")])
    name = StringField("Nom", validators=[DataRequired(REQUIRED), Length(max=200)])
    license_no = StringField("Numéro d'agrément", validators=[DataRequired(REQUIRED), Length(max=50)])
    speciality = StringField("Spécialité", validators=[Optional(), Length(max=100)])
    address = StringField("Adresse", validators=[DataRequired(REQUIRED), Length(max=300)])
    city = StringField("Ville", validators=[DataRequired(REQUIRED), Length(max=100),
                                           Regexp(r"^[^\d<>{}]+$", message="un nom de ville, sans chiffres.")])
    lat = DecimalField("Latitude", places=None, render_kw={"inputmode": "decimal"}, validators=[Optional(), NumberRange(
        *LAT_RANGE, message=f"hors de Tunisie (entre {LAT_RANGE[0]} et {LAT_RANGE[1]}).")])
    lng = DecimalField("Longitude", places=None, render_kw={"inputmode": "decimal"}, validators=[Optional(), NumberRange(
        *LNG_RANGE, message=f"hors de Tunisie (entre {LNG_RANGE[0]} et {LNG_RANGE[1]}).")])
    phone = StringField("Téléphone", validators=[Optional(), PHONE])
    email = EmailField("E-mail", validators=[Optional(), email_validator("adresse invalide."), Length(max=254)])
    is_active = BooleanField("Actif", default=True)

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if ok and (self.lat.data is None) != (self.lng.data is None):
            empty = self.lng if self.lng.data is None else self.lat
            empty.errors = [*empty.errors, "latitude et longitude vont ensemble (les deux ou aucune)."]
            return False
        return ok


@dataclass(frozen=True)
class Directory:
    kind: str            # entity_type of the audit rows
    model: type
    form: type
    plural: str
    singular: str
    endpoint: str        # list endpoint; the others derive from it
    unique: tuple        # (attribute, French label)
    search: tuple        # columns searched by q

    @property
    def arg(self) -> str:
        """The id's name in the URLs (``insurer_id``, ``provider_id``)."""
        return f"{self.kind}_id"

    def values(self, form) -> dict:
        out = {}
        for name in form.data:
            if name in ("csrf_token",):
                continue
            value = form.data[name]
            if isinstance(value, str):
                value = value.strip() or None
            if name in ("lat", "lng") and value is not None:
                value = float(value)
            out[name] = value
        if "code" in out and out["code"]:
            out["code"] = out["code"].upper()
        if "license_no" in out and out["license_no"]:
            out["license_no"] = out["license_no"].upper()
        return out


INSURERS = Directory("insurer", Insurer, InsurerForm, "Assureurs", "assureur", "admin.insurers",
                     (("code", "Code"),), (Insurer.name, Insurer.code))
PROVIDERS = Directory("provider", Provider, ProviderForm, "Prestataires", "prestataire", "admin.providers",
                      (("license_no", "Numéro d'agrément"),), (Provider.name, Provider.license_no, Provider.city))


def _list(d: Directory):
    m = d.model
    conditions = []
    chosen = {}
    q = (request.args.get("q") or "").strip()[:100]
    if q:
        like = f"%{q.lower()}%"
        conditions.append(or_(*[func.lower(c).like(like) for c in d.search]))
        chosen["q"] = q
    if request.args.get("supprimes") == "oui":
        conditions.append(m.deleted_at.is_not(None))
        chosen["supprimes"] = "oui"
    else:
        conditions.append(m.is_live)
    if d is PROVIDERS:
        if request.args.get("type") in PROVIDER_TYPES:
            conditions.append(Provider.type == request.args["type"])
            chosen["type"] = request.args["type"]
        city = (request.args.get("ville") or "").strip()[:100]
        if city:
            conditions.append(func.lower(Provider.city) == city.lower())
            chosen["ville"] = city
    rows, next_cursor = keyset(select(m).where(*conditions), [m.name, m.id], request.args.get("apres"))
    total = db.session.scalar(select(func.count()).select_from(m).where(*conditions))
    cities = db.session.scalars(select(Provider.city).distinct().order_by(Provider.city)).all() if d is PROVIDERS else []
    return render_template("admin/orgs.html", d=d, rows=rows, next_cursor=next_cursor, total=total, chosen=chosen,
                           type_labels=PROVIDER_TYPE_LABELS, cities=cities)


def _unique_errors(d: Directory, values: dict, current_id: str | None) -> list[str]:
    errors = []
    for attr, label in d.unique:
        column = getattr(d.model, attr)
        other = db.session.scalar(select(d.model).where(func.upper(column) == values[attr].upper()))
        if other is not None and other.id != current_id:
            where = " (par un " + d.singular + " supprimé)" if other.deleted_at else ""
            errors.append(f"{label} : « {values[attr]} » est déjà utilisé{where}.")
    return errors


def _edit(d: Directory, obj=None):
    form = d.form(obj=obj)
    errors, status = [], 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            values = d.values(form)
            errors = _unique_errors(d, values, obj.id if obj else None)
            if obj is not None and d is PROVIDERS and values["type"] != obj.type:
                users = db.session.scalar(select(func.count()).select_from(User).where(User.provider_id == obj.id))
                if users:
                    errors.append(f"Type : {users} utilisateur(s) sont rattachés à ce prestataire avec un rôle du "
                                  "type actuel ; changez d'abord leur rôle.")
            if not errors:
                if obj is None:
                    obj = d.model(**values)
                    if d is INSURERS:
                        obj.config_json = {}
                    db.session.add(obj)
                    db.session.flush()
                    audit.record(f"{d.kind}.create", d.kind, obj.id, values)
                    message = f"{d.singular.capitalize()} « {obj.name} » créé."
                else:
                    changes = apply_changes(obj, values)
                    if changes:
                        audit.record(f"{d.kind}.update", d.kind, obj.id, changes)
                    message = f"{d.singular.capitalize()} « {obj.name} » enregistré." if changes else "Aucune modification."
                flash(message, "success")
                return redirect(url_for(d.endpoint + "_edit", **{d.arg: obj.id}), 303)
        else:
            errors = form_errors(form)
    return render_template("admin/org_form.html", d=d, form=form, obj=obj, errors=errors), status


def _get(d: Directory, obj_id: str):
    obj = db.session.get(d.model, obj_id) if len(obj_id) <= 26 else None
    if obj is None:
        abort(404)
    return obj


def _delete(d: Directory, obj_id: str):
    obj = _get(d, obj_id)
    if obj.is_live:
        column = User.insurer_id if d is INSURERS else User.provider_id
        active = db.session.scalar(select(func.count()).select_from(User).where(column == obj.id, User.is_active))
        if active:
            flash(f"Suppression impossible : {active} utilisateur(s) actif(s) sont rattachés à ce {d.singular}. "
                  "Désactivez-les d'abord.", "error")
            return redirect(url_for(d.endpoint + "_edit", **{d.arg: obj.id}), 303)
        obj.deleted_at = utcnow()
        audit.record(f"{d.kind}.delete", d.kind, obj.id, {"deleted_at": [None, obj.deleted_at.isoformat()]})
    flash(f"{d.singular.capitalize()} « {obj.name} » supprimé (restaurable).", "success")
    return redirect(url_for(d.endpoint), 303)


def _restore(d: Directory, obj_id: str):
    obj = _get(d, obj_id)
    if not obj.is_live:
        audit.record(f"{d.kind}.restore", d.kind, obj.id, {"deleted_at": [obj.deleted_at.isoformat(), None]})
        obj.deleted_at = None
    flash(f"{d.singular.capitalize()} « {obj.name} » restauré.", "success")
    return redirect(url_for(d.endpoint + "_edit", **{d.arg: obj.id}), 303)


def _routes(d: Directory, path: str) -> None:
    name = d.endpoint.removeprefix("admin.")

    def listing():
        return _list(d)

    def create():
        return _edit(d)

    def edit(**kw):
        return _edit(d, _get(d, kw[d.arg]))

    def delete(**kw):
        return _delete(d, kw[d.arg])

    def restore(**kw):
        return _restore(d, kw[d.arg])

    admin_only = require_role("ADMIN")
    bp.add_url_rule(f"/{path}", name, admin_only(listing), methods=["GET"])
    bp.add_url_rule(f"/{path}/nouveau", f"{name}_new", admin_only(create), methods=["GET", "POST"])
    arg = f"<{d.arg}>"
    bp.add_url_rule(f"/{path}/{arg}", f"{name}_edit", admin_only(edit), methods=["GET", "POST"])
    bp.add_url_rule(f"/{path}/{arg}/supprimer", f"{name}_delete", admin_only(delete), methods=["POST"])
    bp.add_url_rule(f"/{path}/{arg}/restaurer", f"{name}_restore", admin_only(restore), methods=["POST"])


_routes(INSURERS, "assureurs")
_routes(PROVIDERS, "prestataires")
