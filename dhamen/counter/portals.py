"""Claim entry at the counter: one mechanism, four provider portals.

A :class:`ClaimEntryConfig` says what differs between the pharmacy, the
doctor's office, the lab and the clinic (care type, role, URL, words, extra
fields); :func:`make_blueprint` builds the same views and templates for
each.  Views are thin: load → authorise (``require_role`` + tenant scoping)
→ call :mod:`dhamen.claims.queries` / :mod:`~dhamen.claims.operations` → render.  The only write is
:func:`submit`, which commits once.

Pages (under the portal's prefix, e.g. ``/pharmacie``)::

    GET  /                          counter: member search, latest claims       (endpoint home)
    POST /recherche                 search by CIN / contract number / name      (search; htmx fragment)
    GET  /adherents/<id>/droits     rights of every contract of a member        (rights)
    GET  /saisie/<contract_id>      claim entry: rights, recent claims, lines   (entry)
    GET  /saisie/<contract_id>/droits?care_date=   rights panel on that date (rights_panel; htmx)
    POST /saisie/<contract_id>/apercu   adjudication preview, nothing stored    (preview; htmx fragment)
    POST /saisie/<contract_id>/valider  submit once (idempotency token)         (submit)
    GET  /catalogue?q=&contrat=     code autocomplete (<datalist>)               (catalogue_options)
    GET  /catalogue/code?code=&contrat=  one exact code: label, price, generic (JSON; code_lookup)
    GET  /demandes                  history of the provider's own claims        (history)
    GET  /demandes/<id>             result / detail (id or short reference)     (claim)
    GET  /demandes/<id>/statut      result card, polled until the insurer decides (claim_status; htmx)
    GET  /dernieres                 the home's latest claims, polled likewise   (latest_claims; htmx)
    GET  /demandes/<id>/recu        printable receipt                           (receipt)
    GET  /demandes/<id>/recu.pdf    receipt as PDF                              (receipt_pdf)

A national ID never travels in a URL: searches are POSTed, and the
history's member filter takes a name only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import Blueprint, abort, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from dhamen.access.rbac import require_role
from dhamen.access.roles import ROLE_PROVIDER_TYPE
from dhamen.access.tenancy import get_or_404
from dhamen.claims import figures, listing, lookup, operations, queries
from dhamen.claims.errors import ClaimError
from dhamen.claims.queries import ContractRights
from dhamen.core import crypto
from dhamen.core.http import status_of
from dhamen.core.pagination import CursorError
from dhamen.counter.forms import EntryForm, LineRow, new_token, read_entry_form
from dhamen.counter.next_steps import next_step
from dhamen.counter.receipt import LineView, claim_lines, preview_lines, render_pdf
from dhamen.domain import catalogue, reasons
from dhamen.domain.adjudication import Adjudication
from dhamen.domain.coverage import with_tariffs
from dhamen.domain.history import OVERRIDE_REASONS
from dhamen.domain.labels import CARE_TYPE_LABELS, STATUS_LABELS
from dhamen.domain.limits import MAX_CARE_AGE_DAYS, MAX_ROOM_LENGTH
from dhamen.domain.money import format_tnd, percent_label
from dhamen.domain.text import normalize_code
from dhamen.domain.transitions import OPEN_FOR_REVIEW
from dhamen.extensions import db
from dhamen.models import Adherent, Contract, IdempotencyKey, Provider

PER_PAGE = 25
LATEST = 8  # claims on the counter's home
AWAITING = OPEN_FOR_REVIEW  # statuses waiting for the insurer's decision: the pages poll until it comes
POLL_SECONDS = 5  # how often a page waiting for the insurer asks again (a small fragment)


@dataclass(frozen=True)
class ClaimEntryConfig:
    """What one provider portal changes in the shared claim-entry mechanism."""

    name: str  # blueprint name, as in HOME_ENDPOINTS
    role: str
    url_prefix: str
    title: str  # the portal, in the page titles
    items_title: str  # heading of the lines editor
    code_hint: str  # placeholder of the code input
    care_date_label: str = "Date des soins"
    with_generic: bool = False  # generic-drug checkbox per line
    with_speciality: bool = False  # show the provider's speciality
    with_stay: bool = False  # admission (= care date), discharge date, room

    @property
    def provider_type(self) -> str:
        return ROLE_PROVIDER_TYPE[self.role]

    @property
    def care_type(self) -> str:
        return catalogue.PROVIDER_CARE_TYPE[self.provider_type]

    @property
    def care_label(self) -> str:
        return CARE_TYPE_LABELS[self.care_type]

    def nav(self) -> list[tuple[str, str]]:
        return [("Comptoir", f"{self.name}.home"), ("Historique", f"{self.name}.history")]


CONFIGS = (
    ClaimEntryConfig("pharmacist", "PHARMACIST", "/pharmacie", "Pharmacie", "Médicaments délivrés",
                     "PH0001 ou nom", "Date de délivrance", with_generic=True),
    ClaimEntryConfig("doctor", "DOCTOR", "/medecin", "Cabinet médical", "Actes (C1, C2, V1…)",
                     "C1, C2, V1…", "Date de consultation", with_speciality=True),
    ClaimEntryConfig("lab", "LAB_MANAGER", "/laboratoire", "Laboratoire", "Analyses",
                     "B-NFS ou nom", "Date du prélèvement"),
    ClaimEntryConfig("clinic", "CLINIC_ADMIN", "/clinique", "Clinique", "Actes, forfaits et séjour",
                     "CH-J, BLOC, KC50…", "Date d'admission", with_stay=True),
)
BY_NAME = {config.name: config for config in CONFIGS}
BY_ROLE = {config.role: config for config in CONFIGS}


def portal() -> ClaimEntryConfig:
    """The configuration of the portal serving this request."""
    return BY_NAME[request.blueprint]


def provider_nav() -> list[tuple[str, str]]:
    config = BY_ROLE.get(getattr(current_user, "role", None))
    return config.nav() if config else []


def register(app) -> None:
    for config in CONFIGS:
        app.register_blueprint(make_blueprint(config))
    app.extensions["dhamen.provider_nav"] = provider_nav


# --- view helpers -------------------------------------------------------------------------------

def _htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _provider() -> Provider:
    """The signed-in user's establishment, of this portal's type (else a French 403 page)."""
    provider = current_user.provider
    config = portal()
    if provider is None or not provider.is_live or provider.type != config.provider_type:
        abort(make_response(render_template(
            "counter/unavailable.html",
            message=f"Votre compte n'est rattaché à aucun établissement de type « {config.title.lower()} » : "
                    "demandez à l'administrateur de le relier à votre établissement."), 403))
    return provider


def _contract(contract_id: str) -> Contract:
    contract = get_or_404(Contract, contract_id, current_user, options=(selectinload(Contract.insurer),
                                                          selectinload(Contract.adherent)))
    if not contract.adherent.is_live:
        abort(404)
    return contract


def glance(r: ContractRights) -> tuple[str, str]:
    """(badge class, text): the contract's coverage at this counter, in a few words."""
    e = r.eligibility
    if not e.inforce:
        return "danger", e.message
    if not r.has_convention:
        return "warn", "Pas de convention avec votre établissement"
    rate = percent_label(e.care_type_rate_bp) if e.care_type_rate_bp is not None else "—"
    left = "sans plafond" if e.remaining is None else f"reste {format_tnd(e.remaining)}"
    return "ok", f"En vigueur · {rate} · {left}"


