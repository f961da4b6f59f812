"""GET/POST /api/v1/eligibility: the counter's rights check (FHIR CoverageEligibilityResponse)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest


def get(client, shop, who, query):
    return client.get(f"/api/v1/eligibility{query}", headers=shop.auth(who))


def post(client, shop, who, body):
    return client.post("/api/v1/eligibility", json=body, headers=shop.auth(who))


def test_by_contract_number_in_force(client, shop):
    r = get(client, shop, "pharmacist", "?contractNumber=ct-active-001")
    assert r.status_code == 200, r.get_json()
    data = r.get_json()["data"]
    assert data["resourceType"] == "CoverageEligibilityResponse" and data["outcome"] == "complete"
    assert data["inforce"] is True and data["careType"] == "pharmacy"
    assert data["servicedDate"] == date.today().isoformat()
    assert data["requestor"]["providerId"] == shop.providers["pharmacist"].id
    [ins] = data["insurance"]
    assert ins["contractNumber"] == "CT-ACTIVE-001" and ins["inforce"] and ins["reasonCode"] == "ELIGIBLE"
    assert ins["conventionWithProvider"] is True
    assert (ins["annualLimit"], ins["used"], ins["remaining"]) == (1_000_000, 0, 1_000_000)
    pharmacy = next(b for b in ins["benefits"] if b["careType"] == "pharmacy")
    assert pharmacy["rateBp"] == 8000 and pharmacy["genericRateBp"] == 9000
    assert ins["exclusions"] == ["cat:cosmetique", "PH0099"]
    assert data["patient"]["nationalIdMasked"].endswith(shop.national_ids["active"][-3:])
    assert shop.national_ids["active"] not in r.get_data(as_text=True)


def test_the_care_type_defaults_to_the_providers(client, shop):
    data = get(client, shop, "doctor", f"?memberId={shop.members['active'].id}").get_json()["data"]
    assert data["careType"] == "consultation"
    data = get(client, shop, "doctor", f"?memberId={shop.members['active'].id}&careType=lab").get_json()["data"]
    assert data["careType"] == "lab"


@pytest.mark.parametrize(("label", "reason", "extra"), [
    ("suspended", "CONTRACT_INACTIVE", {"status": "suspended"}),
    ("expired", "CONTRACT_INACTIVE", {"status": "expired"}),
    ("ended", "CONTRACT_ENDED", {}),
    ("carence", "CARENCE", {}),
])
def test_why_a_contract_is_not_in_force(client, shop, label, reason, extra):
    data = get(client, shop, "pharmacist", f"?contractNumber=CT-{label.upper()}-001").get_json()["data"]
    [ins] = data["insurance"]
    assert data["inforce"] is False and ins["inforce"] is False and ins["reasonCode"] == reason
    assert ins["message"] and data["disposition"] == ins["message"]
    for k, v in extra.items():
        assert ins[k] == v
    if label == "carence":
        until = shop.contracts["carence"].start_date + timedelta(days=59)
        assert ins["carenceUntil"] == until.isoformat()
        assert until.strftime("%d/%m/%Y") in ins["message"]


def test_limit_left_this_contract_year(client, shop):
    [ins] = get(client, shop, "pharmacist", "?contractNumber=CT-LIMITED-001").get_json()["data"]["insurance"]
    assert (ins["annualLimit"], ins["used"], ins["remaining"]) == (150_000, 100_000, 50_000)
    start = shop.contracts["limited"].start_date
    assert ins["benefitPeriod"]["start"] == start.isoformat()


def test_a_future_date_is_judged_at_that_date(client, shop):
    later = (shop.contracts["carence"].start_date + timedelta(days=60)).isoformat()
    [ins] = get(client, shop, "pharmacist", f"?contractNumber=CT-CARENCE-001&date={later}").get_json()["data"][
        "insurance"]
    assert ins["inforce"] is True


def test_no_convention_means_no_tiers_payant_here(client, shop):
    data = get(client, shop, "pharmacist", "?contractNumber=CT-FOREIGN-001").get_json()["data"]
    [ins] = data["insurance"]
    assert ins["inforce"] is True and ins["conventionWithProvider"] is False
    assert data["inforce"] is False and "convention" in data["disposition"]


def test_national_id_goes_in_the_post_body(client, shop):
    cin = shop.national_ids["active"]
    r = post(client, shop, "pharmacist", {"nationalId": f"{cin[:4]} {cin[4:]}"})
    assert r.status_code == 200, r.get_json()
    data = r.get_json()["data"]
    assert data["patient"]["id"] == shop.members["active"].id and data["inforce"] is True
    assert cin not in r.get_data(as_text=True)


@pytest.mark.parametrize("param", ["nationalId", "cin", "national_id"])
def test_a_national_id_in_the_url_is_refused(client, shop, param):
    r = get(client, shop, "pharmacist", f"?{param}={shop.national_ids['active']}")
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err["code"] == "NATIONAL_ID_IN_URL" and "POST" in err["message"]
    assert shop.national_ids["active"] not in r.get_data(as_text=True)


@pytest.mark.parametrize(("who", "body", "status", "code", "field"), [
    ("pharmacist", {"nationalId": "99999999"}, 404, "UNKNOWN_MEMBER", "nationalId"),
    ("pharmacist", {"nationalId": "12ab"}, 422, "VALIDATION_ERROR", "nationalId"),
    ("pharmacist", {"nationalId": 12345678}, 422, "VALIDATION_ERROR", "nationalId"),
    ("pharmacist", {"contractNumber": "CT-NOPE"}, 404, "UNKNOWN_CONTRACT", "contractNumber"),
    ("pharmacist", {"memberId": "01HNOPE"}, 404, "UNKNOWN_MEMBER", "memberId"),
    ("pharmacist", {}, 422, "VALIDATION_ERROR", "contractNumber"),
    ("pharmacist", {"contractNumber": "CT-ACTIVE-001", "memberId": "x"}, 422, "VALIDATION_ERROR", "memberId"),
    ("pharmacist", {"contractNumber": "CT-ACTIVE-001", "careType": "dentist"}, 422, "VALIDATION_ERROR", "careType"),
    ("pharmacist", {"contractNumber": "CT-ACTIVE-001", "date": "2026-13-01"}, 422, "VALIDATION_ERROR", "date"),
    ("pharmacist", {"contractNumber": "CT-ACTIVE-001", "extra": 1}, 422, "VALIDATION_ERROR", "extra"),
    ("agentB", {"contractNumber": "CT-ACTIVE-001"}, 404, "UNKNOWN_CONTRACT", "contractNumber"),
    ("agentB", {"nationalId": "10000000"}, 404, "UNKNOWN_MEMBER", "nationalId"),
])
def test_bad_eligibility_requests(client, shop, who, body, status, code, field):
    r = post(client, shop, who, body)
    assert r.status_code == status, r.get_json()
    err = r.get_json()["error"]
    assert (err["code"], err["details"]["field"]) == (code, field)


def test_insurers_see_their_own_contracts_only(client, shop):
    r = get(client, shop, "agentA", "?contractNumber=CT-ACTIVE-001")
    assert r.status_code == 200 and r.get_json()["data"]["requestor"] is None
    assert get(client, shop, "agentB", "?contractNumber=CT-FOREIGN-001").status_code == 200
    assert get(client, shop, "agentB", f"?memberId={shop.members['active'].id}").status_code == 404


def test_who_may_ask(client, shop):
    assert get(client, shop, "admin", "?contractNumber=CT-ACTIVE-001").status_code == 403
    assert client.get("/api/v1/eligibility?contractNumber=CT-ACTIVE-001").status_code == 401
    assert client.post("/api/v1/eligibility", json={"nationalId": "10000000"}).status_code == 401
