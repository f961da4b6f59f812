"""Decisions, line by line: an agreed price for a line sent hors nomenclature, an early-refill reason accepted or
refused, a line held above the line ceiling; through the portal and the API, shown to the counter, audited."""

from __future__ import annotations

from auth_helpers import audit_rows, csrf_from
from claims_helpers import drug, post_claim
from insurer_helpers import signed_in
from test_decisions import _claim, _post_decision

from dhamen.domain.money import apply_rate

HN = "XX-777"


def _data(response):
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]




def _items(claim):
    return sorted(claim.items, key=lambda i: i.position)


def hors_nomenclature_claim(client, shop, contract="unlimited", quantity=2, price=20_000):
    body = {"contractId": shop.contracts[contract].id, "submitToInsurer": True,
            "items": [drug(HN, quantity, price), drug("PH0009", 1, 2_100)]}
    data = _data(post_claim(client, shop, body=body))
    assert data["status"] == "pending_review" and data["items"][0]["coveredAmount"] == 0
    return data


def refill_claim(client, shop, reason="travel"):
    """PH0026 dispensed today, then again today with an override reason (and a Doliprane)."""
    first = _data(post_claim(client, shop, contract="unlimited", items=[drug("PH0026", 1, 5_900)]))
    assert first["status"] == "approved"
    body = {"contractId": shop.contracts["unlimited"].id, "overrideReason": reason,
            "items": [drug("PH0026", 1, 5_900), drug("PH0009", 1, 2_100)]}
    data = _data(post_claim(client, shop, body=body, who="pharmacist2"))
    assert data["status"] == "pending_review" and data["reasonCode"] == "REFILL_OVERRIDE", data
    assert "REFILL_TOO_SOON" in data["items"][0]["reasonCodes"]
    return data


# -- hors nomenclature ------------------------------------------------------------------------------

def test_agreed_price_for_a_line_hors_nomenclature_is_recomputed_shown_and_audited(client, shop):
    data = hors_nomenclature_claim(client, shop)
    signed_in(client, shop.users["agentA"])
    html = client.get(f"/assureur/demandes/{data['id']}").get_data(as_text=True)
    assert 'name="lines-0-agreed"' in html and 'name="lines-1-agreed"' not in html
    assert 'name="lines-0-price"' not in html and 'name="lines-1-price"' in html
    assert "Hors nomenclature : ce prix devient le tarif de la ligne." in html
    r = _post_decision(client, data["id"], decision="partial", note="Prix fournisseur retenu",
                       **{"lines-0-agreed": "15,000", "lines-0-reason": "Facture fournisseur"})
    assert r.status_code == 302, r.get_data(as_text=True)
    claim = _claim(data["id"])
    first, second = _items(claim)
    assert (first.covered_amount, first.copay_amount, first.capped_unit_price) == (24_000, 16_000, 15_000)
    assert (first.quantity, first.unit_price, first.line_total) == (2, 20_000, 40_000)
    assert first.reason_codes_json[0] == "AGENT_AGREED" and "AGREED_TARIFF" in first.reason_codes_json
    assert "prix accordé 15,000 TND pour une ligne hors nomenclature (Facture fournisseur)" in first.rule_applied
    assert second.covered_amount == apply_rate(2_100, 8000)
    assert claim.covered_amount == 24_000 + 1_680 and claim.copay_amount == claim.total_amount - claim.covered_amount
    assert claim.status == "approved" and claim.reason_code == "AGENT_PARTIAL"
    assert claim.details_json["decision"]["lines"] == [{"position": 0, "quantity": None, "unitPrice": None,
                                                        "agreedUnitPrice": 15_000, "override": None,
                                                        "reason": "Facture fournisseur"}]
    history = client.get(f"/assureur/demandes/{data['id']}").get_data(as_text=True)
    assert "ligne 1 : prix accordé hors nomenclature 15,000 TND (Facture fournisseur)" in history
    (row,) = audit_rows("claim.decision")
    assert row.changes_json["after"]["covered"] == 25_680 and row.changes_json["lines"][0]["agreedUnitPrice"] == 15_000
    # the pharmacy's claim page and receipt show the decision, the line's agreed price and the amounts
    signed_in(client, shop.users["pharmacist"])
    for path in (f"/pharmacie/demandes/{data['id']}", f"/pharmacie/demandes/{data['id']}/recu"):
        page = client.get(path).get_data(as_text=True).replace("&#39;", "'")
        assert "Accord partiel de Assurances Test A : Prix fournisseur retenu" in page, path
        assert "prix accordé 15,000 TND pour une ligne hors nomenclature" in page and "25,680" in page, path