def ended_notice(contract: Contract, today: date | None = None) -> str | None:
    """A contract whose period ended less than a year ago still covers the care received before
    its end (a clinic bills a stay after discharge): the entry page stays open, with this notice."""
    today = today or date.today()
    if contract.status != "active" or not today - timedelta(days=MAX_CARE_AGE_DAYS) <= contract.end_date < today:
        return None
    return (f"Le contrat a pris fin le {contract.end_date.strftime('%d/%m/%Y')} : seuls les soins reçus jusqu'à "
            "cette date peuvent être pris en charge. Indiquez la date des soins.")


def refusal(r: ContractRights, provider: Provider) -> str | None:
    """Why no claim can be entered here for this contract, or None."""
    if not provider.is_active:
        return "Votre établissement est désactivé : aucune demande ne peut être saisie."
    # The contract's own state first: a suspended contract is said to be suspended, whatever
    # the conventions of its insurer.
    if not r.eligibility.inforce and not (r.eligibility.reason_code == reasons.CONTRACT_ENDED
                                          and ended_notice(r.contract)):
        return f"Prise en charge impossible : {r.eligibility.message}. L'adhérent règle la totalité."
    if not r.has_convention:
        return (f"Pas de convention de tiers payant en vigueur entre votre établissement et {r.insurer.name} : "
                f"le contrat {r.contract.contract_number} ne peut pas être pris en charge ici. "
                "L'adhérent règle la totalité et se fait rembourser par son assureur.")
    return None


