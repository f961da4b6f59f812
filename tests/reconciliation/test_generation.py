"""Generation: every approved claim of the period, once; totals from the domain; the PDF read back."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from recon_helpers import PERIOD_END, PERIOD_START, add_claims, pdf_text, run_jobs
from sqlalchemy import func, select

from dhamen.domain.reconciliation import ClaimRow, summarize
from dhamen.extensions import db
from dhamen.models import AuditLog, Claim, Reconciliation, ReconciliationRun
from dhamen.reconciliation.generation import Period, ReconciliationError, parse_period, request_generation


def generate(app, shop, insurer="A", period=None):
    run = request_generation(shop.insurers[insurer].id, period or Period(PERIOD_START, PERIOD_END), "cron")
    db.session.commit()
    run_jobs(app)
    db.session.expire_all()
    return db.session.get(ReconciliationRun, run.id)


def test_generation_takes_every_approved_claim_of_the_period_once(app, shop):
    mine = add_claims(shop, 40) + add_claims(shop, 12, provider="doctor") + add_claims(shop, 3, provider="lab")
    # Not taken: another status, outside the period, another insurer.
    add_claims(shop, 2, status="pending_review")
    add_claims(shop, 2, care_date=PERIOD_END + timedelta(days=1))
    add_claims(shop, 2, care_date=PERIOD_START - timedelta(days=1))
    add_claims(shop, 2, contract="foreign")
    run = generate(app, shop)
    assert run.state == "done", run.error
    recon = db.session.get(Reconciliation, run.reconciliation_id)
    ids = set(db.session.scalars(select(Claim.id).where(Claim.reconciliation_id == recon.id)))
    assert ids == {c.id for c in mine}
    expected = summarize([ClaimRow(c.id, c.provider_id, c.provider.name, c.total_amount, c.covered_amount)
                          for c in mine], 150)
    assert (recon.total_claims, recon.total_amount, recon.total_covered, recon.total_retentions,
            recon.total_net_payable) == (expected.total_claims, expected.total_amount, expected.total_covered,
                                         expected.total_retentions, expected.total_net_payable)
    assert recon.total_net_payable == recon.total_covered - recon.total_retentions
    assert [(s.provider_id, s.claim_count, s.net_payable) for s in recon.statements] == [
        (p.provider_id, p.claim_count, p.net_payable) for p in expected.providers]
    assert recon.status == "generated" and recon.retention_rate_bp == 150
    assert recon.pdf_path and recon.pdf_sha256 and recon.content_sha256
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "reconciliation.generate", AuditLog.entity_id == recon.id)) == 1

    # A second generation of the same period finds nothing left and creates nothing.
    again = generate(app, shop)
    assert again.state == "empty" and again.reconciliation_id is None
    assert "Aucune demande" in again.error
    assert db.session.scalar(select(func.count()).select_from(Reconciliation)) == 1


def test_pdf_totals_and_lines_match_the_database(app, shop, monkeypatch):
    from dhamen.reconciliation import document

    # Parts of 2 pages, rendered by two processes, joined: sections span parts.
    monkeypatch.setattr(document, "PAGES_PER_PART", 2)
    monkeypatch.setenv("PDF_WORKERS", "2")
    claims = add_claims(shop, 130) + add_claims(shop, 7, provider="doctor")
    run = generate(app, shop)
    recon = db.session.get(Reconciliation, run.reconciliation_id)
    storage = app.extensions["dhamen.services"].storage
    data = storage.get(recon.pdf_path)
    assert hashlib.sha256(data).hexdigest() == recon.pdf_sha256 and len(data) == recon.pdf_size
    text = pdf_text(data)
    pages = text.split("\f")
    total_pages = recon.page_count
    assert f"page 1 / {total_pages}" in pages[0] and f"page {total_pages} / {total_pages}" in pages[total_pages - 1]
    assert total_pages == 1 + 3 + 1 + 1  # cover, 130 pharmacy claims (3 pages), 7 doctor claims, verification
    assert "Bordereau de tiers payant" in pages[0] and "Assurances Test A" in pages[0]
    assert f"Période du {PERIOD_START:%d/%m/%Y} au {PERIOD_END:%d/%m/%Y}" in pages[0]
    assert re.search(r"Net à payer aux prestataires\s+" + re.escape(_tnd(recon.total_net_payable)), pages[0])
    assert re.search(r"Demandes\s+137\b", pages[0])
    assert recon.content_sha256 in text.replace("\n", "")
    # A sample of lines: reference, date, contract number and amounts as stored.
    for claim in (claims[0], claims[77], claims[-1]):
        line = next(ln for ln in text.splitlines() if claim.reference in ln)
        assert claim.care_date.strftime("%d/%m/%Y") in line and "CT-ACTIVE-001" in line
        assert line.split()[-3:] == [_amount(claim.total_amount), _amount(claim.copay_amount),
                                     _amount(claim.covered_amount)]
    for statement in recon.statements:
        assert re.search(r"NET À PAYER AU PRESTATAIRE\s+" + re.escape(_tnd(statement.net_payable)), text)

    # Each provider's statement: only its own section.
    doctor = next(s for s in recon.statements if s.provider_id == shop.providers["doctor"].id)
    statement = storage.get(doctor.pdf_path)
    assert hashlib.sha256(statement).hexdigest() == doctor.pdf_sha256
    own = pdf_text(statement)
    assert "Dr Test" in own and "Pharmacie Test" not in own
    assert all(c.reference in own for c in claims[130:]) and claims[0].reference not in own


def _amount(millimes: int) -> str:
    dinars, rest = divmod(millimes, 1000)
    return f"{dinars:,}".replace(",", " ") + f",{rest:03d}"


def _tnd(millimes: int) -> str:
    return _amount(millimes) + " TND"


def test_database_keeps_a_claim_in_one_reconciliation(app, shop):
    claims = add_claims(shop, 3)
    run = generate(app, shop)
    other = Reconciliation(insurer_id=shop.insurers["A"].id, period_start=PERIOD_START, period_end=PERIOD_END,
                           total_claims=0, total_amount=0, total_covered=0, total_net_payable=0)
    db.session.add(other)
    db.session.commit()
    for value in (other.id, None):
        with pytest.raises(sa.exc.DBAPIError):
            db.session.execute(sa.update(Claim).where(Claim.id == claims[0].id).values(reconciliation_id=value))
        db.session.rollback()
    # Only an approved claim can enter one, and a paid claim is always in one.
    pending = add_claims(shop, 1, status="pending_review")[0]
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.update(Claim).where(Claim.id == pending.id).values(reconciliation_id=other.id))
    db.session.rollback()
    loose = add_claims(shop, 1, care_date=PERIOD_END + timedelta(days=1))[0]
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.update(Claim).where(Claim.id == loose.id).values(status="paid"))
    db.session.rollback()
    assert db.session.get(Claim, claims[0].id).reconciliation_id == run.reconciliation_id


def test_storage_down_fails_visibly_then_retry_completes(app, shop, monkeypatch):
    from dhamen.core.storage import StorageError
    from dhamen.reconciliation.generation import retry

    add_claims(shop, 20)
    storage = app.extensions["dhamen.services"].storage

    def down(*_a, **_k):
        raise StorageError("stockage S3 indisponible ou en erreur: EndpointConnectionError")

    monkeypatch.setattr(storage, "put_file", down)
    run = generate(app, shop)
    assert run.state == "failed" and "stockage" in run.error
    recon = db.session.get(Reconciliation, run.reconciliation_id)
    assert recon.total_claims == 20  # the claims are taken, once
    assert recon.pdf_path is None and all(s.pdf_path is None for s in recon.statements)

    monkeypatch.undo()
    retry(run)
    db.session.commit()
    run_jobs(app)
    db.session.expire_all()
    run = db.session.get(ReconciliationRun, run.id)
    assert run.state == "done", run.error
    recon = db.session.get(Reconciliation, run.reconciliation_id)
    assert recon.pdf_path and storage.exists(recon.pdf_path)
    assert db.session.scalar(select(func.count()).select_from(Reconciliation)) == 1
    with pytest.raises(ReconciliationError):
        retry(run)


@pytest.mark.parametrize("start,end,message", [
    ("", "2026-01-31", "date de début"), ("2026-02-01", "2026-01-31", "précède"),
    ("2026-01-01", "2999-01-01", "après aujourd'hui"), ("2024-01-01", "2025-06-01", "un an"),
    ("01/01/2026", "2026-01-31", "AAAA-MM-JJ")])
def test_period_is_checked(start, end, message):
    with pytest.raises(ReconciliationError, match=message):
        parse_period(start, end)


def test_claims_taken_in_several_statements_each_once(app, shop, monkeypatch):
    from dhamen.reconciliation import generation

    monkeypatch.setattr(generation, "CLAIM_CHUNK", 7)  # 45 claims: seven UPDATE statements
    mine = add_claims(shop, 30) + add_claims(shop, 14, provider="doctor") + add_claims(shop, 1, provider="lab")
    add_claims(shop, 3, status="pending_review")
    run = generate(app, shop)
    assert run.state == "done", run.error
    recon = db.session.get(Reconciliation, run.reconciliation_id)
    assert set(db.session.scalars(select(Claim.id).where(Claim.reconciliation_id == recon.id))) == {
        c.id for c in mine}
    assert recon.total_claims == 45 and recon.total_amount == sum(c.total_amount for c in mine)
    assert sum(s.claim_count for s in recon.statements) == 45
