"""After generation: sent, paid, what a user may read, the CSV lines, the verification.

Status changes go through :mod:`dhamen.domain.transitions`; each writes an
audit row in the caller's transaction (the request commits once).  Marking a
reconciliation paid moves every one of its claims ``approved`` → ``paid`` in
the same transaction: all of them or none.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date

from sqlalchemy import func, select, update

from dhamen.access.tenancy import scoped
from dhamen.core import audit
from dhamen.core.sqltypes import utcnow
from dhamen.domain.labels import CARE_TYPE_LABELS, RECONCILIATION_STATUS_LABELS
from dhamen.domain.labels import STATUS_LABELS as CLAIM_STATUS
from dhamen.domain.money import format_tnd
from dhamen.domain.transitions import TransitionError, check_claim, check_reconciliation
from dhamen.extensions import db
from dhamen.models import Claim, Contract, Provider, Reconciliation, ReconciliationStatement
from dhamen.reconciliation.generation import CHUNK, ReconciliationError

STATUS_LABELS = RECONCILIATION_STATUS_LABELS
RUN_STATE_LABELS = {"queued": "En attente", "running": "En cours", "done": "Terminé",
                    "empty": "Rien à rapprocher", "failed": "En échec"}
BANK_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./_-]{2,63}$")


def _transition(recon: Reconciliation, dst: str, actor: str) -> None:
    try:
        check_reconciliation(recon.status, dst, actor)
    except TransitionError as exc:
        raise ReconciliationError(exc.code, str(exc), status=409) from None


def mark_sent(recon: Reconciliation, user) -> None:
    _transition(recon, "sent", "reconciliation")
    if not recon.pdf_path:
        raise ReconciliationError("PDF_MISSING", "Le PDF du bordereau n'est pas encore produit : relancez la "
                                  "génération avant de l'envoyer.", status=409)
    recon.status, recon.sent_at = "sent", utcnow()
    audit.record("reconciliation.sent", "reconciliation", recon.id, {"status": ["generated", "sent"]}, user=user)


def parse_payment(payment_date_raw, reference_raw, recon: Reconciliation, today: date | None = None):
    today = today or date.today()
    if payment_date_raw in (None, ""):
        raise ReconciliationError("VALIDATION_ERROR", "Indiquez la date du paiement.", "paymentDate")
    try:
        paid_on = payment_date_raw if isinstance(payment_date_raw, date) else date.fromisoformat(str(payment_date_raw))
    except ValueError:
        raise ReconciliationError("VALIDATION_ERROR", "Date de paiement invalide (format attendu : AAAA-MM-JJ).",
                                  "paymentDate") from None
    if paid_on > today:
        raise ReconciliationError("VALIDATION_ERROR", "La date de paiement ne peut pas être dans le futur.",
                                  "paymentDate")
    if paid_on < recon.created_at.date():
        raise ReconciliationError("VALIDATION_ERROR", "La date de paiement précède la génération du bordereau.",
                                  "paymentDate")
    reference = " ".join(str(reference_raw or "").split())
    if not BANK_REFERENCE.match(reference):
        raise ReconciliationError("VALIDATION_ERROR", "Référence bancaire invalide : 3 à 64 caractères (lettres, "
                                  "chiffres, espace, . / _ -).", "bankReference")
    return paid_on, reference


def mark_paid(recon: Reconciliation, paid_on: date, reference: str, user) -> int:
    """Mark paid and move its claims to ``paid``, in the caller's transaction. Answers the claims moved."""
    _transition(recon, "paid", "payment")
    if not recon.pdf_path:
        raise ReconciliationError("PDF_MISSING", "Le PDF du bordereau n'est pas encore produit.", status=409)
    check_claim("approved", "paid", "payment")
    # Lock the row: two payments of one bordereau cannot both pass the check above.
    db.session.execute(select(Reconciliation.id).where(Reconciliation.id == recon.id).with_for_update())
    db.session.refresh(recon)
    _transition(recon, "paid", "payment")
    moved = db.session.execute(
        update(Claim).where(Claim.reconciliation_id == recon.id, Claim.status == "approved")
        .values(status="paid", updated_at=utcnow()), execution_options={"synchronize_session": False}).rowcount
    if moved != recon.total_claims:
        db.session.rollback()
        raise ReconciliationError("INCONSISTENT", "Les demandes du bordereau ne sont plus toutes approuvées : "
                                  "paiement refusé, contactez l'administrateur.", status=409)
    previous = recon.status
    recon.status, recon.paid_at, recon.payment_date, recon.payment_reference = "paid", utcnow(), paid_on, reference
    audit.record("reconciliation.paid", "reconciliation", recon.id,
                 {"status": [previous, "paid"], "payment_date": paid_on.isoformat(), "bank_reference": reference,
                  "claims_paid": moved, "net_payable": recon.total_net_payable}, user=user)
    return moved


# --- reading -------------------------------------------------------------------------------------