def exclusion_label(entry: str) -> str:
    value = entry.strip()
    if value.lower().startswith("cat:"):
        return f"Catégorie « {value[4:].strip()} »"
    if value.endswith("*"):
        return f"Codes commençant par {value[:-1]}"
    for care_type in catalogue.CARE_TYPES:
        item = catalogue.find(care_type, value)
        if item is not None:
            return f"{item.code} — {item.label}"
    return value


@dataclass
class MemberResult:
    member: Adherent
    rights: list[ContractRights] = field(default_factory=list)
    error: str | None = None


@dataclass
class Decompte:
    """What the preview area shows: the form's problems, a refusal, or the engine's answer."""

    form: EntryForm
    outcome: Adjudication | None = None
    lines: list[LineView] = field(default_factory=list)
    error: str | None = None
    error_link: str | None = None
    status: int = 200


def _rights_for(contract: Contract, provider: Provider, on: date) -> ContractRights:
    for r in queries.rights(current_user, contract.adherent, portal().care_type, on, provider):
        if r.contract.id == contract.id:
            return r
    abort(404)


def _read_form(strict: bool) -> EntryForm:
    config = portal()
    return read_entry_form(request.form, config.care_type, today=date.today(), strict=strict,
                           with_stay=config.with_stay)


def _adjudicate(form: EntryForm, contract: Contract) -> Decompte:
    decompte = Decompte(form)
    if form.has_errors:
        decompte.status = 422
        return decompte
    if not form.items:
        return decompte
    try:
        form.care_date = operations.parse_care_date(form.care_date_raw)
        _req, result = operations.preview(current_user, contract.id, portal().care_type, form.care_date, form.items,
                                          form.details, submitted=form.submit_to_insurer,
                                          override_reason=form.override_reason)
    except ClaimError as exc:
        _refused(decompte, exc)
        return decompte
    decompte.outcome, decompte.lines = result, preview_lines(result)
    return decompte


def _refused(decompte: Decompte, exc: ClaimError) -> None:
    decompte.status = status_of(exc)
    if exc.errors:
        decompte.form.attach_item_errors(exc.errors)
    else:
        decompte.error = exc.message


def _care_date_or_today(raw: str | None) -> date:
    """The care date typed at the counter when it is a valid one, else today (the panel's date)."""
    try:
        return operations.parse_care_date(raw)
    except ClaimError:
        return date.today()


def _entry_page(provider: Provider, contract: Contract, form: EntryForm, decompte: Decompte | None = None,
                status: int = 200):
    today = date.today()
    notice = ended_notice(contract, today)
    # A blank form of an ended contract proposes its last day, the panel shows the rights on that date.
    default_date = contract.end_date if notice else today
    on = form.care_date or (_care_date_or_today(form.care_date_raw) if form.care_date_raw else default_date)
    r = _rights_for(contract, provider, on)
    return render_template(
        "counter/entry.html", contract=contract, member=contract.adherent, r=r, refusal=refusal(r, provider),
        ended_notice=notice, default_care_date=default_date,
        recent=queries.recent_member_claims(contract.adherent_id, provider.id), form=form,
        decompte=decompte or Decompte(form), today=today, blank_row=LineRow(uid=0),
        **_code_options("", contract.id)), status


