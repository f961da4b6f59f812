"""A claim waiting for the insurer: what the counter does now, the page and the home that update
themselves when the insurer decides (htmx polling of a small fragment), the provisional receipt.
And the short reference at the counter (history search, claim page)."""

from __future__ import annotations

from datetime import date, timedelta

from claims_helpers import drug, post_claim, shop_fixture  # noqa: F401
from test_portal_support import PORTALS, claim_data, claims_of, entry_url, login, open_entry, text

from dhamen.domain.transitions import check_claim
from dhamen.extensions import db

HX = {"HX-Request": "true"}


def _pending_clinic_claim(client, shop):
    case = PORTALS["CLINIC_ADMIN"]
    login(client, shop.users["clinic"])
    _page, hidden = open_entry(client, case, shop.contracts["active"])
    response = client.post(f"{entry_url(case, shop.contracts['active'])}/valider",
                           data=claim_data(case, hidden, care_date=(date.today() - timedelta(days=3)).isoformat(),
                                           discharge_date=date.today().isoformat()))
    assert response.status_code == 303, text(response)
    [claim] = claims_of(shop.providers["clinic"])
    assert claim.status == "pending_review"
    return claim


def decide(claim, status: str) -> None:
    """What the insurer's decision does to the claim: a change the transition table allows."""
    check_claim(claim.status, status, "agent")
    claim.status = status
    db.session.commit()


def test_pending_claim_says_what_to_do_now_and_polls_until_the_insurer_decides(client, shop):
    claim = _pending_clinic_claim(client, shop)
    page = text(client.get(f"/clinique/demandes/{claim.id}"))
    assert "En attente de la décision de l'assureur" in page
    assert "il paie 256,000 TND (sa part)" in page.replace("<strong>", "").replace("</strong>", "")
    assert "prix total, 940,000 TND" in page.replace("<strong>", "").replace("</strong>", "")
    assert "rendez-lui 684,000 TND" in page and "sans recharger la page" in page
    assert claim.reference in page and "Imprimer le reçu provisoire" in page
    status_url = f"/clinique/demandes/{claim.id}/statut?vu=pending_review"
    assert f'hx-get="{status_url.replace("&", "&amp;")}" hx-trigger="every 5s"' in page

    # Nothing decided yet: the fragment polls on.
    fragment = text(client.get(status_url, headers=HX))
    assert fragment.lstrip().startswith('<section id="claim-result"') and "<html" not in fragment
    assert 'hx-trigger="every 5s"' in fragment

    # The home lists it and polls too.
    home = text(client.get("/clinique/"))
    assert 'hx-get="/clinique/dernieres"' in home and "1 demande en attente de l'assureur" in home

    decide(claim, "approved")
    fragment = text(client.get(status_url, headers=HX))
    assert "hx-trigger" not in fragment  # decided: the polling stops
    assert "L'assureur a décidé : approuvée. L'adhérent paie 256,000 TND." in fragment
    assert "En attente de la décision" not in fragment and "Imprimer le reçu provisoire" not in fragment
    latest = text(client.get("/clinique/dernieres", headers=HX))
    assert "hx-trigger" not in latest and "Approuvée" in latest


def test_a_rejection_shows_the_full_price(client, shop):
    claim = _pending_clinic_claim(client, shop)
    decide(claim, "rejected")
    fragment = text(client.get(f"/clinique/demandes/{claim.id}/statut?vu=pending_review", headers=HX))
    assert "L'assureur a décidé : refusée. L'adhérent paie le prix total, 940,000 TND." in fragment


def test_pending_receipt_is_provisional_and_the_final_one_is_not(client, shop):
    claim = _pending_clinic_claim(client, shop)
    receipt = text(client.get(f"/clinique/demandes/{claim.id}/recu"))
    assert "Reçu provisoire de tiers payant" in receipt and "Reçu provisoire :" in receipt
    assert claim.reference in receipt and "prix total, 940,000 TND" in receipt.replace("<strong>", "").replace(
        "</strong>", "")
    decide(claim, "approved")
    receipt = text(client.get(f"/clinique/demandes/{claim.id}/recu"))
    assert "provisoire" not in receipt.lower() and "Reçu de tiers payant" in receipt


def test_the_preview_of_a_claim_the_insurer_must_decide_says_so(client, shop):
    case = PORTALS["CLINIC_ADMIN"]
    login(client, shop.users["clinic"])
    _page, hidden = open_entry(client, case, shop.contracts["active"])
    fragment = text(client.post(f"{entry_url(case, shop.contracts['active'])}/apercu",
                                data=claim_data(case, hidden), headers=HX))
    assert "Si vous validez maintenant :" in fragment and "L'assureur devra décider" in fragment
    assert "à la validation" not in fragment


def test_history_finds_a_claim_by_its_reference(client, shop):
    mine = post_claim(client, shop).get_json()["data"]
    post_claim(client, shop, items=[drug("PH0010", 1, 1_350)])
    login(client, shop.users["pharmacist"])
    page = text(client.get(f"/pharmacie/demandes?demande={mine['reference'].lower().replace('-', ' ')}"))
    assert "1 demande." in page and mine["reference"] in page
    page = text(client.get("/pharmacie/demandes?demande=PH-26-XXXX-XXXX"))
    assert "N° de demande « PH-26-XXXX-XXXX » invalide" in page
    # The claim's page answers to its reference too.
    assert client.get(f"/pharmacie/demandes/{mine['reference']}").status_code == 200
    assert 'name="demande"' in page  # the history's filter field
