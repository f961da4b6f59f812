"""POST /api/v1/claims/<type>: the four claim types, bad input, refusals (nothing stored half-way)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from claims_helpers import claim_body, delta, drug, post_claim, shop_fixture  # noqa: F401
from sqlalchemy import select

from dhamen.extensions import db
from dhamen.models import AuditLog, Claim, ClaimItem

NOTHING = {"claims": 0, "items": 0, "keys": 0, "audit_create": 0}


def error_of(response):
    body = response.get_json()
    assert body["success"] is False, body
    return body["error"]


def test_pharmacy_claim_is_priced_by_the_engine_and_stored(client, shop):
    r = post_claim(client, shop, items=[drug("PH0009", 2, 2_100), drug("PH0001", 1, 5_600, isGeneric=True)])
    assert r.status_code == 201, r.get_json()
    data = r.get_json()["data"]
    assert r.headers["Location"] == f"/api/v1/claims/{data['id']}"
    assert "Idempotent-Replayed" not in r.headers
    assert data["status"] == "approved" and data["reasonCode"] == "APPROVED"
    first, second = data["items"]
    # PH0009: barème 2 100 (no cap), contract rate 80 % -> floor(4 200 × 0.8)
    assert (first["lineTotal"], first["coveredAmount"], first["copayAmount"], first["rateBp"]) == (4_200, 3_360, 840, 8000)
    assert first["reasonCodes"] == ["BAREME_TARIFF", "CONTRACT_RATE"]
    assert [s["category"] for s in first["adjudication"]] == ["submitted", "eligible", "rate", "benefit", "copay"]
    # PH0001: convention tariff 5 000 caps 5 600, generic rate 90 % -> floor(5 000 × 0.9)
    assert (second["cappedUnitPrice"], second["coveredAmount"], second["rateBp"]) == (5_000, 4_500, 9000)
    assert "PRICE_CAPPED" in second["reasonCodes"] and "GENERIC_RATE" in second["reasonCodes"]
    assert data["totalAmount"] == 9_800 and data["coveredAmount"] == 7_860 and data["copayAmount"] == 1_940
    assert delta(shop) == {"claims": 1, "items": 2, "keys": 0, "audit_create": 1}
    claim = db.session.get(Claim, data["id"])
    assert claim.provider_id == shop.providers["pharmacist"].id and claim.created_by == shop.users["pharmacist"].id
    assert sum(i.line_total for i in claim.items) == claim.total_amount


@pytest.mark.parametrize(("care_type", "who", "items", "status", "reason"), [
    ("consultation", "doctor", [drug("C1", 1, 45_000)], "approved", "APPROVED"),
    ("lab", "lab", [drug("B-NFS", 1, 12_000), drug("B-GLY", 1, 4_000)], "approved", "APPROVED"),
])
def test_each_provider_role_submits_its_own_type(client, shop, care_type, who, items, status, reason):
    r = post_claim(client, shop, care_type, who, items=items)
    assert r.status_code == 201, r.get_json()
    data = r.get_json()["data"]
    assert (data["type"], data["status"], data["reasonCode"]) == (care_type, status, reason)


def test_hospitalization_carries_the_stay_and_waits_for_prior_approval(client, shop):
    admission = date.today() - timedelta(days=5)
    body = claim_body(shop, items=[{"code": "CH-J", "label": "Chambre", "quantity": 3, "unitPrice": 180_000}],
                      admissionDate=admission.isoformat(), dischargeDate=(admission + timedelta(days=3)).isoformat(),
                      room="214")
    r = post_claim(client, shop, "hospitalization", "clinic", body=body)
    assert r.status_code == 201, r.get_json()
    data = r.get_json()["data"]
    assert data["status"] == "pending_review" and data["reasonCode"] == "PRIOR_APPROVAL"
    assert data["careDate"] == admission.isoformat()
    assert data["details"] == {"admissionDate": admission.isoformat(),
                               "dischargeDate": (admission + timedelta(days=3)).isoformat(), "days": 3, "room": "214"}
    line = data["items"][0]
    # room day capped by the contract's room_day_cap (120 000), then 90 %
    assert line["cappedUnitPrice"] == 120_000 and line["coveredAmount"] == 324_000
    assert "ROOM_DAY_CAP" in line["reasonCodes"]


@pytest.mark.parametrize(("mutate", "field", "code"), [
    (lambda b: b["items"][0].update(unitPrice=2100.0), "items[0].unitPrice", "VALIDATION_ERROR"),
    (lambda b: b["items"][0].update(unitPrice="2100"), "items[0].unitPrice", "VALIDATION_ERROR"),
    (lambda b: b["items"][0].update(unitPrice=-5), "items[0].unitPrice", "VALIDATION_ERROR"),
    (lambda b: b["items"][0].update(unitPrice=10**12), "items[0].unitPrice", "VALIDATION_ERROR"),
    (lambda b: b["items"][0].update(quantity=0), "items[0].quantity", "VALIDATION_ERROR"),
    (lambda b: b["items"][0].update(quantity=1_000), "items[0].quantity", "VALIDATION_ERROR"),
    (lambda b: b["items"][0].update(quantity=True), "items[0].quantity", "VALIDATION_ERROR"),
    (lambda b: b["items"][0].update(isGeneric="oui"), "items[0].isGeneric", "VALIDATION_ERROR"),
    (lambda b: b["items"][0].update(code="   "), "items[0].code", "VALIDATION_ERROR"),
    (lambda b: b["items"][0].update(price=5), "items[0].price", "VALIDATION_ERROR"),
    (lambda b: b.update(items=[]), "items", "VALIDATION_ERROR"),
    (lambda b: b.update(items=[drug()] * 51), "items", "VALIDATION_ERROR"),
    (lambda b: b.update(items=["PH0009"]), "items[0]", "VALIDATION_ERROR"),
    (lambda b: b.pop("contractId"), "contractId", "VALIDATION_ERROR"),
    (lambda b: b.update(contractId=42), "contractId", "VALIDATION_ERROR"),
    (lambda b: b.update(type="consultation"), "type", "VALIDATION_ERROR"),
    (lambda b: b.update(admissionDate="2026-01-01"), "admissionDate", "VALIDATION_ERROR"),
    (lambda b: b.update(careDate="12/03/2026"), "careDate", "VALIDATION_ERROR"),
    (lambda b: b.update(careDate="2026-02-30"), "careDate", "VALIDATION_ERROR"),
    (lambda b: b.update(notes="x" * 2001), "notes", "VALIDATION_ERROR"),
    (lambda b: b.update(careDate=(date.today() + timedelta(days=1)).isoformat()), "careDate", "INVALID_DATE"),
    (lambda b: b.update(careDate=(date.today() - timedelta(days=400)).isoformat()), "careDate", "INVALID_DATE"),
    (lambda b: b.update(contractId="01HZZZZZZZZZZZZZZZZZZZZZZZ"), "contractId", "UNKNOWN_CONTRACT"),
])
def test_bad_input_is_refused_with_the_field_and_nothing_is_stored(client, shop, mutate, field, code):
    body = claim_body(shop, items=[drug(), drug("PH0010", 1, 1_350), drug("PH0020", 3, 4_500)])
    mutate(body)
    r = post_claim(client, shop, body=body, headers={"Idempotency-Key": "bad-input-1"})
    assert r.status_code in (404, 422), r.get_json()
    err = error_of(r)
    assert err["code"] == code
    assert err["details"]["field"] == field
    assert err["message"] and not err["message"][0].islower()
    assert delta(shop) == NOTHING


def test_every_bad_line_is_listed_with_its_path(client, shop):
    items = [drug(), drug("PH0010", 1, 1_350), drug("PH0020", 2.5, 4_500), drug("PH0021", 1, "5000")]
    r = post_claim(client, shop, items=items)
    err = error_of(r)
    assert r.status_code == 422
    assert err["details"]["field"] == "items[2].quantity"
    assert err["message"].startswith("Ligne 3, quantité")
    assert [e["field"] for e in err["details"]["errors"]] == ["items[2].quantity", "items[3].unitPrice"]


def test_body_must_be_a_json_object(client, shop):
    h = shop.auth("pharmacist")
    r = client.post("/api/v1/claims/pharmacy", data="contractId=1", headers=h)
    assert r.status_code == 415 and error_of(r)["code"] == "UNSUPPORTED_MEDIA_TYPE"
    r = client.post("/api/v1/claims/pharmacy", data="{not json", headers=h, content_type="application/json")
    assert r.status_code == 400 and error_of(r)["code"] == "INVALID_JSON"
    r = client.post("/api/v1/claims/pharmacy", json=[1, 2], headers=h)
    assert r.status_code == 400
    assert delta(shop) == NOTHING


@pytest.mark.parametrize(("contract", "reason"), [
    ("expired", "CONTRACT_INACTIVE"), ("suspended", "CONTRACT_INACTIVE"), ("ended", "CONTRACT_ENDED"),
    ("carence", "CARENCE"),
])
def test_ineligible_contract_is_stored_as_rejected_with_its_reason(client, shop, contract, reason):
    r = post_claim(client, shop, contract=contract)
    assert r.status_code == 201, r.get_json()
    data = r.get_json()["data"]
    assert data["status"] == "rejected" and data["reasonCode"] == reason and data["reason"]
    assert data["coveredAmount"] == 0 and data["copayAmount"] == data["totalAmount"]
    assert data["items"][0]["reasonCodes"] == [reason]
    assert delta(shop)["claims"] == 1


def test_unknown_code_is_hors_nomenclature_and_not_paid(client, shop):
    r = post_claim(client, shop, items=[drug("ZZ-999", 1, 10_000)])
    data = r.get_json()["data"]
    assert r.status_code == 201 and data["status"] == "rejected"
    assert data["items"][0]["reasonCodes"][0] == "NO_TARIFF" and data["coveredAmount"] == 0


def test_excluded_products_cover_nothing(client, shop):
    r = post_claim(client, shop, items=[drug("PH0057", 1, 38_000)])
    data = r.get_json()["data"]
    assert data["status"] == "rejected" and data["reasonCode"] == "EXCLUDED"


def test_annual_limit_caps_the_claim(client, shop):
    r = post_claim(client, shop, contract="limited", items=[drug("PH0023", 3, 27_900)])
    data = r.get_json()["data"]
    assert data["status"] == "approved" and data["reasonCode"] == "LIMIT_PARTIAL"
    assert data["coveredAmount"] == 50_000  # 150 000 limit, 100 000 already used


def test_insurer_without_convention_is_refused(client, shop):
    r = post_claim(client, shop, contract="foreign")
    assert r.status_code == 422
    err = error_of(r)
    assert err["code"] == "NO_CONVENTION" and err["details"]["field"] == "contractId"
    assert "convention" in err["message"]
    assert delta(shop) == NOTHING


def test_inactive_provider_cannot_submit(client, shop):
    r = post_claim(client, shop, who="inactive")
    assert r.status_code == 403 and error_of(r)["code"] == "PROVIDER_INACTIVE"
    assert delta(shop) == NOTHING


@pytest.mark.parametrize(("care_type", "who"), [("consultation", "pharmacist"), ("pharmacy", "doctor"),
                                                ("hospitalization", "lab"), ("lab", "clinic")])
def test_a_provider_posting_another_type_gets_a_clear_403(client, shop, care_type, who):
    r = post_claim(client, shop, care_type, who)
    assert r.status_code == 403
    err = error_of(r)
    assert err["code"] == "WRONG_CLAIM_TYPE" and err["details"]["field"] == "type"
    assert "/api/v1/claims/" in err["message"]
    assert delta(shop) == NOTHING
    denied = db.session.scalars(select(AuditLog).where(AuditLog.action == "authz.denied")).all()
    assert len(denied) == 1 and denied[0].user_id == shop.users[who].id


@pytest.mark.parametrize("who", ["agentA", "admin"])
def test_non_provider_roles_are_forbidden(client, shop, who):
    r = post_claim(client, shop, who=who)
    assert r.status_code == 403 and error_of(r) == {"code": "FORBIDDEN", "message": "Droits insuffisants pour cette action."}


def test_no_token_no_claim(client, shop):
    r = client.post("/api/v1/claims/pharmacy", json=claim_body(shop))
    assert r.status_code == 401 and error_of(r)["code"] == "UNAUTHORIZED"
    assert delta(shop) == NOTHING


def test_hospitalization_stay_is_checked(client, shop):
    today = date.today()
    base = claim_body(shop, items=[{"code": "CH-J", "quantity": 1, "unitPrice": 100_000}])
    cases = [
        ({"admissionDate": today.isoformat(), "dischargeDate": (today - timedelta(days=2)).isoformat()},
         "dischargeDate"),
        ({"dischargeDate": today.isoformat()}, "admissionDate"),
        ({"admissionDate": (today - timedelta(days=4)).isoformat(), "dischargeDate": today.isoformat(),
          "careDate": (today - timedelta(days=6)).isoformat()}, "careDate"),
        ({"admissionDate": (today + timedelta(days=2)).isoformat(),
          "dischargeDate": (today + timedelta(days=4)).isoformat()}, "admissionDate"),
    ]
    for extra, field in cases:
        r = post_claim(client, shop, "hospitalization", "clinic", body={**base, **extra})
        assert r.status_code == 422, r.get_json()
        assert error_of(r)["details"]["field"] == field
    assert delta(shop) == NOTHING


def test_line_order_and_counts_survive_in_the_database(client, shop):
    items = [drug("PH0010", 1, 1_350), drug("PH0009", 2, 2_100), drug("PH0020", 1, 4_500)]
    r = post_claim(client, shop, items=items)
    claim_id = r.get_json()["data"]["id"]
    rows = db.session.scalars(select(ClaimItem).where(ClaimItem.claim_id == claim_id)
                              .order_by(ClaimItem.position)).all()
    assert [row.code for row in rows] == ["PH0010", "PH0009", "PH0020"]
    assert all(row.covered_amount + row.copay_amount == row.line_total for row in rows)


def test_engine_line_errors_are_named_like_the_body():
    from dhamen.claims.api import api_error
    from dhamen.claims.errors import ClaimError

    err = api_error(ClaimError("INVALID_ITEMS", "Ligne 3 : prix", "items", "invalid",
                               [{"line": 3, "field": "unit_price", "message": "Ligne 3 : prix"},
                                {"line": None, "field": None, "message": "Trop de lignes"}]))
    assert (err.status, err.code) == (422, "INVALID_ITEMS")
    assert err.details == {"field": "items[2].unitPrice", "errors": [
        {"field": "items[2].unitPrice", "message": "Ligne 3 : prix"}, {"field": "items", "message": "Trop de lignes"}]}
    assert api_error(ClaimError("NO_CONVENTION", "x", "contractId")).details == {"field": "contractId"}


def test_the_same_drug_twice_is_flagged_as_a_duplicate(client, shop):
    first = post_claim(client, shop, contract="unlimited").get_json()["data"]
    assert first["status"] == "approved" and first["fraudFlags"] == []
    again = post_claim(client, shop, contract="unlimited", who="pharmacist2",
                       items=[drug("PH0009", 1, 2_100), drug("PH0010", 1, 1_350)]).get_json()["data"]
    assert [f["code"] for f in again["fraudFlags"]] == ["DUPLICATE"]
    assert "PH0009" in again["fraudFlags"][0]["message"] and "autre prestataire" in again["fraudFlags"][0]["message"]
    assert again["status"] == "pending_review" and again["reasonCode"] == "FRAUD_REVIEW"


def test_the_submission_answer_is_the_stored_claim(client, shop):
    """The answer is rendered from the rows as inserted; reading the claim back gives the same JSON."""
    body = claim_body(shop, items=[drug("PH0009", 2, 2_100), drug("PH0023", 1, 27_900, isGeneric=True)],
                      notes="ordonnance du Dr Ben Salah")
    r = post_claim(client, shop, body=body)
    assert r.status_code == 201
    posted = r.get_json()["data"]
    got = client.get(f"/api/v1/claims/{posted['id']}", headers=shop.auth("pharmacist"))
    assert got.status_code == 200 and got.get_json()["data"] == posted
    assert [i["code"] for i in posted["items"]] == ["PH0009", "PH0023"]