def _latest() -> list:
    return listing.page(current_user, listing.ClaimFilters(), per_page=LATEST).rows


def _home_page(**context):
    return render_template("counter/home.html", latest=_latest(), figures=figures.period_figures(current_user),
                           **context)


def latest_claims():
    """The home's latest claims (htmx): polled while one of them waits for the insurer."""
    _provider()
    return render_template("counter/_latest.html", latest=_latest())


# --- views (the same functions serve the four portals) ------------------------------------------

def home():
    _provider()
    return _home_page()


def search():
    provider = _provider()
    query = (request.form.get("q") or "").strip()
    birth_raw = (request.form.get("naissance") or "").strip()[:20]
    results, message = _search(query, birth_raw, provider)
    context = {"results": results, "message": message, "query": query, "birth_raw": birth_raw}
    if _htmx():
        return render_template("counter/_search_results.html", **context)
    return _home_page(**context)


def _search(query: str, birth_raw: str, provider: Provider) -> tuple[list[MemberResult], str | None]:
    if len(query) < 2:
        return [], "Saisissez au moins 2 caractères : CIN (8 chiffres), numéro de contrat ou nom."
    if len(query) > 100:
        return [], "Recherche trop longue (100 caractères au maximum)."
    try:
        how, matches = lookup.find_members(current_user, query, lookup.parse_birth_date(birth_raw))
    except lookup.MemberQueryError as exc:
        return [], str(exc)
    if not matches:
        digits = crypto.normalise_national_id(query)
        if digits.isdigit():
            hint = " Un CIN compte 8 chiffres." if len(digits) != 8 else ""
            return [], f"Aucun adhérent trouvé.{hint} Vérifiez la saisie."
        if how == lookup.BY_NAME:
            return [], ("Aucun adhérent ne porte exactement ce nom avec cette date de naissance. Vérifiez "
                        "l'orthographe (nom complet, ou nom de famille seul) ou cherchez par CIN.")
        return [], "Aucun adhérent trouvé. Vérifiez la saisie."
    today, care_type = date.today(), portal().care_type
    results = []
    for match in matches:
        try:
            results.append(MemberResult(match.adherent, queries.rights(current_user, match.adherent, care_type, today, provider)))
        except ClaimError as exc:
            results.append(MemberResult(match.adherent, error=exc.message))
    return results, None


def rights(adherent_id: str):
    provider = _provider()
    try:
        member = queries.get_member(current_user, adherent_id)
    except ClaimError:
        abort(404)
    lookup.audit_lookup(lookup.BY_ID, [member.id])
    today = date.today()
    try:
        contracts, error = queries.rights(current_user, member, portal().care_type, today, provider), None
    except ClaimError as exc:
        contracts, error = [], exc.message
    return render_template("counter/rights.html", member=member, contracts=contracts, error=error, today=today)


def entry(contract_id: str):
    provider = _provider()
    contract = _contract(contract_id)
    lookup.audit_lookup(lookup.BY_CONTRACT, [contract.adherent_id])
    return _entry_page(provider, contract, EntryForm.blank())


def rights_panel(contract_id: str):
    """The entry page's rights panel for the care date being typed (htmx, on the date's change)."""
    provider = _provider()
    contract = _contract(contract_id)
    r = _rights_for(contract, provider, _care_date_or_today(request.args.get("care_date")))
    return render_template("counter/_rights_panel.html", r=r, today=date.today(), panel_id="rights-panel")


def preview(contract_id: str):
    provider = _provider()
    contract = _contract(contract_id)
    form = _read_form(strict=False)
    if not _htmx():  # without JavaScript the editor's buttons post here
        if request.form.get("add_line"):
            form.add_row()
        if (uid := request.form.get("remove_line", "")).isdigit():
            form.remove_row(int(uid))
    decompte = _adjudicate(form, contract)
    if _htmx():
        return render_template("counter/_lines_partial.html", decompte=decompte, contract=contract), decompte.status
    return _entry_page(provider, contract, form, decompte, decompte.status)


