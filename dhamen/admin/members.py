"""Members (adhérents) and their contracts (ADMIN).

National ID and phone are typed in clear, stored encrypted (``EncryptedText``) and
looked up by the keyed hash; pages show them masked, and a national ID never
travels in a URL (the search is a POST).  Contracts: dates in order, a contract
number unique per insurer, statuses through ``domain.transitions.check_contract``,
coverage through the structured form of ``coverage_form``.
"""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from wtforms import DateField, EmailField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from dhamen.access.auth.views import email_validator
from dhamen.access.rbac import require_role
from dhamen.admin import coverage_form
from dhamen.admin.common import (
    CONTRACT_STATUS_LABELS,
    GENDER_LABELS,
    PLAN_LABELS,
    FrenchForm,
    apply_changes,
    form_errors,
    keyset,
    plain_values,
)
from dhamen.admin.views import bp
from dhamen.core import audit, crypto
from dhamen.core.sqltypes import utcnow
from dhamen.domain.errors import MoneyError
from dhamen.domain.money import format_tnd, parse_tnd
from dhamen.domain.payers import MAX_RANK, PayerContract, check_payer_ranks
from dhamen.domain.transitions import (
    CONTRACT_ACTION_LABELS,
    TransitionError,
    check_contract,
    contract_actions,
)
from dhamen.extensions import db
from dhamen.models import Adherent, Contract, Insurer

REQUIRED = "obligatoire."
NATIONAL_ID = Regexp(r"^[0-9A-Za-z .\-]{6,20}$", message="8 chiffres (CIN) ou un numéro de passeport.")
PHONE = Regexp(r"^\+?[0-9 .\-]{8,20}$", message="numéro invalide (chiffres, espaces, + en tête).")
NAME = Regexp(r"^[^\d<>{}@]+$", message="lettres seulement.")


def _past(form, field):
    if field.data and field.data > date.today():
        raise ValidationError("ne peut pas être dans le futur.")
    if field.data and field.data.year < 1900:
        raise ValidationError("antérieure à 1900 : vérifiez l'année.")


class MemberForm(FrenchForm):
    national_id = StringField("Numéro CIN", validators=[Optional(), NATIONAL_ID])
    first_name = StringField("Prénom", validators=[DataRequired(REQUIRED), Length(max=100), NAME])
    last_name = StringField("Nom", validators=[DataRequired(REQUIRED), Length(max=100), NAME])
    date_of_birth = DateField("Date de naissance", validators=[InputRequired("obligatoire (jj/mm/aaaa)."), _past],
                              format=["%Y-%m-%d", "%d/%m/%Y"])
    gender = SelectField("Sexe", choices=[SelectChoice("", "—")] + [SelectChoice(k, v) for k, v in GENDER_LABELS.items()],
                         validators=[Optional()])
    phone = StringField("Téléphone", validators=[Optional(), PHONE])
    email = EmailField("E-mail", validators=[Optional(), email_validator("adresse invalide."), Length(max=254)])
    address = StringField("Adresse", validators=[Optional(), Length(max=300)])
    city = StringField("Ville", validators=[Optional(), Length(max=100), NAME])


class ContractForm(FrenchForm):
    insurer_id = SelectField("Assureur", validate_choice=False, validators=[DataRequired("choisissez l'assureur.")])
    contract_number = StringField("Numéro de contrat", validators=[
        DataRequired(REQUIRED), Length(max=50),
        Regexp(r"^[A-Za-z0-9/_.\-]+$", message="lettres, chiffres, /, -, _ et . seulement.")])
    plan_type = SelectField("Formule", choices=[SelectChoice(k, v) for k, v in PLAN_LABELS.items()])
    start_date = DateField("Début", validators=[InputRequired("obligatoire (jj/mm/aaaa).")],
                           format=["%Y-%m-%d", "%d/%m/%Y"])
    end_date = DateField("Fin", validators=[InputRequired("obligatoire (jj/mm/aaaa).")], format=["%Y-%m-%d", "%d/%m/%Y"])
    carence_days = IntegerField("Délai de carence (jours)", default=0, validators=[
        Optional(), NumberRange(0, 3650, message="entre 0 et 3650 jours.")])
    annual_limit = StringField("Plafond annuel (TND)", validators=[Optional(), Length(max=30)])
    payer_rank = IntegerField("Ordre de prise en charge", default=1, validators=[
        InputRequired("obligatoire (1 : ce contrat paie en premier)."),
        NumberRange(1, MAX_RANK, message=f"un rang de 1 à {MAX_RANK} est attendu.")])
    exclusions = TextAreaField("Exclusions", validators=[Optional(), Length(max=5000)])

    def validate_end_date(self, field):
        if field.data and self.start_date.data and field.data < self.start_date.data:
            raise ValidationError("la date de fin précède la date de début.")


