"""Generating a reconciliation: a job on the ``reconciliation`` queue, in two steps.

1. **Claim** (one transaction): lock the insurer's row (two generations for
   one insurer run one after the other), create the reconciliation, and
   ``UPDATE claims SET reconciliation_id = … WHERE reconciliation_id IS NULL``
   for the insurer's approved claims of the period, ``CLAIM_CHUNK`` claims per
   statement (each stays short; the transaction takes them all or none).  The database keeps a
   claim in one reconciliation whatever the code does (a trigger refuses to
   change a ``reconciliation_id`` once set; a check admits only approved or
   paid claims).  The totals come from :class:`dhamen.domain.reconciliation.Ledger`,
   fed chunk by chunk in id order.  A run that finds nothing left ends
   ``empty`` and creates nothing.
2. **Documents**: the bordereau and each provider's statement are rendered in
   parts (:mod:`.document`), uploaded to object storage, and only then does
   one transaction record their keys and fingerprints.  If storage is down
   the run ends ``failed`` with a French message, the reconciliation has no
   ``pdf_path`` (nothing points to a missing file), and a retry renders again.

Progress (``done`` / ``total`` lines, the current step) is committed on the
run row, which the page polls.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select, tuple_, update

from dhamen.core import audit
from dhamen.core.errors import ServiceError
from dhamen.core.jobs import with_app
from dhamen.core.services import after_commit, services
from dhamen.core.sqltypes import new_id, utcnow
from dhamen.core.storage import StorageError
from dhamen.domain.config import parse_insurer_config
from dhamen.domain.errors import DomainError
from dhamen.domain.reconciliation import ClaimRow, Ledger, last_closed_period
from dhamen.extensions import db
from dhamen.models import (
    Claim,
    Contract,
    Insurer,
    Provider,
    Reconciliation,
    ReconciliationRun,
    ReconciliationStatement,
)

log = logging.getLogger("dhamen")

CHUNK = 2000
# A provider's claims read for the PDF's lines: small enough that a provider of a 10 000-claim
# bordereau (~700 claims) already fills it, so the job's memory is the same at 10 000 and 1 000 000.
LINE_CHUNK = 500
CLAIM_CHUNK = 5000  # claims moved per UPDATE statement
JOB_TIMEOUT = 3600  # seconds: 100 000 claims render in a few minutes
MAX_PERIOD_DAYS = 366
SOURCES = ("portal", "api", "cron")


_KIND_OF_STATUS = {422: "invalid", 404: "not_found", 409: "conflict"}


class ReconciliationError(ServiceError):
    """Refused input or action: a stable code, a French message, the field at fault; nothing changed."""

    def __init__(self, code: str, message: str, field: str | None = None, status: int = 422):
        super().__init__(code, message, field, _KIND_OF_STATUS[status])
        self.status = status


@dataclass(frozen=True)
class Period:
    start: date
    end: date


def parse_period(start_raw, end_raw, today: date | None = None) -> Period:
    """A period typed in a form or an API body (``AAAA-MM-JJ``), checked."""
    today = today or date.today()
    values = []
    for raw, field, label in ((start_raw, "periodStart", "de début"), (end_raw, "periodEnd", "de fin")):
        if raw in (None, ""):
            raise ReconciliationError("VALIDATION_ERROR", f"Indiquez la date {label} de la période.", field)
        try:
            values.append(raw if isinstance(raw, date) else date.fromisoformat(str(raw)[:10]))
        except ValueError:
            raise ReconciliationError("VALIDATION_ERROR",
                                      f"Date {label} invalide (format attendu : AAAA-MM-JJ).", field) from None
    start, end = values
    if end < start:
        raise ReconciliationError("VALIDATION_ERROR", "La fin de la période précède son début.", "periodEnd")
    if end > today:
        raise ReconciliationError("VALIDATION_ERROR",
                                  "La période ne peut pas finir après aujourd'hui : les soins à venir ne sont pas "
                                  "encore connus.", "periodEnd")
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise ReconciliationError("VALIDATION_ERROR", "Une période dure au plus un an.", "periodStart")
    return Period(start, end)


def eligible_claims(insurer_id: str, period: Period):
    """The claims a reconciliation of this insurer and period takes: approved, not yet reconciled."""
    return (Claim.insurer_id == insurer_id, Claim.status == "approved", Claim.reconciliation_id.is_(None),
            Claim.care_date >= period.start, Claim.care_date <= period.end)


def pending_count(insurer_id: str, period: Period) -> int:
    return db.session.scalar(select(func.count()).select_from(Claim).where(*eligible_claims(insurer_id, period)))


def request_generation(insurer_id: str, period: Period, source: str, user=None) -> ReconciliationRun:
    """Record a generation run and enqueue its job once the transaction commits (the caller commits)."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    insurer = Insurer.get_live(insurer_id)
    if insurer is None:
        raise ReconciliationError("NOT_FOUND", "Assureur introuvable.", status=404)
    try:
        parse_insurer_config(insurer.config_json)
    except DomainError as exc:
        raise ReconciliationError("INSURER_CONFIG", f"Configuration de l'assureur invalide : {exc}") from None
    run = ReconciliationRun(id=new_id(), insurer_id=insurer_id, period_start=period.start, period_end=period.end,
                            source=source, requested_by=getattr(user, "id", None), state="queued",
                            step="En attente de traitement")
    db.session.add(run)
    db.session.flush()
    audit.record("reconciliation.request", "reconciliation_run", run.id,
                 {"period_start": period.start.isoformat(), "period_end": period.end.isoformat(), "source": source},
                 user=user, insurer_id=insurer_id)
    after_commit("reconciliation", run_generation, run.id, job_timeout=JOB_TIMEOUT)
    return run


