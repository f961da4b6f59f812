"""The counter flow of each provider portal, through the Flask test client.

Login on the real login page → search the member (POST) → entry page
(rights, recent claims, editor) → live preview (htmx) → submit → result →
receipt (HTML and PDF) → history.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date, timedelta

import pytest
from claims_helpers import delta, shop_fixture  # noqa: F401
from sqlalchemy import select
from test_portal_support import (
    PORTALS,
    USERS,
    add_claim,
    claim_data,
    claims_of,
    entry_url,
    login,
    open_entry,
    text,
)

from dhamen.extensions import db
from dhamen.models import AuditLog

HX = {"HX-Request": "true"}


@pytest.mark.parametrize("role", list(PORTALS))
def test_counter_flow_for_each_provider_role(client, shop, role):
    case = PORTALS[role]
    contract, cin = shop.contracts["active"], shop.national_ids["active"]
    token = login(client, shop.users[USERS[role]])

    home = client.get(f"{case.prefix}/")
    assert home.status_code == 200
    page = text(home)
    assert shop.providers[case.provider].name in page
    assert f'href="{case.prefix}/demandes"' in page  # nav: Historique
    assert 'name="q"' in page and "autofocus" in page

    # Search by national ID, POSTed (htmx fragment); the CIN comes back masked only.
    found = client.post(f"{case.prefix}/recherche", data={"q": cin, "csrf_token": token}, headers=HX)
    assert found.status_code == 200
    page = text(found)
    assert page.lstrip().startswith('<section id="results"') and "<html" not in page
    assert "NomActive" in page and f"•••••{cin[-3:]}" in page and cin not in page
    assert "CT-ACTIVE-001" in page and "En vigueur" in page
    assert f'href="{entry_url(case, contract)}" data-primary-action' in page

    page, hidden = open_entry(client, case, contract)
    assert "Reste sur le plafond" in page and "1\u202f000,000 TND" in page  # rights panel: annual limit left
    assert 'id="claim-form"' in page and 'id="decompte"' in page and 'id="line-template"' in page
    assert cin not in page

    # Live preview: the decompte fragment, nothing stored.
    preview = client.post(f"{entry_url(case, contract)}/apercu", data=claim_data(case, hidden),
                          headers={**HX, "X-CSRFToken": token})
    assert preview.status_code == 200, text(preview)
    fragment = text(preview)
    assert fragment.lstrip().startswith('<section id="decompte"')
    for amount in (case.total, case.covered, case.copay):
        assert amount in fragment
    assert f"« {case.status} »" in fragment or "L'assureur devra décider" in fragment
    assert 'id="submit-claim"' in fragment
    assert delta(shop)["claims"] == 0

    submitted = client.post(f"{entry_url(case, contract)}/valider", data=claim_data(case, hidden))
    assert submitted.status_code == 303, text(submitted)
    [claim] = claims_of(shop.providers[case.provider])
    assert submitted.headers["Location"].endswith(f"{case.prefix}/demandes/{claim.id}")
    assert delta(shop) == {"claims": 1, "items": len(case.lines), "keys": 1, "audit_create": 1}
    assert claim.provider_id == shop.providers[case.provider].id and claim.created_by == shop.users[USERS[role]].id

    result = text(client.get(submitted.headers["Location"]))
    assert case.status in result and case.copay in result and claim.reference in result
    assert f'href="{case.prefix}/demandes/{claim.id}/recu"' in result

    receipt = client.get(f"{case.prefix}/demandes/{claim.id}/recu")
    assert receipt.status_code == 200 and receipt.headers["Cache-Control"] == "no-store"
    page = text(receipt)
    for expected in (claim.reference, shop.providers[case.provider].name, "NomActive", f"•••••{cin[-3:]}", "CT-ACTIVE-001",
                     case.total, case.covered, case.copay, case.status, *(line["code"] for line in case.lines)):
        assert expected in page
    assert cin not in page

    history = text(client.get(f"{case.prefix}/demandes"))
    assert "1 demande." in history and claim.reference in history


def test_pharmacy_result_explains_each_line(client, shop):
    case = PORTALS["PHARMACIST"]
    login(client, shop.users["pharmacist"])
    _page, hidden = open_entry(client, case, shop.contracts["active"])
    response = client.post(f"{entry_url(case, shop.contracts['active'])}/valider", data=claim_data(case, hidden))
    page = text(client.get(response.headers["Location"]))
    groups = re.findall(r'<tbody class="line-group[^"]*">(.*?)</tbody>', page, re.S)
    cells = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", group)).strip() for group in groups]
    # code, generic flag, label (from the catalogue), qty, unit price, tariff cap, rate, covered, copay; rule, reasons
    assert cells[0].startswith("1 PH0001 générique Amoxicilline 1 g cp B/12 2 5,600 5,000 90 % 9,000 2,200 ")
    assert "Tarif conventionnel 5,000 TND appliqué, taux générique 90 %" in cells[0]
    assert "Taux générique" in cells[0] and "Prix plafonné au tarif de référence" in cells[0]
    assert cells[1].startswith("2 PH0009 princeps Doliprane 1000 mg cp B/8 1 2,500 2,100 80 % 1,680 0,820 ")
    assert "Tarif du barème de l'assureur" in cells[1]
    assert cells[2].startswith("3 PH0057 princeps Crème solaire SPF 50+ 50 ml 1 38,000 38,000 0 % 0,000 38,000 ")
    assert "Acte ou produit exclu par le contrat" in cells[2]
    assert "L'adhérent paie" in page


def test_double_submit_gives_one_claim(client, shop):
    case = PORTALS["PHARMACIST"]
    login(client, shop.users["pharmacist"])
    _page, hidden = open_entry(client, case, shop.contracts["active"])
    url = f"{entry_url(case, shop.contracts['active'])}/valider"
    first = client.post(url, data=claim_data(case, hidden))
    second = client.post(url, data=claim_data(case, hidden))
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert delta(shop)["claims"] == 1 and delta(shop)["audit_create"] == 1
    assert "le second envoi n'a pas créé de nouvelle demande" in text(client.get(second.headers["Location"]))

    # The same form sent again with other lines (back button, edit): refused, still one claim.
    changed = claim_data(case, hidden, lines=[{"code": "PH0010", "qty": "1", "price": "1,350"}])
    third = client.post(url, data=changed)
    assert third.status_code == 422
    page = text(third)
    assert "Ce formulaire a déjà servi à enregistrer une demande" in page
    [claim] = claims_of(shop.providers["pharmacist"])
    claim_id = claim.id
    assert f"/pharmacie/demandes/{claim_id}" in page
    assert delta(shop)["claims"] == 1
    new_token = re.search(r'name="idem" value="([^"]+)"', page).group(1)
    assert new_token != hidden["idem"]  # a fresh form: sending it again is a deliberate second claim


def test_a_new_entry_page_gets_a_new_token(client, shop):
    case = PORTALS["PHARMACIST"]
    login(client, shop.users["pharmacist"])
    _p1, first = open_entry(client, case, shop.contracts["active"])
    _p2, second = open_entry(client, case, shop.contracts["active"])
    assert first["idem"] != second["idem"] and len(first["idem"]) >= 16


def test_pdf_receipt(client, shop):
    case = PORTALS["PHARMACIST"]
    login(client, shop.users["pharmacist"])
    _page, hidden = open_entry(client, case, shop.contracts["active"])
    location = client.post(f"{entry_url(case, shop.contracts['active'])}/valider",
                           data=claim_data(case, hidden)).headers["Location"]
    pdf = client.get(f"{location}/recu.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["Content-Type"] == "application/pdf"
    reference = claims_of(shop.providers["pharmacist"])[0].reference
    assert pdf.headers["Content-Disposition"] == f'inline; filename="recu-{reference}.pdf"'
    assert pdf.data.startswith(b"%PDF-") and len(pdf.data) > 5_000
    if shutil.which("pdftotext"):
        content = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf.data, capture_output=True,
                                 check=True).stdout.decode()
        for expected in (reference, "Pharmacie Test", "NomActive", "CT-ACTIVE-001", "PH0001", "41,020 TND",
                         "10,680 TND", "Approuvée"):
            assert expected in content, expected
        assert shop.national_ids["active"] not in content


def test_clinic_stay_details_are_kept_and_printed(client, shop):
    case = PORTALS["CLINIC_ADMIN"]
    login(client, shop.users["clinic"])
    _page, hidden = open_entry(client, case, shop.contracts["active"])
    admission, discharge = date.today() - timedelta(days=3), date.today()
    response = client.post(f"{entry_url(case, shop.contracts['active'])}/valider",
                           data=claim_data(case, hidden, care_date=admission.isoformat(),
                                           discharge_date=discharge.isoformat()))
    assert response.status_code == 303, text(response)
    [claim] = claims_of(shop.providers["clinic"])
    assert claim.status == "pending_review" and claim.reason_code == "PRIOR_APPROVAL"
    assert claim.care_date == admission
    assert claim.details_json == {"admissionDate": admission.isoformat(), "dischargeDate": discharge.isoformat(),
                                  "room": "214"}
    receipt = text(client.get(f"/clinique/demandes/{claim.id}/recu"))
    assert admission.strftime("%d/%m/%Y") in receipt and "214" in receipt
    assert "accord préalable" in receipt.lower()


def test_doctor_pages_show_the_speciality_and_consultation_codes(client, shop):
    shop.providers["doctor"].speciality = "Cardiologie"
    db.session.commit()
    login(client, shop.users["doctor"])
    assert "Cardiologie" in text(client.get("/medecin/"))
    options = text(client.get("/medecin/catalogue?q=C"))
    assert 'value="C1"' in options and 'value="C2"' in options and "PH0001" not in options


def test_catalogue_autocomplete_fills_label_and_price(client, shop):
    login(client, shop.users["pharmacist"])
    response = client.get("/pharmacie/catalogue?q=amox", headers=HX)
    page = text(response)
    assert response.status_code == 200 and page.lstrip().startswith('<datalist id="catalogue-options">')
    assert 'value="PH0001"' in page and 'data-price="5,600"' in page and 'data-generic="1"' in page
    assert 'data-label="Amoxicilline 1 g cp B/12"' in page
    assert "B-NFS" not in page


def test_member_with_two_contracts_picks_the_contract(client, shop):
    from dhamen.models import Contract

    active = shop.contracts["active"]
    db.session.add(Contract(insurer_id=shop.insurers["B"].id, adherent_id=active.adherent_id,
                            contract_number="CT-SECOND-002", plan_type="individual", start_date=active.start_date,
                            end_date=active.end_date, coverage_json={"pharmacy": {"rate": 60}}, status="active"))
    db.session.commit()
    token = login(client, shop.users["pharmacist"])
    page = text(client.post("/pharmacie/recherche", data={"q": "NomActive", "naissance": "1980-01-01", "csrf_token": token}))
    assert "<html" in page  # without htmx: the whole counter page
    assert "CT-ACTIVE-001" in page and "CT-SECOND-002" in page
    assert "Pas de convention avec votre établissement" in page  # insurer B
    assert page.count("data-primary-action") == 1  # only the usable contract offers « Saisir »
    rights = text(client.get(f"/pharmacie/adherents/{active.adherent_id}/droits"))
    assert "CT-ACTIVE-001" in rights and "CT-SECOND-002" in rights and "Convention avec vous" in rights


def test_recent_claims_of_other_providers_show_no_amount(client, shop):
    active = shop.contracts["active"]
    other = add_claim(shop, "pharmacist2", total=77_000, covered=61_600)
    db.session.commit()
    login(client, shop.users["pharmacist"])
    page, _hidden = open_entry(client, PORTALS["PHARMACIST"], active)
    recent = page[page.index("Dernières demandes de l'adhérent"):]
    assert "77,000" not in recent and "61,600" not in recent and "autre prestataire" in recent
    assert other.id not in page and "Pharmacie Voisine" not in page


def test_submit_is_audited_with_the_request(client, shop):
    case = PORTALS["LAB_MANAGER"]
    login(client, shop.users["lab"])
    _page, hidden = open_entry(client, case, shop.contracts["active"])
    client.post(f"{entry_url(case, shop.contracts['active'])}/valider", data=claim_data(case, hidden),
                headers={"User-Agent": "comptoir-test"})
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "claim.create"))
    assert row.user_id == shop.users["lab"].id and row.provider_id == shop.providers["lab"].id
    assert row.user_agent == "comptoir-test"


def test_editor_works_without_javascript(client, shop):
    case = PORTALS["PHARMACIST"]
    login(client, shop.users["pharmacist"])
    page, hidden = open_entry(client, case, shop.contracts["active"])
    url = f"{entry_url(case, shop.contracts['active'])}/apercu"
    # The first submit button of the form (used by Entrée in a field) previews: it never removes a line.
    first_button = re.search(r'<form id="claim-form".*?(<button[^>]*>)', page, re.S).group(1)
    assert f'formaction="{url}"' in first_button and "remove_line" not in first_button
    data = claim_data(case, hidden, lines=case.lines[:2])
    added = editor_rows(text(client.post(url, data={**data, "add_line": "1"})))
    assert [re.search(r'name="lines-(\d+)-code" value="([^"]*)"', row).groups() for row in added] == [
        ("0", "PH0001"), ("1", "PH0009"), ("2", "")]
    removed = editor_rows(text(client.post(url, data={**data, "remove_line": "0"})))
    assert len(removed) == 1 and 'value="PH0009"' in removed[0]
    assert delta(shop)["claims"] == 0


def editor_rows(page: str) -> list[str]:
    body = re.search(r'<tbody id="lines">(.*?)</tbody>', page, re.S).group(1)
    return re.findall(r'<tr class="line".*?</tr>', body, re.S)


def test_autocomplete_offers_the_insurers_barème_codes_missing_from_the_catalogue(client, shop):
    insurer = shop.insurers["A"]
    insurer.config_json = {**insurer.config_json, "bareme": {
        **insurer.config_json["bareme"], "pharmacy": {**insurer.config_json["bareme"]["pharmacy"], "PHX900": 12_000}}}
    db.session.commit()
    login(client, shop.users["pharmacist"])
    mine, foreign = shop.contracts["active"].id, shop.contracts["foreign"].id
    page = text(client.get(f"/pharmacie/catalogue?q=phx&contrat={mine}", headers=HX))
    assert 'value="PHX900"' in page and "Barème Assurances Test A · plafond 12,000" in page
    assert 'data-label=""' in page and 'data-price="12,000"' in page
    # the entry page's first suggestions and its autocomplete URL carry the contract
    entry = text(client.get(f"/pharmacie/saisie/{mine}"))
    assert f"catalogue?contrat={mine}" in entry
    # no convention with the insurer of the contract, no contract, a bad id: the catalogue only
    for query in (f"contrat={foreign}", "", "contrat=" + "x" * 80, "contrat=inconnu"):
        page = text(client.get(f"/pharmacie/catalogue?q=phx&{query}", headers=HX))
        assert "PHX900" not in page and page.lstrip().startswith('<datalist id="catalogue-options">')


def test_the_rights_panel_follows_the_care_date(client, shop):
    from datetime import date, timedelta

    login(client, shop.users["pharmacist"])
    ended = shop.contracts["ended"]  # in force until 30 days ago
    url = f"/pharmacie/saisie/{ended.id}/droits"
    today_panel = text(client.get(url, headers=HX))
    assert today_panel.lstrip().startswith('<section id="rights-panel"') and "Hors droits" in today_panel
    assert "Droits au" not in today_panel
    before = date.today() - timedelta(days=40)
    page = text(client.get(f"{url}?care_date={before.isoformat()}", headers=HX))
    assert "En vigueur" in page and f"Droits au {before.strftime('%d/%m/%Y')}" in page
    # a date in the future, too old, or not a date: the panel of today
    for bad in ((date.today() + timedelta(days=2)).isoformat(), "2001-01-01", "demain", "x" * 500):
        assert "Hors droits" in text(client.get(url, query_string={"care_date": bad}, headers=HX))
    # the entry page's date field asks for the panel when it changes; another portal's contract route is
    # still the pharmacist's: a doctor gets no panel from the pharmacy portal
    entry = text(client.get(f"/pharmacie/saisie/{shop.contracts['active'].id}"))
    assert f'hx-get="/pharmacie/saisie/{shop.contracts["active"].id}/droits"' in entry and 'id="rights-panel"' in entry
    other = client.application.test_client()
    login(other, shop.users["doctor"])
    assert other.get(url, headers=HX).status_code in (403, 404)
