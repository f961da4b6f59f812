"""Insurer portal pages: review queue, claim detail and decisions, dashboard, CSV export.

Views are thin: read the request, call the insurer services (``queue``,
``detail``, ``decisions``, ``dashboard``, ``export``), commit once, render.
Every query goes through ``tenancy``: an agent of one insurer never sees nor
decides another insurer's claim (404).
"""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user

from dhamen.access.rbac import require_role
from dhamen.claims.queries import member_by_national_id
from dhamen.core import crypto
from dhamen.domain.agreement import OVERRIDE_DECISIONS, LineAgreement, was_submitted
from dhamen.domain.config import parse_insurer_config
from dhamen.domain.errors import ConfigError, MoneyError
from dhamen.domain.labels import CARE_TYPE_LABELS
from dhamen.domain.money import parse_tnd, percent_label
from dhamen.domain.reasons import REASONS
from dhamen.extensions import db
from dhamen.insurer import dashboard, decisions, detail, export, queue
from dhamen.models import Insurer

bp = Blueprint("insurer", __name__, url_prefix="/assureur")
REVIEWERS = ("INSURER_ADMIN", "INSURER_AGENT")


@bp.context_processor
def _labels():
    return {"reason_label": REASONS.get,
            "percent": percent_label, "care_types": CARE_TYPE_LABELS, "flag_labels": queue.FLAG_LABELS,
            "review_statuses": queue.REVIEW_STATUS_LABELS, "sorts": queue.SORTS,
            "iso_date_fr": _iso_date_fr}


def _iso_date_fr(value) -> str:
    try:
        return date.fromisoformat(str(value)).strftime("%d/%m/%Y")
    except ValueError:
        return str(value)


def _is_fragment(target: str) -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == target


# --- review queue ------------------------------------------------------------------------------

@bp.get("/file")
@require_role(*REVIEWERS)
def review_queue():
    errors: list[tuple[str, str]] = []
    try:
        filters = queue.parse_filters(request.args)
        before = request.args.get("avant") or None
        result = queue.page(current_user, filters, before or request.args.get("apres") or None,
                            backwards=before is not None)
        total = queue.count(current_user, filters, result)
    except queue.FilterError as exc:
        errors = exc.errors
        filters, result, total = queue.ReviewFilters(), None, (0, True)
    context = {"filters": filters, "result": result, "total": total, "errors": errors,
               "review_threshold": _review_threshold(),
               "raw": request.args, "member": queue.member_label(current_user, filters.adherent)}
    status = 422 if errors else 200
    if _is_fragment("queue-results"):
        # The address bar gets the canonical URL (no empty fields), so that it can be shared.
        canonical = url_for(".review_queue", **filters.query_args(), **{
            k: request.args[k] for k in ("apres", "avant") if request.args.get(k) and not errors})
        return render_template("insurer/_queue_results.html", **context), status, {"HX-Push-Url": canonical}
    return render_template("insurer/queue.html", providers=queue.providers_in_queue(current_user),
                           **context), status


@bp.post("/file/adherent")
@require_role(*REVIEWERS)
def queue_member():
    """Filter the queue by a member's national ID: posted, looked up by its keyed hash, turned into the
    member's id in the URL (the national ID itself never goes in a URL)."""
    keep = {k: v for k, v in request.form.items() if k in queue.ReviewFilters.__dataclass_fields__
            and k not in ("adherent", "extra") and v}
    raw = (request.form.get("cin") or "").strip()
    value = crypto.normalise_national_id(raw)
    if not (value.isdigit() and len(value) == 8):
        flash("Numéro CIN invalide : 8 chiffres attendus.", "error")
        return redirect(url_for(".review_queue", **keep))
    member = member_by_national_id(current_user, value)
    if member is None:
        flash("Aucun adhérent de votre compagnie ne correspond à ce numéro CIN.", "error")
        return redirect(url_for(".review_queue", **keep))
    return redirect(url_for(".review_queue", **keep, adherent=member.id))


def _review_threshold() -> int:
    insurer = db.session.get(Insurer, current_user.insurer_id)
    try:
        return parse_insurer_config(insurer.config_json if insurer else None).fraud.review_threshold
    except ConfigError:
        return 0


# --- claim detail and decisions ------------------------------------------------------------------

@bp.get("/demandes/<claim_id>")
@require_role(*REVIEWERS)
def claim(claim_id: str):
    return _claim_page(claim_id)


def _claim_page(claim_id: str, form=None, error=None, status: int = 200):
    file = detail.load(current_user, claim_id)
    return render_template("insurer/claim.html", file=file, c=file.claim, form=form or {}, error=error,
                           open_for_review=file.claim.status in queue.REVIEW_STATUSES,
                           sample=detail.PROVIDER_SAMPLE, insurer_days=detail.INSURER_WINDOW_DAYS,
                           submitted=was_submitted([i.rule_applied for i in file.claim.items])), status


