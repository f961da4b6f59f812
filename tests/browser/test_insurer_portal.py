"""The insurer portal in a real browser (Debian's Chromium through Playwright).

An agent filters the queue by a flag (htmx, the URL follows), opens a
hospitalization, approves it in part with a reason; the clinic's claim page
shows the agreed amounts.  An insurer admin changes a barème tariff and the
next counter claim is priced with it.  Pages are screenshotted at 1280 px
when ``DHAMEN_SCREENSHOTS`` names a folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "insurer"))
pytestmark = pytest.mark.browser
SCREENSHOTS = os.environ.get("DHAMEN_SCREENSHOTS")


def shot(pg, name: str) -> None:
    if SCREENSHOTS:
        os.makedirs(SCREENSHOTS, exist_ok=True)
        pg.screenshot(path=os.path.join(SCREENSHOTS, f"insurer-{name}.png"), full_page=True)


def sign_in(app, pg, live_server, user) -> None:
    """The browser gets a signed-in session cookie (insurer roles use MFA: the login pages are tested elsewhere)."""
    from auth_helpers import fast_web_session

    client = app.test_client()
    fast_web_session(client, user)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    pg.context.clear_cookies()
    pg.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server}])


def test_agent_filters_opens_and_approves_in_part(app, client, shop, browser, page, live_server):
    from insurer_helpers import stay_claim
    from test_review_queue import _insert_pending

    page.set_viewport_size({"width": 1280, "height": 900})
    _insert_pending(shop, 3)
    hosp = stay_claim(client, shop)
    # the hospitalization also carries a flag, so that filtering by it keeps it
    from dhamen.extensions import db
    from dhamen.models import Claim

    claim = db.session.get(Claim, hosp["id"])
    claim.fraud_flags_json = [{"code": "UNUSUAL_AMOUNT", "points": 20, "message": "Montant 3 fois l'habituel"}]
    claim.fraud_score = 20
    db.session.commit()

    # The clinic keeps its claim's page open while the insurer decides.
    clinic = browser.new_context(base_url=live_server, locale="fr-FR").new_page()
    clinic.set_default_timeout(15_000)
    clinic.set_viewport_size({"width": 1280, "height": 900})
    sign_in(app, clinic, live_server, shop.users["clinic"])
    clinic.goto(f"/clinique/demandes/{hosp['id']}")
    expect(clinic.locator("body")).to_contain_text("630,000")

    sign_in(app, page, live_server, shop.users["agentA"])
    page.goto("/assureur/file")
    expect(page.locator("#queue-title")).to_contain_text("4 demandes à examiner")
    shot(page, "queue")
    page.select_option("#f-signal", "UNUSUAL_AMOUNT")  # htmx: the results change, the URL follows
    expect(page.locator("#queue-title")).to_contain_text("1 demande à examiner")
    assert parse_qs(urlsplit(page.url).query) == {"signal": ["UNUSUAL_AMOUNT"]}
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    shot(page, "queue-filtered")
    with page.expect_navigation():
        page.get_by_role("link", name="PrénomActive NomActive").click()
    expect(page.locator("h1")).to_contain_text("Hospitalisation")
    shot(page, "claim")
    page.fill("#l0-qty", "2")
    page.fill("#l0-reason", "Sortie autorisée à J2")
    page.fill("#note", "Accord pour deux nuits")
    with page.expect_navigation():
        page.get_by_role("button", name="Approuver en partie").click()
    expect(page.locator(".flash-success")).to_contain_text("Demande approuvée en partie : 540,000 TND pris en charge")
    expect(page.locator(".status-reason")).to_contain_text("Accord partiel de Assurances Test A : Accord pour deux nuits")
    shot(page, "claim-decided")

    # the clinic's open page shows the agreed amounts and the note without a reload (it polls)
    expect(clinic.locator("body")).to_contain_text("Accord pour deux nuits", timeout=20_000)
    expect(clinic.locator("body")).to_contain_text("540,000")
    assert clinic.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert clinic.evaluate("performance.getEntriesByType('navigation')[0].type") == "navigate"
    shot(clinic, "clinic-claim")
    clinic.context.close()


def test_dashboard_renders(app, client, shop, page, live_server):
    from insurer_helpers import stay_claim

    page.set_viewport_size({"width": 1280, "height": 900})
    stay_claim(client, shop)
    sign_in(app, page, live_server, shop.users["agentA"])
    page.goto("/assureur/")
    expect(page.locator("h1")).to_contain_text("tableau de bord")
    assert page.locator("svg[role=img]").count() >= 3
    shot(page, "dashboard")


def test_admin_changes_a_bareme_tariff_and_the_next_counter_claim_uses_it(app, client, shop, page, live_server):
    from claims_helpers import drug, post_claim
    from insurer_helpers import insurer_admin

    page.set_viewport_size({"width": 1280, "height": 900})
    before = post_claim(client, shop, items=[drug("PH0023", 1, 40_000)]).get_json()["data"]
    assert before["items"][0]["cappedUnitPrice"] == 27_900
    sign_in(app, page, live_server, insurer_admin(shop))
    page.goto("/assureur/parametres")
    shot(page, "settings")
    with page.expect_navigation():
        page.get_by_role("link", name="Pharmacie").click()
    row = page.locator("input[value='PH0023']")
    price = page.locator(f"#{row.get_attribute('id').replace('-code', '-price')}")
    price.fill("30,000")
    page.fill("#version", "TA-2026.2")
    shot(page, "bareme")
    with page.expect_navigation():
        page.get_by_role("button", name="Enregistrer le barème").click()
    expect(page.locator(".flash-success")).to_contain_text("version TA-2026.2")
    after = post_claim(client, shop, items=[drug("PH0023", 1, 40_000)]).get_json()["data"]
    assert after["items"][0]["cappedUnitPrice"] == 30_000 and "TA-2026.2" in after["baremeVersion"]
    for path, name in (("/assureur/conventions", "conventions"), ("/assureur/utilisateurs", "users")):
        page.goto(path)
        shot(page, name)
    page.goto("/assureur/conventions")
    with page.expect_navigation():
        page.get_by_role("link", name="Pharmacie Test").click()
    shot(page, "convention")
