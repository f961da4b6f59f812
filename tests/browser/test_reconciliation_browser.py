"""Reconciliation in a real browser (Debian's Chromium through Playwright).

The insurer admin generates the bordereau of last month, watches the generation
complete on its page (htmx polling), downloads the PDF, marks it paid; then the
pharmacist sees its claims paid in « Mes relevés » and downloads its own statement.
DHAMEN_SCREENSHOTS=<folder> keeps 1280 px screenshots of each page.
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

import pyotp
import pytest
import test_browser_login
from auth_helpers import PASSWORD, make_user
from claims_helpers import shop_fixture  # noqa: F401
from playwright.sync_api import expect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reconciliation"))
from recon_helpers import PERIOD_END, PERIOD_START, add_claims, pdf_text, run_jobs  # noqa: E402

pytestmark = pytest.mark.browser
browser, live_server, page = test_browser_login.browser, test_browser_login.live_server, test_browser_login.page
SCREENSHOTS = os.environ.get("DHAMEN_SCREENSHOTS")


def shot(pg, name: str) -> None:
    if SCREENSHOTS:
        pg.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def log_in(pg, email: str, secret: str | None = None) -> None:
    pg.goto("/connexion")
    pg.fill("input[name=email]", email)
    pg.fill("input[name=password]", PASSWORD)
    with pg.expect_navigation():
        pg.locator("main form button[type=submit]").first.click()
    if secret:
        pg.fill("input[name=code]", pyotp.TOTP(secret).now())
        with pg.expect_navigation():
            pg.locator("main form button[type=submit]").first.click()


def problems(pg) -> list[str]:
    return [p for p in pg.csp_problems if "Content Security Policy" in p or "Error" in p]


def test_admin_generates_pays_and_pharmacist_sees_it(app, shop, page, tmp_path):
    from dhamen.access.auth import mfa

    page.set_viewport_size({"width": 1280, "height": 900})
    page.set_default_timeout(120_000)  # on the embedded default the generation runs inside the POST
    claims = add_claims(shop, 40) + add_claims(shop, 6, provider="doctor")
    admin = make_user("INSURER_ADMIN", insurer=shop.insurers["A"], mfa=True)
    secret = admin.mfa_secret
    assert mfa is not None

    log_in(page, admin.email, secret)
    page.get_by_role("link", name="Bordereaux").click()
    expect(page.locator("h1")).to_contain_text("Bordereaux de tiers payant")
    assert page.locator("#period_start").input_value() == PERIOD_START.isoformat()
    assert page.locator("#period_end").input_value() == PERIOD_END.isoformat()
    shot(page, "bordereaux-liste")
    with page.expect_navigation():
        page.get_by_role("button", name="Générer le bordereau").click()
    assert "/assureur/bordereaux/generations/" in page.url
    run_jobs(app)  # a real Redis: the RQ worker's part, here; the page polls meanwhile
    expect(page.locator("#run-status")).to_contain_text("Terminé", timeout=60_000)
    expect(page.locator("#run-status")).to_contain_text("46 demande(s)")
    shot(page, "bordereau-generation")

    with page.expect_navigation():
        page.get_by_role("link", name="Ouvrir le bordereau").click()
    expect(page.locator("h1")).to_contain_text("Généré")
    with page.expect_download() as info:
        page.get_by_role("link", name="Télécharger le PDF").click()
    pdf = Path(info.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF") and claims[0].reference in pdf_text(pdf)

    page.fill("#bank_reference", "VIR-STB-2026-0042")
    page.fill("#payment_date", date.today().isoformat())
    with page.expect_navigation():
        page.get_by_role("button", name="Marquer comme payé").click()
    expect(page.locator(".flash-success")).to_contain_text("46 demande(s)")
    expect(page.locator("h1")).to_contain_text("Payé")
    assert page.get_by_role("button", name="Marquer comme payé").count() == 0
    shot(page, "bordereau-paye")
    assert problems(page) == []

    with page.expect_navigation():
        page.get_by_role("button", name="Se déconnecter").click()
    log_in(page, shop.users["pharmacist"].email)
    page.get_by_role("link", name="Mes relevés").click()
    expect(page.locator("h1")).to_contain_text("Mes relevés")
    paid = page.locator(".grid .card").first
    expect(paid).to_contain_text("40 demande(s)")
    expect(page.locator("table").first).to_contain_text("Payé le")
    shot(page, "pharmacie-releves")
    with page.expect_download() as info:
        page.get_by_role("link", name="(PDF)").first.click()
    text = pdf_text(Path(info.value.path()).read_bytes())
    assert "Pharmacie Test" in text and "Dr Test" not in text and claims[0].reference in text
    assert problems(page) == []


def test_verification_page_from_the_qr_code(app, shop, page):
    from sqlalchemy import select

    from dhamen.extensions import db
    from dhamen.models import Reconciliation
    from dhamen.reconciliation.generation import Period, request_generation

    page.set_viewport_size({"width": 1280, "height": 900})
    add_claims(shop, 3)
    request_generation(shop.insurers["A"].id, Period(PERIOD_START, PERIOD_END), "cron")
    db.session.commit()
    run_jobs(app)
    recon = db.session.scalar(select(Reconciliation))
    page.goto(f"/verification/{recon.id}")
    page.fill("#empreinte", recon.content_sha256)
    with page.expect_navigation():
        page.get_by_role("button", name="Vérifier").click()
    expect(page.locator("main")).to_contain_text("Document authentique")
    expect(page.locator("main")).to_contain_text("Assurances Test A")
    shot(page, "verification")
    assert problems(page) == []