def _insurer_choices():
    insurers = db.session.scalars(select(Insurer).where(Insurer.is_live).order_by(Insurer.name)).all()
    return [SelectChoice("", "— choisir —")] + [SelectChoice(i.id, f"{i.name} ({i.code})") for i in insurers]


def find_member_by_national_id(value: str) -> Adherent | None:
    normal = crypto.normalise_national_id(value)
    if not normal:
        return None
    return db.session.scalar(select(Adherent).where(Adherent.national_id_hash == crypto.national_id_hash(normal)))


# --- search and list ----------------------------------------------------------------------

@bp.route("/adherents", methods=["GET", "POST"])
@require_role("ADMIN")
def members():
    """GET: every member (keyset by name); POST: search by national ID, contract number, or name + birth date."""
    conditions, searched, errors = [Adherent.is_live], None, []
    contracts = []
    if request.method == "POST":
        cin = (request.form.get("cin") or "").strip()
        number = (request.form.get("contrat") or "").strip()[:50]
        name = (request.form.get("nom") or "").strip()[:100]
        born = (request.form.get("naissance") or "").strip()
        if cin:
            member = find_member_by_national_id(cin)
            if member is not None and member.is_live:
                return redirect(url_for("admin.member", member_id=member.id), 303)
            searched = "CIN"
            conditions.append(Adherent.id.is_(None))
        elif number:
            contracts = db.session.scalars(select(Contract).where(func.upper(Contract.contract_number) == number.upper())
                                           .order_by(Contract.start_date.desc())).all()
            if len(contracts) == 1:
                return redirect(url_for("admin.member", member_id=contracts[0].adherent_id), 303)
            searched = "contrat"
            conditions.append(Adherent.id.in_([c.adherent_id for c in contracts]))
        elif name:
            searched = "nom"
            try:
                birth = date.fromisoformat(born) if born else None
            except ValueError:
                birth = None
                errors.append("Date de naissance : date invalide (jj/mm/aaaa).")
            if birth is None and not errors:
                errors.append("Date de naissance : obligatoire pour une recherche par nom.")
            parts = name.lower().split()
            for part in parts:
                conditions.append(func.lower(Adherent.first_name + " " + Adherent.last_name).like(f"%{part}%"))
            conditions.append(Adherent.date_of_birth == birth)
        else:
            errors.append("Recherche : saisissez un numéro CIN, un numéro de contrat ou un nom avec la date de naissance.")
        if errors:
            conditions.append(Adherent.id.is_(None))
    rows, next_cursor = keyset(select(Adherent).where(*conditions), [Adherent.last_name, Adherent.first_name, Adherent.id],
                               request.args.get("apres") if request.method == "GET" else None)
    total = db.session.scalar(select(func.count()).select_from(Adherent).where(*conditions))
    status = 422 if errors else 200
    return render_template("admin/members.html", rows=rows, next_cursor=next_cursor, total=total, searched=searched,
                           errors=errors, form=request.form if request.method == "POST" else {}), status


# --- one member -------------------------------------------------------------------------

def _member(member_id: str) -> Adherent:
    member = db.session.get(Adherent, member_id) if len(member_id) <= 26 else None
    if member is None:
        abort(404)
    return member