def read_agreements(form) -> tuple[list[LineAgreement], list[dict]]:
    """The decision form's per-line fields: ``lines-<n>-qty``, ``-price`` (TND, lower than asked), ``-agreed``
    (TND, agreed price of a line hors nomenclature), ``-override`` (``accept``/``refuse`` an early refill),
    ``-reason``."""
    out, errors = [], []
    positions = sorted({int(k.split("-")[1]) for k in form if k.startswith("lines-") and k.split("-")[1].isdigit()
                        and len(k.split("-")[1]) <= 3})
    for n in positions:
        qty_raw = (form.get(f"lines-{n}-qty") or "").strip()
        price_raw = (form.get(f"lines-{n}-price") or "").strip()
        agreed_raw = (form.get(f"lines-{n}-agreed") or "").strip()
        override = (form.get(f"lines-{n}-override") or "").strip() or None
        reason = (form.get(f"lines-{n}-reason") or "").strip()
        if not qty_raw and not price_raw and not agreed_raw and not override and not reason:
            continue
        qty = price = agreed = None
        if qty_raw:
            if qty_raw.isdigit() and len(qty_raw) <= 4:
                qty = int(qty_raw)
            else:
                errors.append({"line": n + 1, "field": "quantity",
                               "message": f"Ligne {n + 1} : quantité accordée invalide (un entier)."})
        for raw, name in ((price_raw, "unit_price"), (agreed_raw, "agreed_price")):
            if raw:
                try:
                    value = parse_tnd(raw)
                except MoneyError as exc:
                    errors.append({"line": n + 1, "field": name, "message": f"Ligne {n + 1} : {exc}"})
                    continue
                if name == "unit_price":
                    price = value
                else:
                    agreed = value
        if override is not None and override not in OVERRIDE_DECISIONS:
            errors.append({"line": n + 1, "field": "override",
                           "message": f"Ligne {n + 1} : choisissez d'accepter ou de refuser le renouvellement "
                                      "anticipé."})
            override = None
        if qty is None and price is None and agreed is None and override is None and not errors:
            errors.append({"line": n + 1, "field": "quantity",
                           "message": f"Ligne {n + 1} : indiquez la quantité ou le prix accordé."})
        out.append(LineAgreement(position=n, quantity=qty, unit_price=price, agreed_price=agreed, override=override,
                                 reason=reason))
    return out, errors


@bp.post("/demandes/<claim_id>/decision")
@require_role(*REVIEWERS)
def decide(claim_id: str):
    action = request.form.get("decision", "")
    agreements, errors = read_agreements(request.form)
    try:
        if errors:
            raise decisions.DecisionError("INVALID_LINES", errors[0]["message"], 422, "lines", errors)
        outcome = decisions.decide(current_user, claim_id, action, request.form.get("note"), agreements)
    except decisions.DecisionError as exc:
        db.session.rollback()
        if exc.status == 404:
            abort(404)
        return _claim_page(claim_id, form=request.form, error=exc, status=exc.status)
    flash(outcome.message, "success")
    return redirect(url_for(".claim", claim_id=claim_id))


@bp.post("/file/approuver")
@require_role(*REVIEWERS)
def bulk_approve():
    back = request.form.get("retour") or ""
    if not back.startswith("/assureur/file"):
        back = url_for(".review_queue")
    try:
        done, refused = decisions.approve_many(current_user, request.form.getlist("claim_id"))
    except decisions.DecisionError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(back)
    if done:
        flash(f"{len(done)} demande{'s' if len(done) > 1 else ''} approuvée{'s' if len(done) > 1 else ''}.", "success")
    for _claim_id, message in refused[:10]:
        flash(f"Non approuvée : {message}", "warning")
    return redirect(back)


@bp.get("/export.csv")
@require_role(*REVIEWERS)
def export_csv():
    """The filtered list as CSV (the queue's filters; ``statut`` may be any status or ``tous``), streamed."""



    try:
        filters = queue.parse_filters(request.args, any_status=True)
    except queue.FilterError as exc:
        flash("Export impossible : " + "; ".join(message for _name, message in exc.errors), "error")
        return redirect(url_for(".review_queue"))
    # A read: no audit row (GET changes nothing), but the export is logged.
    current_app.logger.info("export CSV des demandes par %s (%s)", current_user.id, filters.query_args())
    name = f"demandes-{date.today().isoformat()}.csv"
    return Response(stream_with_context(export.rows(current_user, filters)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


# --- dashboard -----------------------------------------------------------------------------------

@bp.get("/")
@require_role(*REVIEWERS)
def home():
    return render_template("insurer/home.html", insurer=db.session.get(Insurer, current_user.insurer_id),
                           d=dashboard.build(current_user))


from dhamen.insurer import admin_views as _admin_views  # noqa: E402, F401  (routes on bp)
