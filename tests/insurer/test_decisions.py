"""Claim file and decisions: approve, approve in part (engine recompute), reject, block, bulk, scoping."""

from __future__ import annotations

from auth_helpers import audit_rows, csrf_from
from insurer_helpers import signed_in, stay_claim
from test_review_queue import _insert_pending


def _post_decision(client, claim_id, **data):
    page = client.get(f"/assureur/demandes/{claim_id}")
    token = csrf_from(page.get_data(as_text=True))
    return client.post(f"/assureur/demandes/{claim_id}/decision", data={"csrf_token": token, **data})


def _claim(claim_id):
    from dhamen.extensions import db
    from dhamen.models import Claim

    db.session.expire_all()
    return db.session.get(Claim, claim_id)


def test_claim_file_shows_member_rights_lines_flags_history(client, shop):
    data = stay_claim(client, shop, contract="limited")
    signed_in(client, shop.users["agentA"])
    r = client.get(f"/assureur/demandes/{data['id']}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    for text in ("NomLimited", "CT-LIMITED-001", "Plafond annuel", "déjà utilisé par les autres demandes",
                 "CH-J", "Hospitalisation : accord préalable", "Historique", "Demande saisie",
                 "Demandes de l'adhérent sur 90 jours", "Habitudes du prestataire", "Approuver en partie"):
        assert text in html, text
    assert shop.national_ids["limited"] not in html  # masked only


def test_another_insurer_cannot_open_nor_decide(client, shop):
    data = stay_claim(client, shop)
    signed_in(client, shop.users["agentB"])
    assert client.get(f"/assureur/demandes/{data['id']}").status_code == 404
    token = csrf_from(client.get("/assureur/file").get_data(as_text=True))
    r = client.post(f"/assureur/demandes/{data['id']}/decision", data={"csrf_token": token, "decision": "approve"})
    assert r.status_code == 404
    assert _claim(data["id"]).status == "pending_review"


def test_approve_recomputes_and_is_audited_and_shown_to_the_counter(client, shop):
    data = stay_claim(client, shop)
    signed_in(client, shop.users["agentA"])
    r = _post_decision(client, data["id"], decision="approve", note="")
    assert r.status_code == 302
    claim = _claim(data["id"])
    assert claim.status == "approved" and claim.reason_code == "AGENT_APPROVED"
    assert claim.covered_amount == data["coveredAmount"] and claim.validated_at is not None
    assert claim.status_reason == "Prise en charge accordée par Assurances Test A"
    (row,) = audit_rows("claim.decision")
    assert row.changes_json["before"]["status"] == "pending_review" and row.changes_json["after"]["status"] == "approved"
    # the counter reads the decision with its claim
    seen = client.get(f"/api/v1/claims/{data['id']}", headers=shop.auth("clinic")).get_json()["data"]
    assert seen["status"] == "approved" and seen["reason"] == "Prise en charge accordée par Assurances Test A"


def test_approve_in_part_agreed_quantity_and_price(client, shop):
    # 3 nights at 100 000 (under the room cap 120 000) + bloc 400 000, 90 %
    data = stay_claim(client, shop)
    assert data["coveredAmount"] == 3 * 90_000 + 360_000
    signed_in(client, shop.users["agentA"])
    r = _post_decision(client, data["id"], decision="partial", note="Accord pour 2 nuits",
                       **{"lines-0-qty": "2", "lines-0-reason": "Sortie possible à J2",
                          "lines-1-price": "300,000", "lines-1-reason": "Tarif négocié"})
    assert r.status_code == 302, r.get_data(as_text=True)
    claim = _claim(data["id"])
    items = sorted(claim.items, key=lambda i: i.position)
    assert (items[0].quantity, items[0].line_total, items[0].covered_amount) == (3, 300_000, 180_000)
    assert (items[1].unit_price, items[1].covered_amount) == (400_000, 270_000)
    assert all(i.covered_amount + i.copay_amount == i.line_total for i in items)
    assert claim.total_amount == 700_000 and claim.covered_amount == 450_000 and claim.copay_amount == 250_000
    assert claim.status == "approved" and claim.reason_code == "AGENT_PARTIAL"
    assert claim.status_reason == "Accord partiel de Assurances Test A : Accord pour 2 nuits"
    assert "AGENT_AGREED" in items[0].reason_codes_json and "Sortie possible à J2" in items[0].rule_applied
    # the clinic's claim page and receipt show the decision with its note and the agreed amounts
    signed_in(client, shop.users["clinic"])
    for path in (f"/clinique/demandes/{data['id']}", f"/clinique/demandes/{data['id']}/recu"):
        html = client.get(path).get_data(as_text=True)
        assert "Accord partiel de Assurances Test A : Accord pour 2 nuits" in html and "450,000" in html, path
    decision = claim.details_json["decision"]
    assert decision["action"] == "partial" and decision["lines"][0] == {
        "position": 0, "quantity": 2, "unitPrice": None, "agreedUnitPrice": None, "override": None,
        "reason": "Sortie possible à J2"}
    assert claim.details_json["room"] == "12"  # the stay is kept
    (row,) = audit_rows("claim.decision")
    assert row.changes_json["before"]["covered"] == 630_000 and row.changes_json["after"]["covered"] == 450_000