def retry(run: ReconciliationRun, user=None) -> ReconciliationRun:
    """Enqueue a failed run again (the caller commits): it resumes where it stopped."""
    if run.state != "failed":
        raise ReconciliationError("INVALID_STATE", "Seule une génération en échec peut être relancée.", status=409)
    run.state, run.step, run.error, run.finished_at = "queued", "En attente de traitement", None, None
    audit.record("reconciliation.retry", "reconciliation_run", run.id, {"reconciliation_id": run.reconciliation_id},
                 user=user, insurer_id=run.insurer_id)
    after_commit("reconciliation", run_generation, run.id, job_timeout=JOB_TIMEOUT)
    return run


# --- the job ------------------------------------------------------------------------------------

def _progress(run_id: str, **values) -> None:
    db.session.execute(update(ReconciliationRun).where(ReconciliationRun.id == run_id).values(**values))
    db.session.commit()


@with_app
def run_generation(run_id: str) -> str | None:
    """The job: claim (once), then render and store the documents.  Answers the run's final state."""
    run = db.session.get(ReconciliationRun, run_id)
    if run is None or run.state in ("done", "empty"):
        return run.state if run else None
    _progress(run_id, state="running", started_at=utcnow(), step="Sélection des demandes approuvées", error=None)
    try:
        from dhamen.reconciliation import document  # cycle: document imports this module
        # The rendering processes start now and import WeasyPrint while the claims are taken.
        expected = (db.session.get(Reconciliation, run.reconciliation_id).total_claims if run.reconciliation_id
                    else pending_count(run.insurer_id, Period(run.period_start, run.period_end)))
        with document.start_renderer(expected) as renderer:
            rid = run.reconciliation_id or claim_claims(run_id)
            if rid is None:
                _progress(run_id, state="empty", finished_at=utcnow(), step=None,
                          error="Aucune demande approuvée à rapprocher sur cette période "
                                "(toutes sont déjà dans un bordereau, ou aucune n'est encore approuvée).")
                return "empty"
            document.produce(rid, renderer=renderer,
                             progress=lambda done, total, step: _progress(run_id, done=done, total=total, step=step))
        _progress(run_id, state="done", finished_at=utcnow(), step="Terminé")
        return "done"
    except StorageError as exc:
        message = ("Le stockage des documents est indisponible : le bordereau est enregistré mais son PDF n'a pas "
                   "pu être déposé. Relancez la production quand le stockage répond.")
        log.warning("bordereau %s : stockage indisponible (%s)", run_id, exc)
    except Exception:
        log.exception("échec de la génération du bordereau (run %s)", run_id)
        message = "La génération a échoué de façon inattendue. L'équipe technique a été informée ; relancez-la."
    db.session.rollback()
    _progress(run_id, state="failed", finished_at=utcnow(), error=message)
    return "failed"