def test_approving_without_a_price_leaves_the_line_hors_nomenclature_at_zero(client, shop):
    data = hors_nomenclature_claim(client, shop)
    signed_in(client, shop.users["agentA"])
    assert _post_decision(client, data["id"], decision="approve").status_code == 302
    first, second = _items(_claim(data["id"]))
    assert first.covered_amount == 0 and "aucun prix accordé par l'assureur" in first.rule_applied
    assert second.covered_amount == 1_680
    # only hors nomenclature lines, nothing agreed: nothing to approve
    body = {"contractId": shop.contracts["unlimited"].id, "submitToInsurer": True, "items": [drug(HN, 1, 9_000)]}
    alone = _data(post_claim(client, shop, body=body))
    r = _post_decision(client, alone["id"], decision="approve")
    assert r.status_code == 409 and "Accordez un prix aux lignes hors nomenclature" in r.get_data(as_text=True)
    assert _claim(alone["id"]).status == "pending_review"


def test_agreed_price_rechecks_the_annual_limit(client, shop):
    # "limited": 150 000 a year, 100 000 used: 50 000 left; agreed 2 × 40 000 at 80 % = 64 000
    data = hors_nomenclature_claim(client, shop, contract="limited", price=45_000)
    signed_in(client, shop.users["agentA"])
    r = _post_decision(client, data["id"], decision="partial",
                       **{"lines-0-agreed": "40", "lines-0-reason": "Tarif de l'importateur"})
    assert r.status_code == 302
    claim = _claim(data["id"])
    assert claim.covered_amount == 50_000 and "plafond annuel" in claim.status_reason
    assert all(i.covered_amount + i.copay_amount == i.line_total for i in claim.items)


def test_agreed_price_errors_are_in_french_and_change_nothing(client, shop):
    data = hors_nomenclature_claim(client, shop)
    signed_in(client, shop.users["agentA"])
    for fields, message in [
        ({"lines-0-agreed": "abc", "lines-0-reason": "x"}, "Ligne 1 : Montant invalide"),
        ({"lines-0-agreed": "25,000", "lines-0-reason": "x"},
         "Ligne 1 : le prix accordé doit être compris entre 0,001 et le prix demandé (20,000"),
        ({"lines-0-agreed": "15"}, "Ligne 1 : indiquez le motif"),
        ({"lines-1-agreed": "1", "lines-1-reason": "x"}, "Ligne 2 : un prix accordé ne s'applique qu'à une ligne "
                                                         "hors nomenclature"),
        ({"lines-0-agreed": "15", "lines-0-price": "10", "lines-0-reason": "x"}, "pas les deux"),
    ]:
        r = _post_decision(client, data["id"], decision="partial", **fields)
        assert r.status_code == 422, fields
        assert message in r.get_data(as_text=True).replace("&#39;", "'"), (fields, message)
    r = _post_decision(client, data["id"], decision="approve", **{"lines-0-agreed": "15", "lines-0-reason": "x"})
    assert r.status_code == 422 and "approbation partielle" in r.get_data(as_text=True)
    claim = _claim(data["id"])
    assert claim.status == "pending_review" and claim.covered_amount == data["coveredAmount"]
    assert audit_rows("claim.decision") == []


# -- early refill ----------------------------------------------------------------------------------

def test_refusing_the_early_refill_reason_leaves_the_line_uncovered(client, shop):
    data = refill_claim(client, shop)
    signed_in(client, shop.users["agentA"])
    html = client.get(f"/assureur/demandes/{data['id']}").get_data(as_text=True)
    assert 'name="lines-0-override"' in html and 'name="lines-1-override"' not in html
    assert "motif « voyage »" in html and "Refuser : ligne non prise en charge" in html
    assert "approbation simple : accepté" in html
    r = _post_decision(client, data["id"], decision="partial", note="Renouvellement trop tôt",
                       **{"lines-0-override": "refuse", "lines-0-reason": "Boîte précédente en cours"})
    assert r.status_code == 302, r.get_data(as_text=True)
    claim = _claim(data["id"])
    first, second = _items(claim)
    assert (first.covered_amount, first.copay_amount) == (0, 5_900)
    assert first.reason_codes_json == ["REFILL_REFUSED"]
    assert first.rule_applied == "Renouvellement anticipé refusé par l'assureur : Boîte précédente en cours"
    assert second.covered_amount == 1_680 and claim.covered_amount == 1_680 and claim.status == "approved"
    (row,) = audit_rows("claim.decision")
    assert row.changes_json["lines"][0]["override"] == "refuse"
    history = client.get(f"/assureur/demandes/{data['id']}").get_data(as_text=True)
    assert "ligne 1 : renouvellement anticipé refusé (Boîte précédente en cours)" in history
    signed_in(client, shop.users["pharmacist2"])
    for path in (f"/pharmacie/demandes/{data['id']}", f"/pharmacie/demandes/{data['id']}/recu"):
        page = client.get(path).get_data(as_text=True).replace("&#39;", "'")
        assert "Renouvellement anticipé refusé par l'assureur : Boîte précédente en cours" in page, path
        assert "Renouvellement trop tôt" in page, path
    page = client.get(f"/pharmacie/demandes/{data['id']}").get_data(as_text=True).replace("&#39;", "'")
    assert "L'assureur a refusé le renouvellement anticipé : cette ligne est à la charge de l'adhérent." in page