def test_partial_line_refused_and_limit_rechecked(client, shop):
    # "limited": 150 000 a year, 100 000 already used by another claim: 50 000 left
    data = stay_claim(client, shop, contract="limited")
    assert data["coveredAmount"] == 50_000
    signed_in(client, shop.users["agentA"])
    r = _post_decision(client, data["id"], decision="partial",
                       **{"lines-1-qty": "0", "lines-1-reason": "Bloc non justifié"})
    assert r.status_code == 302
    claim = _claim(data["id"])
    items = sorted(claim.items, key=lambda i: i.position)
    assert items[1].covered_amount == 0 and "AGENT_LINE_REFUSED" in items[1].reason_codes_json
    assert claim.covered_amount == 50_000  # the room nights alone still exceed what the limit leaves
    assert "plafond annuel" in claim.status_reason


def test_partial_validation_errors_in_french_change_nothing(client, shop):
    data = stay_claim(client, shop)
    signed_in(client, shop.users["agentA"])
    for fields, message in [
        ({"lines-0-qty": "5", "lines-0-reason": "x"}, "la quantité accordée doit être un entier entre 0 et la quantité demandée (3)"),
        ({"lines-0-price": "150,000", "lines-0-reason": "x"}, "le prix unitaire accordé doit être compris"),
        ({"lines-0-qty": "2"}, "indiquez le motif"),
        ({"lines-0-price": "abc", "lines-0-reason": "x"}, "Montant invalide"),
        ({}, "indiquez au moins une ligne"),
    ]:
        r = _post_decision(client, data["id"], decision="partial", **fields)
        assert r.status_code == 422, fields
        assert message in r.get_data(as_text=True), (fields, message)
    r = _post_decision(client, data["id"], decision="approve", **{"lines-0-qty": "2", "lines-0-reason": "x"})
    assert r.status_code == 422 and "approbation partielle" in r.get_data(as_text=True)
    claim = _claim(data["id"])
    assert claim.status == "pending_review" and claim.covered_amount == data["coveredAmount"]
    assert audit_rows("claim.decision") == []


def test_reject_and_block_need_a_note(client, shop):
    data = stay_claim(client, shop)
    signed_in(client, shop.users["agentA"])
    r = _post_decision(client, data["id"], decision="reject", note="  ")
    assert r.status_code == 422 and "Indiquez le motif du refus" in r.get_data(as_text=True)
    r = _post_decision(client, data["id"], decision="block", note="Facture à vérifier")
    assert r.status_code == 302
    claim = _claim(data["id"])
    assert claim.status == "blocked" and claim.status_reason == "Bloquée par Assurances Test A : Facture à vérifier"
    # blocked → rejected is allowed; blocked → blocked is not offered
    r = _post_decision(client, data["id"], decision="block", note="encore")
    assert r.status_code == 409
    r = _post_decision(client, data["id"], decision="reject", note="Séjour non justifié")
    assert r.status_code == 302 and _claim(data["id"]).status == "rejected"


def test_second_decision_is_refused_naming_who_decided_what(client, shop):
    data = stay_claim(client, shop)
    signed_in(client, shop.users["agentA"])
    assert _post_decision(client, data["id"], decision="reject", note="Pas d'accord préalable").status_code == 302
    r = _post_decision(client, data["id"], decision="approve")
    html = r.get_data(as_text=True)
    assert r.status_code == 409
    assert "Demande déjà traitée : refusée par Test agentA" in html and "Pas d&#39;accord préalable" in html
    assert _claim(data["id"]).status == "rejected" and len(audit_rows("claim.decision")) == 1


def test_bulk_approves_low_risk_claims_only_each_audited(client, shop):
    low = [stay_claim(client, shop)["id"], stay_claim(client, shop, contract="unlimited")["id"]]
    risky = _insert_pending(shop, 1)
    signed_in(client, shop.users["agentA"])
    html = client.get("/assureur/file").get_data(as_text=True)
    assert f'value="{low[0]}"' in html and f'value="{risky[0]}"' not in html
    token = csrf_from(html)
    r = client.post("/assureur/file/approuver", data={"csrf_token": token, "claim_id": [*low, *risky],
                                                      "retour": "/assureur/file?type=hospitalization"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/assureur/file?type=hospitalization")
    assert [_claim(i).status for i in low] == ["approved", "approved"]
    assert _claim(risky[0]).status == "pending_review"
    assert len(audit_rows("claim.decision")) == 2
    html = client.get("/assureur/file").get_data(as_text=True)
    assert "2 demandes approuvées" in html and "Demande à risque" in html
    r = client.post("/assureur/file/approuver", data={"csrf_token": token, "retour": "https://evil.example/"})
    assert r.headers["Location"].endswith("/assureur/file")