def _member_values(form: MemberForm) -> dict:
    def clean(v):
        return v.strip() or None if isinstance(v, str) else v

    values = {"first_name": form.first_name.data.strip(), "last_name": form.last_name.data.strip(),
              "date_of_birth": form.date_of_birth.data, "gender": form.gender.data or None,
              "email": clean(form.email.data), "address": clean(form.address.data), "city": clean(form.city.data)}
    if form.national_id.data:
        values["national_id"] = crypto.normalise_national_id(form.national_id.data)
    if form.phone.data:
        values["phone"] = form.phone.data.strip()
    return values


@bp.route("/adherents/nouveau", methods=["GET", "POST"])
@bp.route("/adherents/<member_id>/modifier", methods=["GET", "POST"])
@require_role("ADMIN")
def member_form(member_id: str | None = None):
    member = _member(member_id) if member_id else None
    form = MemberForm(obj=member) if member else MemberForm()
    if request.method == "GET" and member is not None:
        form.national_id.data = form.phone.data = ""  # typed again only to change them; shown masked
    errors, status = [], 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            values = _member_values(form)
            if member is None and "national_id" not in values:
                errors.append("Numéro CIN : obligatoire.")
            if "national_id" in values:
                other = find_member_by_national_id(values["national_id"])
                if other is not None and (member is None or other.id != member.id):
                    errors.append("Numéro CIN : un adhérent est déjà enregistré avec ce numéro.")
            if not errors:
                if member is None:
                    member = Adherent(**values)
                    db.session.add(member)
                    db.session.flush()
                    audit.record("member.create", "adherent", member.id, plain_values(values))
                    flash(f"Adhérent {member.full_name} créé.", "success")
                else:
                    if request.form.get("effacer_telephone"):
                        values["phone"] = None
                    changes = apply_changes(member, values)
                    if changes:
                        audit.record("member.update", "adherent", member.id, changes)
                    flash("Adhérent enregistré." if changes else "Aucune modification.", "success")
                return redirect(url_for("admin.member", member_id=member.id), 303)
        else:
            errors = form_errors(form)
    return render_template("admin/member_form.html", form=form, member=member, errors=errors), status


@bp.get("/adherents/<member_id>")
@require_role("ADMIN")
def member(member_id: str):
    m = _member(member_id)
    contracts = db.session.scalars(select(Contract).where(Contract.adherent_id == m.id)
                                   .order_by(Contract.start_date.desc())).all()
    return render_template("admin/member.html", member=m, contracts=contracts, status_labels=CONTRACT_STATUS_LABELS,
                           plan_labels=PLAN_LABELS, gender_labels=GENDER_LABELS, actions=contract_actions,
                           action_labels=CONTRACT_ACTION_LABELS, tnd=format_tnd)


@bp.post("/adherents/<member_id>/supprimer")
@require_role("ADMIN")
def member_delete(member_id: str):
    m = _member(member_id)
    live = [c for c in m.contracts if c.status in ("active", "suspended")]
    if live:
        flash(f"Suppression impossible : {len(live)} contrat(s) actif(s) ou suspendu(s). Résiliez-les d'abord.", "error")
        return redirect(url_for("admin.member", member_id=m.id), 303)
    if m.is_live:
        m.deleted_at = utcnow()
        audit.record("member.delete", "adherent", m.id, {"deleted_at": [None, m.deleted_at.isoformat()]})
    flash(f"Adhérent {m.full_name} supprimé.", "success")
    return redirect(url_for("admin.members"), 303)


# --- contracts --------------------------------------------------------------------------

def _contract(contract_id: str) -> Contract:
    c = db.session.get(Contract, contract_id) if len(contract_id) <= 26 else None
    if c is None:
        abort(404)
    return c