def test_accepting_the_early_refill_reason_covers_the_line_by_the_rules(client, shop):
    data = refill_claim(client, shop, reason="loss_or_theft")
    signed_in(client, shop.users["agentA"])
    r = _post_decision(client, data["id"], decision="partial",
                       **{"lines-0-override": "accept", "lines-0-reason": "Déclaration de perte vue",
                          "lines-1-qty": "0", "lines-1-reason": "Non prescrit"})
    assert r.status_code == 302, r.get_data(as_text=True)
    first, second = _items(_claim(data["id"]))
    assert first.covered_amount == apply_rate(5_900, 8000) and first.reason_codes_json[0] == "REFILL_ACCEPTED"
    assert "renouvellement anticipé accepté (Déclaration de perte vue)" in first.rule_applied
    assert second.covered_amount == 0 and second.reason_codes_json == ["AGENT_LINE_REFUSED"]


def test_refill_words_are_required_and_checked(client, shop):
    data = refill_claim(client, shop)
    signed_in(client, shop.users["agentA"])
    for fields, message in [
        ({"lines-1-qty": "0", "lines-1-reason": "x"},
         "Ligne 1 (PH0026) : acceptez ou refusez le motif du renouvellement anticipé"),
        ({"lines-0-override": "refuse"}, "Ligne 1 : indiquez le motif"),
        ({"lines-0-override": "peut-être", "lines-0-reason": "x"}, "choisissez d'accepter ou de refuser"),
        ({"lines-0-override": "refuse", "lines-0-qty": "1", "lines-0-reason": "x"},
         "ne saisissez ni quantité ni prix"),
        ({"lines-0-override": "accept", "lines-0-reason": "x", "lines-1-override": "accept", "lines-1-reason": "y"},
         "Ligne 2 : pas de renouvellement anticipé sur cette ligne"),
    ]:
        r = _post_decision(client, data["id"], decision="partial", **fields)
        assert r.status_code == 422, fields
        assert message in r.get_data(as_text=True).replace("&#39;", "'"), (fields, message)
    assert _claim(data["id"]).status == "pending_review" and audit_rows("claim.decision") == []
    # a plain approval accepts the reason
    assert _post_decision(client, data["id"], decision="approve").status_code == 302
    first, _second = _items(_claim(data["id"]))
    assert first.covered_amount == 4_720 and first.reason_codes_json[0] == "REFILL_ACCEPTED"


# -- line ceiling ----------------------------------------------------------------------------------

def test_a_line_above_the_line_ceiling_approved_keeps_its_coverage(client, shop):
    from dhamen.extensions import db

    insurer = shop.insurers["A"]
    insurer.config_json = {**insurer.config_json, "ceilings": {"line": {"pharmacy": 10_000}}}
    db.session.commit()
    body = {"contractId": shop.contracts["unlimited"].id, "submitToInsurer": True, "items": [drug("PH0009", 6, 2_100)]}
    data = _data(post_claim(client, shop, body=body))
    assert data["status"] == "pending_review" and data["coveredAmount"] == apply_rate(12_600, 8000)
    signed_in(client, shop.users["agentA"])
    assert _post_decision(client, data["id"], decision="approve").status_code == 302
    claim = _claim(data["id"])
    (line,) = _items(claim)
    assert claim.covered_amount == line.covered_amount == apply_rate(12_600, 8000)
    assert line.reason_codes_json[0] == "AGENT_ACCEPTED" and "accepté par l'assureur" in line.rule_applied


# -- API ------------------------------------------------------------------------------------------

