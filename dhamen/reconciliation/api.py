"""``/api/v1/reconciliation``: list (INSURER_ADMIN, INSURER_AGENT, as the spec), generate (INSURER_ADMIN),
follow a generation, read one reconciliation.  Same services as the portal pages."""

from __future__ import annotations

from flask import url_for

from dhamen.access.rbac import current_actor, require_role
from dhamen.access.tenancy import get_or_404
from dhamen.core.http import ApiError, json_body, ok
from dhamen.extensions import db
from dhamen.models import Reconciliation, ReconciliationRun
from dhamen.reconciliation import operations as ops
from dhamen.reconciliation.document import reference
from dhamen.reconciliation.generation import ReconciliationError, parse_period, request_generation

READERS = ("INSURER_ADMIN", "INSURER_AGENT")


def _error(exc: ReconciliationError) -> ApiError:
    db.session.rollback()
    return ApiError(exc.status, exc.code, exc.message, {"field": exc.field} if exc.field else None)


def reconciliation_json(r: Reconciliation, with_providers: bool = False) -> dict:
    data = {
        "id": r.id, "reference": reference(r), "insurerId": r.insurer_id,
        "periodStart": r.period_start.isoformat(), "periodEnd": r.period_end.isoformat(),
        "status": r.status, "statusLabel": ops.STATUS_LABELS[r.status],
        "totalClaims": r.total_claims, "totalAmount": r.total_amount, "totalCovered": r.total_covered,
        "totalRetentions": r.total_retentions, "totalNetPayable": r.total_net_payable,
        "retentionRateBp": r.retention_rate_bp, "pdfAvailable": bool(r.pdf_path), "pageCount": r.page_count,
        "contentSha256": r.content_sha256, "pdfSha256": r.pdf_sha256,
        "pdfUrl": url_for("reconciliation.pdf", reconciliation_id=r.id) if r.pdf_path else None,
        "createdAt": r.created_at.isoformat(), "sentAt": r.sent_at.isoformat() if r.sent_at else None,
        "paidAt": r.paid_at.isoformat() if r.paid_at else None,
        "paymentDate": r.payment_date.isoformat() if r.payment_date else None,
        "paymentReference": r.payment_reference,
    }
    if with_providers:
        data["providers"] = [{"providerId": s.provider_id, "providerName": s.provider.name,
                              "licenseNo": s.provider.license_no, "claimCount": s.claim_count,
                              "totalAmount": s.total_amount, "totalCovered": s.total_covered,
                              "retention": s.retention, "netPayable": s.net_payable} for s in r.statements]
    return data


def run_json(run: ReconciliationRun) -> dict:
    return {"id": run.id, "state": run.state, "stateLabel": ops.RUN_STATE_LABELS[run.state], "step": run.step,
            "done": run.done, "total": run.total, "error": run.error,
            "periodStart": run.period_start.isoformat(), "periodEnd": run.period_end.isoformat(),
            "reconciliationId": run.reconciliation_id, "createdAt": run.created_at.isoformat()}


@require_role(*READERS)
def list_reconciliations():
    return ok([reconciliation_json(r) for r in ops.list_for(current_actor())])


@require_role("INSURER_ADMIN")
def create_reconciliation():
    body = json_body()
    user = current_actor()
    try:
        period = parse_period(body.get("periodStart"), body.get("periodEnd"))
        run = request_generation(user.insurer_id, period, "api", user)
    except ReconciliationError as exc:
        raise _error(exc) from None
    db.session.commit()
    db.session.refresh(run)
    return ok(run_json(run), 202, {"Location": url_for("api.reconciliation_run", run_id=run.id)})


@require_role(*READERS)
def reconciliation_run(run_id: str):
    return ok(run_json(get_or_404(ReconciliationRun, run_id, current_actor())))


@require_role(*READERS)
def reconciliation_detail(reconciliation_id: str):
    return ok(reconciliation_json(get_or_404(Reconciliation, reconciliation_id, current_actor()), with_providers=True))


ROUTES = (
    ("/reconciliation", list_reconciliations, ("GET",)),
    ("/reconciliation", create_reconciliation, ("POST",)),
    ("/reconciliation/runs/<run_id>", reconciliation_run, ("GET",)),
    ("/reconciliation/<reconciliation_id>", reconciliation_detail, ("GET",)),
)
