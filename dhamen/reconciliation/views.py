"""Insurer portal pages for reconciliations (``/assureur/bordereaux``).

INSURER_ADMIN generates, marks sent and paid; INSURER_AGENT reads.  Every
object is loaded through tenant scoping (another insurer's id is a 404).
The public verification page (``/verification/<id>``) shows something only
for the right fingerprint.
"""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from dhamen.access.rbac import public, require_role
from dhamen.access.tenancy import get_or_404
from dhamen.core import audit
from dhamen.core.services import services
from dhamen.core.storage import StorageError
from dhamen.domain.config import parse_insurer_config
from dhamen.domain.reconciliation import CYCLE_LABELS, last_closed_period
from dhamen.extensions import db
from dhamen.models import Insurer, Reconciliation, ReconciliationRun, ReconciliationStatement
from dhamen.reconciliation import operations as ops
from dhamen.reconciliation.document import reference
from dhamen.reconciliation.generation import ReconciliationError, parse_period, request_generation, retry

bp = Blueprint("reconciliation", __name__, url_prefix="/assureur/bordereaux")
verify_bp = Blueprint("verification", __name__)

READERS = ("INSURER_ADMIN", "INSURER_AGENT")
SIGNED_URL_SECONDS = 120


@bp.context_processor
def _context():
    return {"recon_status": ops.STATUS_LABELS.get, "run_state": ops.RUN_STATE_LABELS.get, "bordereau_ref": reference,
            "is_admin": getattr(current_user, "role", None) == "INSURER_ADMIN"}


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("HX-Request")
    return response


def _suggested_period(insurer: Insurer) -> tuple[date, date, str]:
    try:
        cycle = parse_insurer_config(insurer.config_json).reconciliation_cycle
    except ValueError:
        cycle = "monthly"
    start, end = last_closed_period(cycle, date.today())
    return start, end, cycle


def _list_page(errors=None, form=None, status=200):
    insurer = db.session.get(Insurer, current_user.insurer_id)
    start, end, cycle = _suggested_period(insurer)
    runs = db.session.scalars(select(ReconciliationRun).where(ReconciliationRun.insurer_id == insurer.id)
                              .order_by(ReconciliationRun.created_at.desc()).limit(5)).all()
    form = form or {"period_start": start.isoformat(), "period_end": end.isoformat()}
    return render_template("reconciliation/list.html", insurer=insurer, recons=ops.list_for(current_user),
                           runs=runs, form=form, errors=errors or {}, cycle=CYCLE_LABELS.get(cycle, cycle),
                           today=date.today()), status


@bp.get("/")
@require_role(*READERS)
def index():
    return _list_page()


@bp.post("/generer")
@require_role("INSURER_ADMIN")
def generate():
    form = {"period_start": request.form.get("period_start", ""), "period_end": request.form.get("period_end", "")}
    try:
        period = parse_period(form["period_start"], form["period_end"])
        run = request_generation(current_user.insurer_id, period, "portal", current_user)
    except ReconciliationError as exc:
        db.session.rollback()
        return _list_page({exc.field or "form": exc.message}, form, exc.status)
    db.session.commit()
    return redirect(url_for(".run", run_id=run.id), 303)


def _run(run_id: str) -> ReconciliationRun:
    return get_or_404(ReconciliationRun, run_id, current_user)


@bp.get("/generations/<run_id>")
@require_role(*READERS)
def run(run_id: str):
    found = _run(run_id)
    template = "reconciliation/_run.html" if request.headers.get("HX-Request") else "reconciliation/run.html"
    return render_template(template, run=found)


@bp.post("/generations/<run_id>/relancer")
@require_role("INSURER_ADMIN")
def retry_run(run_id: str):
    found = _run(run_id)
    try:
        retry(found, current_user)
    except ReconciliationError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".run", run_id=found.id), 303)
    db.session.commit()
    return redirect(url_for(".run", run_id=found.id), 303)


def _recon(reconciliation_id: str) -> Reconciliation:
    return get_or_404(Reconciliation, reconciliation_id, current_user)


def _detail_page(recon: Reconciliation, errors=None, form=None, status=200):
    last_run = db.session.scalar(select(ReconciliationRun).where(ReconciliationRun.reconciliation_id == recon.id)
                                 .order_by(ReconciliationRun.created_at.desc()).limit(1))
    return render_template("reconciliation/detail.html", recon=recon, last_run=last_run, errors=errors or {},
                           form=form or {"payment_date": date.today().isoformat(), "bank_reference": ""},
                           today=date.today()), status