def list_for(user, limit: int = 100) -> list[Reconciliation]:
    return list(db.session.scalars(scoped(select(Reconciliation), Reconciliation, user)
                                   .order_by(Reconciliation.created_at.desc()).limit(limit)))


def statement_for_provider(recon_id: str, provider_id: str) -> ReconciliationStatement | None:
    return db.session.scalar(select(ReconciliationStatement).where(
        ReconciliationStatement.reconciliation_id == recon_id, ReconciliationStatement.provider_id == provider_id))


def provider_statements(provider_id: str) -> list[tuple[ReconciliationStatement, Reconciliation]]:
    return list(db.session.execute(
        select(ReconciliationStatement, Reconciliation)
        .join(Reconciliation, Reconciliation.id == ReconciliationStatement.reconciliation_id)
        .where(ReconciliationStatement.provider_id == provider_id)
        .order_by(Reconciliation.period_end.desc(), Reconciliation.created_at.desc()).limit(200)).all())


def provider_payment_status(provider_id: str) -> dict[str, tuple[int, int]]:
    """Claims of a provider by payment state: (count, insurer's share) paid / awaiting payment
    (in a bordereau not yet paid) / approved but not yet in a bordereau."""
    rows = db.session.execute(
        select(Claim.status, Claim.reconciliation_id.is_(None), func.count(), func.coalesce(func.sum(
            Claim.covered_amount), 0))
        .where(Claim.provider_id == provider_id, Claim.status.in_(("approved", "paid")))
        .group_by(Claim.status, Claim.reconciliation_id.is_(None))).all()
    out = {"paid": (0, 0), "awaiting": (0, 0), "unreconciled": (0, 0)}
    for status, unreconciled, count, covered in rows:
        key = "paid" if status == "paid" else ("unreconciled" if unreconciled else "awaiting")
        n, total = out[key]
        out[key] = (n + count, total + int(covered))
    return out


# --- CSV -------------------------------------------------------------------------------------------

CSV_HEADER = ("Bordereau", "Prestataire", "Agrément", "Référence demande", "Identifiant demande", "Date des soins",
              "Contrat", "Type", "Montant (TND)", "Part adhérent (TND)", "Part assureur (TND)", "Statut")


def _tnd_csv(millimes: int) -> str:
    return format_tnd(millimes, with_unit=False).replace("\u202f", "")


def csv_lines(recon: Reconciliation, reference: str) -> Iterator[str]:
    """The reconciliation's lines as CSV for a French spreadsheet (``;``, decimal comma, BOM), streamed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")

    def take() -> str:
        value = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return value

    writer.writerow(CSV_HEADER)
    yield "\ufeff" + take()
    columns = [Claim.id, Claim.reference, Provider.name, Provider.license_no, Claim.care_date, Contract.contract_number, Claim.type,
               Claim.total_amount, Claim.copay_amount, Claim.covered_amount, Claim.status]
    last = ""
    while True:
        rows = db.session.execute(
            select(*columns).join(Provider, Provider.id == Claim.provider_id)
            .join(Contract, Contract.id == Claim.contract_id)
            .where(Claim.reconciliation_id == recon.id, Claim.id > last).order_by(Claim.id).limit(CHUNK)).all()
        for row in rows:
            writer.writerow((reference, _safe(row.name), row.license_no, row.reference, row.id, row.care_date.isoformat(),
                             _safe(row.contract_number), CARE_TYPE_LABELS.get(row.type, row.type),
                             _tnd_csv(row.total_amount), _tnd_csv(row.copay_amount), _tnd_csv(row.covered_amount),
                             CLAIM_STATUS.get(row.status, row.status)))
        if rows:
            yield take()
        if len(rows) < CHUNK:
            return
        last = rows[-1].id


def _safe(text: str) -> str:
    """No spreadsheet formula from a name (CSV injection)."""
    return "'" + text if text and text[0] in "=+-@\t\r" else text


# --- verification ----------------------------------------------------------------------------------

FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")


def verify(recon_id: str, fingerprint_raw: str | None) -> tuple[Reconciliation | None, str | None]:
    """(reconciliation, what matched) when ``fingerprint`` is the SHA-256 of this bordereau's content, of its
    PDF file, or of one of its statements' PDF files; else (None, None)."""
    fingerprint = "".join((fingerprint_raw or "").split()).lower()
    if not FINGERPRINT.match(fingerprint) or not isinstance(recon_id, str) or len(recon_id) > 26:
        return None, None
    recon = db.session.get(Reconciliation, recon_id)
    if recon is None or not recon.pdf_path:
        return None, None
    if fingerprint == recon.content_sha256:
        return recon, "content"
    if fingerprint == recon.pdf_sha256:
        return recon, "pdf"
    statement = db.session.scalar(select(ReconciliationStatement.id).where(
        ReconciliationStatement.reconciliation_id == recon.id, ReconciliationStatement.pdf_sha256 == fingerprint))
    return (recon, "statement") if statement else (None, None)
