"""Insurer pages, API, provider statements, verification, CSV, cron command."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from auth_helpers import csrf_from, fast_api_token, fast_web_session, make_user
from claims_helpers import shop_fixture  # noqa: F401
from recon_helpers import PERIOD_END, PERIOD_START, add_claims, pdf_text, run_jobs
from sqlalchemy import func, select

from dhamen.extensions import db
from dhamen.models import AuditLog, Claim, Reconciliation, ReconciliationRun


@pytest.fixture
def admin(shop):
    return make_user("INSURER_ADMIN", insurer=shop.insurers["A"])


def signed_in(app, user):
    client = app.test_client()
    fast_web_session(client, user)
    return client, csrf_from(client.get("/compte").get_data(as_text=True))


def download(client, url) -> bytes:
    """A PDF download: streamed (local storage) or through a short-lived signed URL (S3)."""
    r = client.get(url)
    if r.status_code == 302:
        import urllib.request

        assert "X-Amz-Expires=120" in r.headers["Location"]
        with urllib.request.urlopen(r.headers["Location"]) as answer:  # noqa: S310 - the test's S3 server
            return answer.read()
    assert r.status_code == 200 and r.mimetype == "application/pdf", r.status_code
    return r.get_data()


def generate_from_portal(app, client, token):
    r = client.post("/assureur/bordereaux/generer", data={
        "csrf_token": token, "period_start": PERIOD_START.isoformat(), "period_end": PERIOD_END.isoformat()})
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    run_jobs(app)
    db.session.expire_all()
    run_id = r.headers["Location"].rsplit("/", 1)[1]
    return db.session.get(ReconciliationRun, run_id), r.headers["Location"]


def test_admin_generates_follows_downloads_and_marks_paid(app, shop, admin):
    claims = add_claims(shop, 25) + add_claims(shop, 4, provider="doctor")
    client, token = signed_in(app, admin)
    page = client.get("/assureur/bordereaux/").get_data(as_text=True)
    assert "Générer le bordereau" in page and PERIOD_START.isoformat() in page  # last closed month proposed
    run, location = generate_from_portal(app, client, token)
    assert run.state == "done"
    status = client.get(location, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "hx-trigger" not in status and "Ouvrir le bordereau" in status and "29 demande(s)" in status
    recon = db.session.get(Reconciliation, run.reconciliation_id)
    detail = client.get(f"/assureur/bordereaux/{recon.id}").get_data(as_text=True)
    assert "Marquer comme payé" in detail and "Pharmacie Test" in detail
    text = pdf_text(download(client, f"/assureur/bordereaux/{recon.id}/bordereau.pdf"))
    assert claims[0].reference in text and "Bordereau de tiers payant" in text

    # Bad payment input: a French message, nothing changes.
    r = client.post(f"/assureur/bordereaux/{recon.id}/paye", data={
        "csrf_token": token, "payment_date": "2999-01-01", "bank_reference": "VIR-2026-0001"})
    assert r.status_code == 422 and "futur" in r.get_data(as_text=True)
    r = client.post(f"/assureur/bordereaux/{recon.id}/paye", data={
        "csrf_token": token, "payment_date": date.today().isoformat(), "bank_reference": "<x>"})
    assert r.status_code == 422 and "Référence bancaire invalide" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Reconciliation, recon.id).status == "generated"

    assert client.post(f"/assureur/bordereaux/{recon.id}/envoye", data={"csrf_token": token}).status_code == 303
    r = client.post(f"/assureur/bordereaux/{recon.id}/paye", data={
        "csrf_token": token, "payment_date": date.today().isoformat(), "bank_reference": "VIR-2026-0001"})
    assert r.status_code == 303
    db.session.expire_all()
    recon = db.session.get(Reconciliation, recon.id)
    assert (recon.status, recon.payment_reference, recon.payment_date) == ("paid", "VIR-2026-0001", date.today())
    assert recon.paid_at is not None and recon.sent_at is not None
    assert set(db.session.scalars(select(Claim.status).where(Claim.reconciliation_id == recon.id))) == {"paid"}
    paid = db.session.scalars(select(AuditLog).where(AuditLog.action == "reconciliation.paid")).one()
    assert paid.changes_json["claims_paid"] == 29 and paid.user_id == admin.id
    # A paid reconciliation can't be changed.
    for action, data in (("envoye", {}), ("paye", {"payment_date": date.today().isoformat(),
                                                  "bank_reference": "VIR-2"})):
        r = client.post(f"/assureur/bordereaux/{recon.id}/{action}", data={"csrf_token": token, **data})
        assert r.status_code == 409 and "payé" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Reconciliation, recon.id).payment_reference == "VIR-2026-0001"


def test_agent_reads_but_cannot_generate_or_pay(app, shop):
    add_claims(shop, 3)
    client, token = signed_in(app, shop.users["agentA"])
    assert "Générer le bordereau" not in client.get("/assureur/bordereaux/").get_data(as_text=True)
    r = client.post("/assureur/bordereaux/generer", data={"csrf_token": token, "period_start": PERIOD_START,
                                                          "period_end": PERIOD_END})
    assert r.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(ReconciliationRun)) == 0


def test_api_generates_lists_and_scopes(app, shop, admin, client):
    add_claims(shop, 6)
    headers = {"Authorization": f"Bearer {fast_api_token(admin)}"}
    r = client.post("/api/v1/reconciliation", json={"periodStart": "2026-13-01", "periodEnd": "2026-01-31"},
                    headers=headers)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "VALIDATION_ERROR"
    assert "AAAA-MM-JJ" in r.get_json()["error"]["message"]
    r = client.post("/api/v1/reconciliation", json={"periodStart": PERIOD_START.isoformat(),
                                                    "periodEnd": PERIOD_END.isoformat()}, headers=headers)
    assert r.status_code == 202, r.get_json()
    run_jobs(app)
    run = client.get(r.headers["Location"], headers=headers).get_json()["data"]
    assert run["state"] == "done"
    listed = client.get("/api/v1/reconciliation", headers=headers).get_json()["data"]
    assert [x["id"] for x in listed] == [run["reconciliationId"]] and listed[0]["totalClaims"] == 6
    agent = {"Authorization": f"Bearer {shop.tokens['agentA']}"}
    assert client.post("/api/v1/reconciliation", json={}, headers=agent).status_code == 403
    assert client.get("/api/v1/reconciliation", headers=agent).get_json()["data"][0]["id"] == run["reconciliationId"]
    foreign = {"Authorization": f"Bearer {shop.tokens['agentB']}"}
    assert client.get("/api/v1/reconciliation", headers=foreign).get_json()["data"] == []
    assert client.get(f"/api/v1/reconciliation/{run['reconciliationId']}", headers=foreign).status_code == 404
    pharmacist = {"Authorization": f"Bearer {shop.tokens['pharmacist']}"}
    assert client.get("/api/v1/reconciliation", headers=pharmacist).status_code == 403


def test_provider_sees_payment_states_and_only_its_statement(app, shop, admin):
    add_claims(shop, 5)
    add_claims(shop, 2, provider="pharmacist2")
    add_claims(shop, 1, care_date=PERIOD_END.replace(day=1) if PERIOD_END.day > 1 else PERIOD_END)
    client, token = signed_in(app, admin)
    run, _ = generate_from_portal(app, client, token)
    add_claims(shop, 2, care_date=date.today())  # approved, not yet on a bordereau
    pharmacist, _ = signed_in(app, shop.users["pharmacist"])
    page = pharmacist.get("/pharmacie/releves").get_data(as_text=True)
    assert "Mes relevés" in page and "En attente de paiement" in page and "Pas encore sur un bordereau" in page
    statement = pdf_text(download(pharmacist, f"/pharmacie/releves/{run.reconciliation_id}.pdf"))
    assert "Pharmacie Test" in statement and "Pharmacie Voisine" not in statement
    # Another pharmacy's statement of another reconciliation: nothing.
    other, _ = signed_in(app, shop.users["doctor"])
    assert other.get(f"/medecin/releves/{run.reconciliation_id}.pdf").status_code == 404
    assert other.get("/pharmacie/releves").status_code == 403


def test_verification_page_without_login(app, shop, admin, client):
    add_claims(shop, 4)
    c, token = signed_in(app, admin)
    run, _ = generate_from_portal(app, c, token)
    recon = db.session.get(Reconciliation, run.reconciliation_id)
    r = client.get(f"/verification/{recon.id}?empreinte={recon.content_sha256}")
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "Document authentique" in body and "Assurances Test A" in body
    assert "Généré" in body and "Pharmacie Test" not in body  # insurer, period, total, status only
    assert client.get(f"/verification/{recon.id}?empreinte={recon.pdf_sha256.upper()}").status_code == 200
    r = client.get(f"/verification/{recon.id}?empreinte={'0' * 64}")
    assert r.status_code == 404 and "ne correspond" in r.get_data(as_text=True)
    assert "Assurances Test A" not in r.get_data(as_text=True)
    assert client.get(f"/verification/{recon.id}").status_code == 404


def test_csv_export_lines_match(app, shop, admin):
    claims = add_claims(shop, 5)
    client, token = signed_in(app, admin)
    run, _ = generate_from_portal(app, client, token)
    r = client.get(f"/assureur/bordereaux/{run.reconciliation_id}/lignes.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))
    assert rows[0][:3] == ["Bordereau", "Prestataire", "Agrément"] and len(rows) == 6
    by_id = {row[4]: row for row in rows[1:]}
    for claim in claims:
        row = by_id[claim.id]
        assert row[8] == f"{claim.total_amount // 1000},{claim.total_amount % 1000:03d}"
        assert row[10] == f"{claim.covered_amount // 1000},{claim.covered_amount % 1000:03d}"
    agent, _ = signed_in(app, shop.users["agentB"])
    assert agent.get(f"/assureur/bordereaux/{run.reconciliation_id}/lignes.csv").status_code == 404


def test_cron_command_generates_what_is_due_once(app, shop):
    add_claims(shop, 3)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["dhamen", "bordereaux", "--date", date.today().isoformat()])
    assert result.exit_code == 0, result.output
    assert "TA du" in result.output and "(done)" in result.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Reconciliation)) == 1
    again = runner.invoke(args=["dhamen", "bordereaux", "--date", date.today().isoformat()])
    assert again.exit_code == 0 and "Aucun bordereau dû" in again.output
    assert db.session.scalar(select(func.count()).select_from(Reconciliation)) == 1