@bp.get("/<reconciliation_id>")
@require_role(*READERS)
def detail(reconciliation_id: str):
    return _detail_page(_recon(reconciliation_id))[0]


@bp.post("/<reconciliation_id>/envoye")
@require_role("INSURER_ADMIN")
def mark_sent(reconciliation_id: str):
    recon = _recon(reconciliation_id)
    try:
        ops.mark_sent(recon, current_user)
    except ReconciliationError as exc:
        db.session.rollback()
        return _detail_page(recon, {"form": exc.message}, status=exc.status)
    db.session.commit()
    flash("Bordereau marqué comme envoyé.", "success")
    return redirect(url_for(".detail", reconciliation_id=recon.id), 303)


@bp.post("/<reconciliation_id>/paye")
@require_role("INSURER_ADMIN")
def mark_paid(reconciliation_id: str):
    recon = _recon(reconciliation_id)
    form = {"payment_date": request.form.get("payment_date", ""),
            "bank_reference": request.form.get("bank_reference", "")}
    try:
        paid_on, bank_ref = ops.parse_payment(form["payment_date"], form["bank_reference"], recon)
        moved = ops.mark_paid(recon, paid_on, bank_ref, current_user)
    except ReconciliationError as exc:
        db.session.rollback()
        db.session.refresh(recon)
        return _detail_page(recon, {exc.field or "form": exc.message}, form, exc.status)
    db.session.commit()
    flash(f"Bordereau payé : {moved} demande(s) passée(s) au statut « payée ».", "success")
    return redirect(url_for(".detail", reconciliation_id=recon.id), 303)


def send_document(key: str | None, filename: str):
    """Stream a stored PDF, or redirect to a short-lived signed URL on S3."""
    if not key:
        abort(404)
    storage = services().storage
    try:
        if storage.kind == "s3":
            return redirect(storage.presigned_url(key, SIGNED_URL_SECONDS, filename=filename), 302)
        body = storage.open(key)
    except StorageError:
        abort(503)

    def chunks():
        with body:
            yield from iter(lambda: body.read(1 << 16), b"")

    return Response(chunks(), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


@bp.get("/<reconciliation_id>/bordereau.pdf")
@require_role(*READERS)
def pdf(reconciliation_id: str):
    recon = _recon(reconciliation_id)
    return send_document(recon.pdf_path, f"bordereau-{reference(recon)}.pdf")


@bp.get("/<reconciliation_id>/releves/<provider_id>.pdf")
@require_role(*READERS)
def statement_pdf(reconciliation_id: str, provider_id: str):
    recon = _recon(reconciliation_id)
    statement = ops.statement_for_provider(recon.id, provider_id)
    if statement is None:
        abort(404)
    return send_document(statement.pdf_path, f"releve-{reference(recon)}-{statement.provider.license_no}.pdf")


@bp.get("/<reconciliation_id>/lignes.csv")
@require_role(*READERS)
def csv_export(reconciliation_id: str):
    recon = _recon(reconciliation_id)
    ref = reference(recon)

    audit.record("reconciliation.export", "reconciliation", recon.id, {"format": "csv"})
    db.session.commit()
    return Response(stream_with_context(ops.csv_lines(recon, ref)), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="bordereau-{ref}.csv"', "Cache-Control": "no-store"})


# --- public verification ----------------------------------------------------------------------------

@verify_bp.get("/verification/<reconciliation_id>")
@public
def verification(reconciliation_id: str):
    """Without login: does this SHA-256 match the stored document?  Only then: insurer, period, total, status.
    Another fingerprint (or none) shows the form alone, with a 404: nothing is told about the id."""
    given = request.args.get("empreinte", "")
    recon, matched = ops.verify(reconciliation_id, given)
    response = render_template("reconciliation/verification.html", recon=recon, matched=matched,
                               given=given[:100],
                               recon_status=ops.STATUS_LABELS.get,
                               insurer=db.session.get(Insurer, recon.insurer_id) if recon else None)
    return response, 200 if recon else 404


def statement_of(provider_id: str, reconciliation_id: str) -> ReconciliationStatement:
    statement = ops.statement_for_provider(reconciliation_id, provider_id) if isinstance(
        reconciliation_id, str) and len(reconciliation_id) <= 26 else None
    if statement is None:
        abort(404)
    return statement