def test_decision_api_agreed_price_and_refill_words(client, shop):
    hn = hors_nomenclature_claim(client, shop, contract="active")  # another member than the refill's
    url = f"/api/v1/claims/{hn['id']}/decision"
    h = shop.auth("agentA")
    r = client.post(url, json={"decision": "partial", "lines": [{"line": 2, "agreedUnitPrice": 1_000, "reason": "x"}]},
                    headers=h)
    error = r.get_json()["error"]
    assert r.status_code == 422 and error["code"] == "INVALID_LINES"
    assert error["details"]["field"] == "lines[1].agreedUnitPrice" and "hors nomenclature" in error["message"]
    r = client.post(url, json={"decision": "partial", "lines": [{"line": 1, "agreedUnitPrice": 0, "reason": "x"}]},
                    headers=h)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "VALIDATION_ERROR"
    r = client.post(url, json={"decision": "partial", "lines": [{"line": 1, "override": "maybe", "reason": "x"}]},
                    headers=h)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "VALIDATION_ERROR"
    # another insurer's agent: not found, nothing decided
    body = {"decision": "partial", "lines": [{"line": 1, "agreedUnitPrice": 15_000, "reason": "Facture"}]}
    assert client.post(url, json=body, headers=shop.auth("agentB")).status_code == 404
    r = client.post(url, json=body, headers={**h, "Idempotency-Key": "hn-1"})
    assert r.status_code == 200, r.get_json()
    out = r.get_json()["data"]
    assert out["coveredAmount"] == 25_680 and out["items"][0]["coveredAmount"] == 24_000
    assert out["decision"]["lines"][0]["agreedUnitPrice"] == 15_000
    again = client.post(url, json=body, headers={**h, "Idempotency-Key": "hn-1"})
    assert again.headers["Idempotent-Replayed"] == "true" and len(audit_rows("claim.decision")) == 1

    refill = refill_claim(client, shop)
    url = f"/api/v1/claims/{refill['id']}/decision"
    r = client.post(url, json={"decision": "partial", "lines": [{"line": 2, "quantity": 0, "reason": "x"}]}, headers=h)
    assert r.status_code == 422 and r.get_json()["error"]["details"]["field"] == "lines[0].override"
    r = client.post(url, json={"decision": "partial", "note": "Non justifié",
                               "lines": [{"line": 1, "override": "refuse", "reason": "Traitement en cours"}]}, headers=h)
    assert r.status_code == 200, r.get_json()
    out = r.get_json()["data"]
    assert out["items"][0]["coveredAmount"] == 0 and out["items"][0]["reasonCodes"] == ["REFILL_REFUSED"]
    assert out["coveredAmount"] == 1_680 and out["reason"] == "Accord partiel de Assurances Test A : Non justifié"
    seen = client.get(f"/api/v1/claims/{refill['id']}", headers=shop.auth("pharmacist2")).get_json()["data"]
    assert seen["items"][0]["ruleApplied"] == "Renouvellement anticipé refusé par l'assureur : Traitement en cours"


def test_bulk_approval_leaves_claims_whose_lines_need_a_word(client, shop):
    hn = hors_nomenclature_claim(client, shop)
    refill = refill_claim(client, shop)
    signed_in(client, shop.users["agentA"])
    html = client.get("/assureur/file").get_data(as_text=True)
    assert f'value="{hn["id"]}"' not in html and f'value="{refill["id"]}"' not in html  # no checkbox
    token = csrf_from(html)
    r = client.post("/assureur/file/approuver", data={"csrf_token": token, "claim_id": [hn["id"], refill["id"]]})
    assert r.status_code == 302
    assert _claim(hn["id"]).status == _claim(refill["id"]).status == "pending_review"
    assert audit_rows("claim.decision") == []
    page = client.get("/assureur/file").get_data(as_text=True)
    assert "à décider ligne par ligne" in page


def test_an_early_refill_without_a_reason_stays_unpaid_when_the_claim_is_approved(client, shop):
    first = _data(post_claim(client, shop, contract="unlimited", items=[drug("PH0026", 1, 5_900)]))
    assert first["status"] == "approved"
    data = _data(post_claim(client, shop, contract="unlimited",
                            items=[drug("PH0026", 1, 5_900), drug("PH0009", 1, 2_100)]))
    # no override reason: the refill line is held at 0; the claim waits for its fraud score (same drug again)
    assert data["status"] == "pending_review" and data["reasonCode"] == "FRAUD_REVIEW", data
    assert data["items"][0]["coveredAmount"] == 0 and "REFILL_TOO_SOON" in data["items"][0]["reasonCodes"]
    signed_in(client, shop.users["agentA"])
    html = client.get(f"/assureur/demandes/{data['id']}").get_data(as_text=True)
    assert "approbation simple : non pris en charge, aucun motif soumis" in html
    assert _post_decision(client, data["id"], decision="approve").status_code == 302
    claim = _claim(data["id"])
    first_line, second = _items(claim)
    assert first_line.covered_amount == 0 and first_line.reason_codes_json[0] == "REFILL_TOO_SOON"
    assert claim.covered_amount == second.covered_amount == 1_680
