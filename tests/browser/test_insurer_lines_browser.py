"""The insurer portal's line decisions and ceilings in a real browser (Debian's Chromium through Playwright).

An insurer admin lowers the pharmacy line ceiling and adds a quantity limit through the settings form; an
agent agrees a price for a line sent hors nomenclature and refuses an early-refill reason; the pharmacy's
claim page and receipt show the insurer's word on each line.  Pages are screenshotted at 1280 px when
``DHAMEN_SCREENSHOTS`` names a folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "insurer"))
pytestmark = pytest.mark.browser


def test_admin_sets_ceilings_and_limits_through_the_form(app, client, shop, page, live_server):
    from claims_helpers import drug, post_claim
    from insurer_helpers import insurer_admin
    from test_insurer_portal import shot, sign_in

    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(app, page, live_server, insurer_admin(shop))
    page.goto("/assureur/parametres")
    form = page.locator("#limits-form")
    form.get_by_label("Plafond par ligne, pharmacie, en TND").fill("abc")
    form.get_by_role("button", name="Enregistrer les plafonds et limites").click()
    expect(page.locator(".errors").first).to_contain_text("Plafond par ligne, pharmacie : Montant invalide")
    shot(page, "settings-limits-error")
    form = page.locator("#limits-form")
    form.get_by_label("Plafond par ligne, pharmacie, en TND").fill("12")
    form.get_by_label("Code, limite 1").fill("PH0018")
    form.get_by_label("Quantité au plus, limite 1").fill("2")
    form.get_by_label("Période en jours, limite 1").fill("30")
    form.get_by_role("button", name="Enregistrer les plafonds et limites").click()
    expect(page.get_by_text("Plafonds et limites enregistrés")).to_be_visible()
    expect(page.get_by_label("Code, limite 1")).to_have_value("PH0018")
    shot(page, "settings-limits")
    data = post_claim(client, shop, contract="unlimited", items=[drug("PH0009", 6, 2_100)]).get_json()["data"]
    assert data["reasonCode"] == "LINE_CEILING" and data["coveredAmount"] == 0
    assert [p for p in page.csp_problems if "422" not in p] == []  # the refused form answers 422, nothing else


def test_agent_agrees_a_price_and_refuses_an_early_refill(app, client, shop, browser, page, live_server):
    from claims_helpers import drug, post_claim
    from test_insurer_portal import shot, sign_in

    page.set_viewport_size({"width": 1280, "height": 900})
    hn = post_claim(client, shop, body={"contractId": shop.contracts["active"].id, "submitToInsurer": True,
                                        "items": [drug("XX-777", 2, 20_000), drug("PH0009", 1, 2_100)]})
    hn = hn.get_json()["data"]
    post_claim(client, shop, contract="unlimited", items=[drug("PH0026", 1, 5_900)])
    refill = post_claim(client, shop, body={"contractId": shop.contracts["unlimited"].id, "overrideReason": "travel",
                                            "items": [drug("PH0026", 1, 5_900), drug("PH0009", 1, 2_100)]})
    refill = refill.get_json()["data"]
    assert refill["reasonCode"] == "REFILL_OVERRIDE"

    sign_in(app, page, live_server, shop.users["agentA"])
    page.goto(f"/assureur/demandes/{hn['id']}")
    page.get_by_label("Prix accordé hors nomenclature en TND, ligne 1").fill("15,000")
    page.get_by_label("Motif de l'accord, ligne 1").fill("Facture du fournisseur")
    shot(page, "claim-hors-nomenclature")
    page.get_by_role("button", name="Approuver en partie").click()
    expect(page.locator("#covered-amount")).to_contain_text("25,680")
    expect(page.get_by_text("prix accordé 15,000 TND pour une ligne hors nomenclature")).to_be_visible()
    shot(page, "claim-hors-nomenclature-decided")

    page.goto(f"/assureur/demandes/{refill['id']}")
    page.get_by_label("Motif du renouvellement anticipé, ligne 1").select_option("refuse")
    page.get_by_label("Motif de l'accord, ligne 1").fill("Boîte précédente en cours")
    page.get_by_label("Note au prestataire").fill("Renouvellement trop tôt")
    shot(page, "claim-refill")
    page.get_by_role("button", name="Approuver en partie").click()
    expect(page.get_by_text("Renouvellement anticipé refusé par l'assureur : Boîte précédente en cours")).to_be_visible()
    shot(page, "claim-refill-decided")
    assert page.csp_problems == []

    sign_in(app, page, live_server, shop.users["pharmacist"])
    for path, name in ((f"/pharmacie/demandes/{refill['id']}", "counter-refill-refused"),
                       (f"/pharmacie/demandes/{refill['id']}/recu", "counter-refill-receipt"),
                       (f"/pharmacie/demandes/{hn['id']}/recu", "counter-hn-receipt")):
        page.goto(path)
        expect(page.locator("body")).to_contain_text("Accord partiel de Assurances Test A")
        shot(page, name)
    expect(page.locator("body")).to_contain_text("prix accordé 15,000 TND pour une ligne hors nomenclature")