def submit(contract_id: str):
    provider = _provider()
    contract = _contract(contract_id)
    config = portal()
    form = _read_form(strict=True)
    decompte = Decompte(form, status=422 if form.has_errors else 200)
    if form.has_errors:
        return _entry_page(provider, contract, form, decompte, 422)
    key = f"portal:{form.token}"
    try:
        form.care_date = operations.parse_care_date(form.care_date_raw)
        claim_id, _body, replayed = operations.submit(current_user, contract.id, config.care_type, form.care_date,
                                                      form.items, details=form.details, idempotency_key=key,
                                                      submitted=form.submit_to_insurer,
                                                      override_reason=form.override_reason)
    except ClaimError as exc:
        db.session.rollback()
        _refused(decompte, exc)
        if exc.code == "IDEMPOTENCY_KEY_REUSED":
            earlier = db.session.scalar(select(IdempotencyKey.claim_id).where(
                IdempotencyKey.user_id == current_user.id, IdempotencyKey.key == key))
            decompte.error = ("Ce formulaire a déjà servi à enregistrer une demande. Vérifiez-la avant d'en "
                              "saisir une autre : un nouvel envoi de ce formulaire créera une seconde demande.")
            decompte.error_link = url_for(".claim", claim_id=earlier) if earlier else None
            form.token = new_token()
        return _entry_page(provider, contract, form, decompte, decompte.status)
    if replayed:
        flash("Cette demande était déjà enregistrée : le second envoi n'a pas créé de nouvelle demande.", "warning")
    return redirect(url_for(".claim", claim_id=claim_id), 303)


SUGGESTIONS = 40  # autocomplete entries per answer (ranked: exact code, code prefix, name words)


def _code_options(query: str, contract_id: str | None) -> dict:
    """The autocomplete's entries: the shipped catalogue, plus the codes of the contract's
    insurer barème and convention that the catalogue lacks; each with the price that applies
    to this provider and this contract (the convention's tariff, else the barème's), the
    catalogue's reference price only for a code without tariff."""
    care_type = portal().care_type
    tariffs, bareme_source = queries.tariff_suggestions(current_user, contract_id, care_type, date.today())
    options = catalogue.search(care_type, query, SUGGESTIONS, tariffs)
    return {"options": with_tariffs(options, tariffs), "bareme_source": bareme_source}


def code_lookup():
    """One code typed in full (a scanner, a fast typist): its label, the price that applies here
    and the generic flag, resolved on the server whatever the autocomplete list holds."""
    care_type = portal().care_type
    code = normalize_code((request.args.get("code") or "")[:32])
    tariffs, _source = queries.tariff_suggestions(current_user, request.args.get("contrat"), care_type, date.today())
    item = (catalogue.find(care_type, code) if code else None) or next((t for t in tariffs if t.code == code), None)
    if item is None:
        return jsonify(found=False, code=code,
                       message=f"Code « {code} » inconnu du catalogue et du barème : saisissez le libellé et le prix."
                       ), 404
    [item] = with_tariffs([item], tariffs)
    return jsonify(found=True, code=item.code, label=item.label, price=format_tnd(item.unit_price, with_unit=False),
                   generic=item.is_generic)


def catalogue_options():
    return render_template("counter/_catalogue.html",
                           **_code_options((request.args.get("q") or "")[:60], request.args.get("contrat")))