def contract_values(form: ContractForm, posted) -> tuple[dict, list[str]]:
    """The contract's columns from the form (identity fields + structured coverage), and the errors."""
    errors = []
    limit = None
    if form.annual_limit.data and form.annual_limit.data.strip():
        try:
            limit = parse_tnd(form.annual_limit.data)
        except MoneyError as exc:
            errors.append(f"Plafond annuel : {exc}")
    coverage, coverage_errors = coverage_form.coverage_from_form(posted)
    exclusions, exclusion_errors = coverage_form.exclusions_from_text(form.exclusions.data or "")
    errors += coverage_errors + exclusion_errors
    values = {"insurer_id": form.insurer_id.data, "contract_number": (form.contract_number.data or "").strip().upper(),
              "plan_type": form.plan_type.data, "start_date": form.start_date.data, "end_date": form.end_date.data,
              "carence_days": form.carence_days.data or 0, "annual_limit": limit, "coverage_json": coverage,
              "exclusions_json": exclusions, "payer_rank": form.payer_rank.data}
    return values, errors


def payer_contract(c: Contract, **over) -> PayerContract:
    values = {"id": c.id, "number": c.contract_number, "insurer": c.insurer.name if c.insurer else "",
              "start": c.start_date, "end": c.end_date, "status": c.status, "rank": c.payer_rank or 1, **over}
    return PayerContract(**values)


def _payer_errors(member: Adherent, contract: Contract | None, values: dict) -> list[str]:
    """The payer order of the member's contracts once this one is saved (only its own problems)."""
    insurer = db.session.get(Insurer, values["insurer_id"])
    edited = PayerContract(id=contract.id if contract else "", number=values["contract_number"],
                           insurer=insurer.name if insurer else "", start=values["start_date"],
                           end=values["end_date"], status=contract.status if contract else "active",
                           rank=values["payer_rank"])
    others = [payer_contract(c) for c in member.contracts if contract is None or c.id != contract.id]
    return check_payer_ranks([*others, edited], changed={edited.id})


def _duplicate_number(insurer_id: str, number: str, current_id: str | None) -> bool:
    other = db.session.scalar(select(Contract.id).where(Contract.insurer_id == insurer_id,
                                                        func.upper(Contract.contract_number) == number.upper()))
    return other is not None and other != current_id


@bp.route("/adherents/<member_id>/contrats/nouveau", methods=["GET", "POST"])
@bp.route("/contrats/<contract_id>", methods=["GET", "POST"])
@require_role("ADMIN")
def contract_form(member_id: str | None = None, contract_id: str | None = None):
    contract = _contract(contract_id) if contract_id else None
    member = contract.adherent if contract else _member(member_id)
    form = ContractForm(obj=contract) if contract else ContractForm()
    form.insurer_id.choices = _insurer_choices()
    if request.method == "GET" and contract is None:  # a second contract in force is proposed as a complement
        form.payer_rank.data = min(MAX_RANK, 1 + sum(c.status in ("active", "suspended") for c in member.contracts))
    if request.method == "GET" and contract is not None:
        form.annual_limit.data = format_tnd(contract.annual_limit, with_unit=False) if contract.annual_limit else ""
        form.exclusions.data = "\n".join(contract.exclusions_json or [])
    coverage_values = coverage_form.form_from_coverage(contract.coverage_json if contract else None)
    errors, status = [], 200
    if request.method == "POST":
        status = 422
        coverage_values = request.form
        valid = form.validate_on_submit()
        # Every error at once: the fields', then the amounts', coverage's and exclusions'.
        values, value_errors = contract_values(form, request.form)
        errors = form_errors(form) + value_errors
        if valid:
            if Insurer.get_live(values["insurer_id"]) is None:
                errors.append("Assureur : choisissez un assureur en service.")
            elif _duplicate_number(values["insurer_id"], values["contract_number"], contract.id if contract else None):
                errors.append(f"Numéro de contrat : « {values['contract_number']} » existe déjà chez cet assureur.")
            else:
                errors += _payer_errors(member, contract, values)
            if not errors:
                if contract is None:
                    contract = Contract(adherent_id=member.id, status="active", **values)
                    db.session.add(contract)
                    db.session.flush()
                    audit.record("contract.create", "contract", contract.id, plain_values(values),
                                 insurer_id=contract.insurer_id)
                    message = f"Contrat {contract.contract_number} créé."
                else:
                    changes = apply_changes(contract, values)
                    if changes:
                        audit.record("contract.update", "contract", contract.id, changes, insurer_id=contract.insurer_id)
                    message = "Contrat enregistré." if changes else "Aucune modification."
                flash(message, "success")
                return redirect(url_for("admin.member", member_id=member.id), 303)
    return render_template("admin/contract_form.html", form=form, contract=contract, member=member, errors=errors,
                           coverage=coverage_form.coverage_rows(coverage_values), status_labels=CONTRACT_STATUS_LABELS,
                           actions=contract_actions(contract.status) if contract else [],
                           action_labels=CONTRACT_ACTION_LABELS), status