def claim_claims(run_id: str) -> str | None:
    """Step 1, one transaction: create the reconciliation and move the period's approved claims into it."""
    run = db.session.get(ReconciliationRun, run_id)
    # Serialise the generations of one insurer: the second waits here, then finds nothing left.
    insurer = db.session.execute(select(Insurer).where(Insurer.id == run.insurer_id).with_for_update()).scalar_one()
    settings = parse_insurer_config(insurer.config_json)
    period = Period(run.period_start, run.period_end)
    recon = Reconciliation(id=new_id(), insurer_id=insurer.id, period_start=period.start, period_end=period.end,
                           total_claims=0, total_amount=0, total_covered=0, total_retentions=0,
                           total_net_payable=0, status="generated", retention_rate_bp=settings.retention_rate_bp,
                           created_by=run.requested_by)
    db.session.add(recon)
    db.session.flush()
    claimed, last = 0, ""
    while True:  # CLAIM_CHUNK claims per statement, in id order, all in this one transaction
        # ``id > last``: each statement starts after the previous one's claims (an index condition),
        # instead of walking again the period's claims already taken.
        batch = (select(Claim.id).where(*eligible_claims(insurer.id, period), Claim.id > last).order_by(Claim.id)
                 .limit(CLAIM_CHUNK).scalar_subquery())
        moved = db.session.execute(
            update(Claim).where(Claim.id.in_(batch)).values(reconciliation_id=recon.id).returning(Claim.id),
            execution_options={"synchronize_session": False}).scalars().all()
        claimed += len(moved)
        if len(moved) < CLAIM_CHUNK:
            break
        last = max(moved)
    if not claimed:
        db.session.rollback()
        return None
    summary = ledger_for(recon.id, settings.retention_rate_bp).summary()
    if summary.total_claims != claimed:  # never: the ledger read back what the UPDATE wrote
        raise RuntimeError(f"reconciliation {recon.id}: {claimed} claims moved, {summary.total_claims} summed")
    recon.total_claims, recon.total_amount = summary.total_claims, summary.total_amount
    recon.total_covered, recon.total_retentions = summary.total_covered, summary.total_retentions
    recon.total_net_payable = summary.total_net_payable
    db.session.add_all(
        ReconciliationStatement(reconciliation_id=recon.id, insurer_id=insurer.id, provider_id=p.provider_id,
                                position=n, claim_count=p.claim_count, total_amount=p.total_amount,
                                total_covered=p.total_covered, retention=p.retention, net_payable=p.net_payable)
        for n, p in enumerate(summary.providers))
    run.reconciliation_id, run.total, run.step = recon.id, claimed, "Demandes rattachées au bordereau"
    audit.record("reconciliation.generate", "reconciliation", recon.id,
                 {"run_id": run.id, "period_start": period.start.isoformat(), "period_end": period.end.isoformat(),
                  "total_claims": summary.total_claims, "total_net_payable": summary.total_net_payable},
                 user=None, insurer_id=insurer.id)
    db.session.commit()
    return recon.id


def ledger_for(reconciliation_id: str, retention_rate_bp: int) -> Ledger:
    """The domain's totals over the reconciliation's claims, read in id order, ``CHUNK`` at a time."""
    ledger = Ledger(retention_rate_bp, keep_ids=False, strictly_ascending=True)
    last = ""
    while True:
        rows = db.session.execute(
            select(Claim.id, Claim.provider_id, Provider.name, Claim.total_amount, Claim.covered_amount)
            .join(Provider, Provider.id == Claim.provider_id)
            .where(Claim.reconciliation_id == reconciliation_id, Claim.id > last)
            .order_by(Claim.id).limit(CHUNK)).all()
        for row in rows:
            ledger.add(ClaimRow(*row))
        if len(rows) < CHUNK:
            return ledger
        last = rows[-1][0]


def claims_in_order(reconciliation_id: str, provider_id: str, columns):
    """One provider's claims in the bordereau's order (care date, id), ``LINE_CHUNK`` rows per query."""
    after = None
    while True:
        stmt = (select(*columns).select_from(Claim).join(Contract, Contract.id == Claim.contract_id)
                .where(Claim.reconciliation_id == reconciliation_id, Claim.provider_id == provider_id)
                .order_by(Claim.care_date, Claim.id).limit(LINE_CHUNK))
        if after is not None:
            stmt = stmt.where(tuple_(Claim.care_date, Claim.id) > after)
        rows = db.session.execute(stmt).all()
        yield from rows
        if len(rows) < LINE_CHUNK:
            return
        after = (rows[-1].care_date, rows[-1].id)


def due_periods(today: date) -> list[tuple[Insurer, Period]]:
    """For each active insurer, its last closed cycle period if it has approved claims left to reconcile
    there and no reconciliation of that exact period exists yet, nor a run in progress."""

    due = []
    for insurer in db.session.scalars(select(Insurer).where(Insurer.deleted_at.is_(None), Insurer.is_active)
                                      .order_by(Insurer.code)):
        try:
            cycle = parse_insurer_config(insurer.config_json).reconciliation_cycle
        except DomainError:
            log.warning("assureur %s : configuration invalide, bordereau non généré", insurer.code)
            continue
        start, end = last_closed_period(cycle, today)
        period = Period(start, end)
        exists = db.session.scalar(select(func.count()).select_from(Reconciliation).where(
            Reconciliation.insurer_id == insurer.id, Reconciliation.period_start == start,
            Reconciliation.period_end == end))
        busy = db.session.scalar(select(func.count()).select_from(ReconciliationRun).where(
            ReconciliationRun.insurer_id == insurer.id, ReconciliationRun.state.in_(("queued", "running")),
            ReconciliationRun.created_at > utcnow() - timedelta(seconds=JOB_TIMEOUT)))
        if not exists and not busy and pending_count(insurer.id, period):
            due.append((insurer, period))
    return due


def storage():
    return services().storage
