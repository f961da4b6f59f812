"""GET /api/v1/claims and /api/v1/claims/<id>: scoping, filters, pagination."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from claims_helpers import drug, post_claim

from dhamen.extensions import db
from dhamen.models import Claim


def created(client, shop, **kw):
    r = post_claim(client, shop, **kw)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["data"]


def listing(client, shop, who, query=""):
    r = client.get(f"/api/v1/claims{query}", headers=shop.auth(who))
    assert r.status_code == 200, r.get_json()
    return r.get_json()["data"]


@pytest.fixture
def claims(client, shop):
    """Two claims at pharmacy P1 (one approved, one rejected), one at P2, one by the doctor,
    and one of insurer B (stored directly: B has no convention)."""
    mine = created(client, shop)
    rejected = created(client, shop, contract="suspended")
    other = created(client, shop, who="pharmacist2", items=[drug("PH0010", 1, 1_350)])
    consult = created(client, shop, care_type="consultation", who="doctor", items=[drug("C1", 1, 45_000)])
    c = shop.contracts["foreign"]
    foreign = Claim(type="pharmacy", contract_id=c.id, provider_id=shop.providers["pharmacist"].id,
                    adherent_id=c.adherent_id, insurer_id=c.insurer_id, care_date=date.today(),
                    total_amount=1_000, covered_amount=800, copay_amount=200, status="approved")
    db.session.add(foreign)
    db.session.commit()
    return {"mine": mine["id"], "rejected": rejected["id"], "other": other["id"], "consult": consult["id"],
            "foreign": foreign.id, "limited": db.session.scalar(
                db.select(Claim.id).where(Claim.contract_id == shop.contracts["limited"].id))}


def test_a_provider_lists_only_its_own_claims(client, shop, claims):
    data = listing(client, shop, "pharmacist")
    ids = {c["id"] for c in data["items"]}
    assert ids == {claims["mine"], claims["rejected"], claims["foreign"]}
    assert data["total"] == 3 and data["page"] == 1 and data["perPage"] == 25 and data["pages"] == 1
    item = next(c for c in data["items"] if c["id"] == claims["mine"])
    assert item["member"]["lastName"] == "NomActive" and item["contractNumber"] == "CT-ACTIVE-001"
    assert "items" not in item
    assert {c["id"] for c in listing(client, shop, "pharmacist2")["items"]} == {claims["other"], claims["limited"]}


def test_insurers_list_their_own_insurer_claims(client, shop, claims):
    a = {c["id"] for c in listing(client, shop, "agentA")["items"]}
    assert a == {claims["mine"], claims["rejected"], claims["other"], claims["consult"], claims["limited"]}
    assert {c["id"] for c in listing(client, shop, "agentB")["items"]} == {claims["foreign"]}
    assert listing(client, shop, "admin")["total"] == 6


def test_filters_and_pagination(client, shop, claims):
    assert [c["id"] for c in listing(client, shop, "agentA", "?statut=rejected")["items"]] == [claims["rejected"]]
    assert [c["id"] for c in listing(client, shop, "agentA", "?type=consultation")["items"]] == [claims["consult"]]
    old = (date.today() - timedelta(days=10)).isoformat()
    assert {c["id"] for c in listing(client, shop, "agentA", f"?au={old}")["items"]} == {claims["limited"]}
    assert listing(client, shop, "agentA", f"?du={date.today().isoformat()}")["total"] == 4
    page1 = listing(client, shop, "agentA", "?perPage=2")
    page3 = listing(client, shop, "agentA", "?perPage=2&page=3")
    assert page1["total"] == 5 and page1["pages"] == 3 and len(page1["items"]) == 2 and len(page3["items"]) == 1
    assert listing(client, shop, "agentA", "?perPage=2&page=9")["items"] == []


@pytest.mark.parametrize(("query", "field"), [
    ("?perPage=101", "perPage"), ("?perPage=0", "perPage"), ("?page=abc", "page"), ("?statut=paye", "statut"),
    ("?type=dentist", "type"), ("?du=01-01-2026", "du"), ("?du=2026-03-01&au=2026-02-01", "au"),
    ("?status=approved", "status"), ("?page=1&page=2", "page"),
])
def test_bad_list_parameters_name_the_parameter(client, shop, query, field):
    r = client.get(f"/api/v1/claims{query}", headers=shop.auth("pharmacist"))
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert err["code"] == "VALIDATION_ERROR" and err["details"]["field"] == field


def test_get_one_claim_with_its_lines(client, shop, claims):
    r = client.get(f"/api/v1/claims/{claims['mine']}", headers=shop.auth("pharmacist"))
    assert r.status_code == 200
    data = r.get_json()["data"]
    assert data["id"] == claims["mine"] and data["items"][0]["adjudication"]
    r = client.get(f"/api/v1/claims/{claims['mine']}", headers=shop.auth("agentA"))
    assert r.status_code == 200


@pytest.mark.parametrize(("who", "claim"), [
    ("pharmacist", "other"), ("pharmacist", "consult"), ("pharmacist2", "mine"), ("doctor", "mine"),
    ("agentB", "mine"), ("agentA", "foreign"),
])
def test_another_organisations_claim_is_a_404(client, shop, claims, who, claim):
    r = client.get(f"/api/v1/claims/{claims[claim]}", headers=shop.auth(who))
    assert r.status_code == 404
    assert r.get_json()["error"]["code"] == "NOT_FOUND"
    assert claims[claim] not in r.get_data(as_text=True)
    assert claims[claim] not in {c["id"] for c in listing(client, shop, who, "?perPage=100")["items"]}


def test_unknown_claim_and_anonymous_access(client, shop):
    assert client.get("/api/v1/claims/nope", headers=shop.auth("pharmacist")).status_code == 404
    assert client.get("/api/v1/claims").status_code == 401
    assert client.get("/api/v1/claims/x" + "y" * 100, headers=shop.auth("pharmacist")).status_code == 404