@bp.post("/contrats/<contract_id>/statut")
@require_role("ADMIN")
def contract_status(contract_id: str):
    contract = _contract(contract_id)
    action = request.form.get("action", "")
    try:
        new = check_contract(contract.status, action)
    except TransitionError as exc:
        flash(f"Statut : {exc}", "error")
        return redirect(url_for("admin.contract_form", contract_id=contract.id), 303)
    if action == "reactivate" and contract.end_date < date.today():
        flash("Statut : le contrat est arrivé à échéance ; créez un nouveau contrat plutôt que de le réactiver.", "error")
        return redirect(url_for("admin.contract_form", contract_id=contract.id), 303)
    old = contract.status
    contract.status = new
    audit.record(f"contract.{action}", "contract", contract.id, {"status": [old, new]}, insurer_id=contract.insurer_id)
    flash(f"Contrat {contract.contract_number} : {CONTRACT_STATUS_LABELS[new].lower()}.", "success")
    return redirect(url_for("admin.member", member_id=contract.adherent_id), 303)


# --- the order of payers of a member's contracts ------------------------------------------

def _ranked(member: Adherent) -> list[Contract]:
    """The member's contracts in force (active, suspended), in payer order."""
    live = [c for c in member.contracts if c.status in ("active", "suspended")]
    return sorted(live, key=lambda c: (c.payer_rank or 1, c.start_date, c.contract_number))


@bp.route("/adherents/<member_id>/ordre-des-payeurs", methods=["GET", "POST"])
@require_role("ADMIN")
def payer_order(member_id: str):
    """Every contract in force of the member ranked at once (swapping two ranks is one change)."""
    m = _member(member_id)
    contracts = _ranked(m)
    chosen = {c.id: str(c.payer_rank or 1) for c in contracts}
    errors, status = [], 200
    if request.method == "POST":
        status = 422
        ranks = {}
        for c in contracts:
            raw = (request.form.get(f"rang_{c.id}") or "").strip()
            chosen[c.id] = raw
            if not raw.isdigit() or not 1 <= int(raw) <= MAX_RANK:
                errors.append(f"Ordre de prise en charge du contrat {c.contract_number} ({c.insurer.name}) : "
                              f"un rang de 1 à {MAX_RANK} est attendu.")
            else:
                ranks[c.id] = int(raw)
        if not contracts:
            errors.append("Ordre de prise en charge : l'adhérent n'a aucun contrat en cours.")
        if not errors:
            ended = [payer_contract(c) for c in m.contracts if c.id not in ranks]
            errors = check_payer_ranks([*ended, *(payer_contract(c, rank=ranks[c.id]) for c in contracts)],
                                       changed=set(ranks))
        if not errors:
            changed = 0
            for c in contracts:
                if (c.payer_rank or 1) != ranks[c.id]:
                    audit.record("contract.payer_rank", "contract", c.id, {"payer_rank": [c.payer_rank, ranks[c.id]]},
                                 insurer_id=c.insurer_id)
                    c.payer_rank = ranks[c.id]
                    changed += 1
            flash("Ordre de prise en charge enregistré." if changed else "Aucune modification.", "success")
            return redirect(url_for("admin.member", member_id=m.id), 303)
    return render_template("admin/payer_order.html", member=m, contracts=contracts, chosen=chosen, errors=errors,
                           max_rank=min(MAX_RANK, max(len(contracts), 1)), status_labels=CONTRACT_STATUS_LABELS), status