def history():
    _provider()
    filters, errors = listing.parse_filters(request.args)
    if filters.member and crypto.normalise_national_id(filters.member).isdigit():
        errors.append("Pour retrouver un adhérent par CIN, utilisez la recherche du comptoir : "
                      "le CIN d'un adhérent ne doit pas apparaître dans l'historique du navigateur.")
        filters.member = filters.matched = None
    newer = request.args.get("apres")
    try:
        found = listing.page(current_user, filters, cursor=newer or request.args.get("avant"),
                             backwards=bool(newer), per_page=PER_PAGE)
    except CursorError as exc:
        errors.append(exc.message)
        found = listing.page(current_user, filters, per_page=PER_PAGE)
    args = {k: v for k, v in (("du", filters.date_from), ("au", filters.date_to), ("statut", filters.status),
                              ("adherent", filters.member), ("demande", filters.reference)) if v}
    return render_template("counter/history.html", found=found, total=listing.count_label(
                           *listing.count(current_user, filters)), filters=filters, errors=errors, args=args,
                           status_labels=STATUS_LABELS.items())


def claim(claim_id: str):
    _provider()
    found = queries.get_claim(current_user, claim_id)
    return render_template("counter/claim.html", claim=found, lines=claim_lines(found))


def claim_status(claim_id: str):
    """The claim's result card, polled by its page while the insurer has not decided (htmx)."""
    _provider()
    found = queries.get_claim(current_user, claim_id)
    decided_now = request.args.get("vu") in AWAITING and found.status not in AWAITING
    return render_template("counter/_claim_result.html", claim=found, decided_now=decided_now)


def receipt(claim_id: str):
    _provider()
    found = queries.get_claim(current_user, claim_id)
    return render_template("counter/receipt.html", claim=found, lines=claim_lines(found), pdf=False,
                           provisional=found.status in AWAITING)


def receipt_pdf(claim_id: str):
    _provider()
    found = queries.get_claim(current_user, claim_id)
    html = render_template("counter/receipt.html", claim=found, lines=claim_lines(found), pdf=True,
                           provisional=found.status in AWAITING)
    response = make_response(render_pdf(html))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="recu-{found.reference}.pdf"'
    return response


ROUTES = (
    ("/", home, ("GET",)),
    ("/recherche", search, ("POST",)),
    ("/adherents/<adherent_id>/droits", rights, ("GET",)),
    ("/saisie/<contract_id>", entry, ("GET",)),
    ("/saisie/<contract_id>/droits", rights_panel, ("GET",)),
    ("/saisie/<contract_id>/apercu", preview, ("POST",)),
    ("/saisie/<contract_id>/valider", submit, ("POST",)),
    ("/catalogue", catalogue_options, ("GET",)),
    ("/catalogue/code", code_lookup, ("GET",)),
    ("/demandes", history, ("GET",)),
    ("/demandes/<claim_id>", claim, ("GET",)),
    ("/demandes/<claim_id>/statut", claim_status, ("GET",)),
    ("/dernieres", latest_claims, ("GET",)),
    ("/demandes/<claim_id>/recu", receipt, ("GET",)),
    ("/demandes/<claim_id>/recu.pdf", receipt_pdf, ("GET",)),
)


def _template_context() -> dict:
    return {
        # current_user may be anonymous here: the 503 page of a portal URL is rendered without asking
        # Redis or the database who is signed in.
        "portal": portal(), "provider": getattr(current_user, "provider", None), "max_room_length": MAX_ROOM_LENGTH,
        "percent": percent_label,
        "glance": glance, "exclusion_label": exclusion_label, "awaiting_statuses": AWAITING, "next_step": next_step,
        "poll_seconds": POLL_SECONDS, "reason_label": reasons.label, "override_reasons": OVERRIDE_REASONS,
        "iso_date_fr": lambda value: date.fromisoformat(value).strftime("%d/%m/%Y"),
        "today_iso": date.today().isoformat(),
    }


def _no_store(response):
    """Portal pages carry members' data: never kept by a browser or proxy cache."""
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("HX-Request")
    return response


def make_blueprint(config: ClaimEntryConfig) -> Blueprint:
    """The portal of one provider type: the shared views, each guarded by the portal's role."""
    bp = Blueprint(config.name, __name__, url_prefix=config.url_prefix)
    for rule, view, methods in ROUTES:
        bp.add_url_rule(rule, view.__name__, require_role(config.role)(view), methods=list(methods))
    bp.context_processor(_template_context)
    bp.after_request(_no_store)
    return bp
