"""GET /api/v1/review and POST /api/v1/claims/<id>/decision: envelope, scoping, keyset, idempotency."""

from __future__ import annotations

from auth_helpers import audit_rows
from insurer_helpers import stay_claim
from test_review_queue import _insert_pending


def test_review_queue_api_filters_and_walks_with_the_cursor(client, shop):
    ids = _insert_pending(shop, 7)
    hosp = stay_claim(client, shop)
    r = client.get("/api/v1/review?perPage=3&signal=HIGH_FREQUENCY", headers=shop.auth("agentA"))
    body = r.get_json()
    assert r.status_code == 200 and body["success"] is True
    data = body["data"]
    assert [i["id"] for i in data["items"]] == ids[:3] and data["count"] == 7 and data["countExact"] is True
    assert data["items"][0]["statusLabel"] == "En attente de validation"
    seen = [i["id"] for i in data["items"]]
    while data["nextCursor"]:
        data = client.get(f"/api/v1/review?perPage=3&signal=HIGH_FREQUENCY&cursor={data['nextCursor']}",
                          headers=shop.auth("agentA")).get_json()["data"]
        seen += [i["id"] for i in data["items"]]
    assert seen == ids
    data = client.get("/api/v1/review?type=hospitalization", headers=shop.auth("agentA")).get_json()["data"]
    assert [i["id"] for i in data["items"]] == [hosp["id"]]
    # another insurer's agent sees nothing of it
    data = client.get("/api/v1/review", headers=shop.auth("agentB")).get_json()["data"]
    assert data["items"] == [] and data["count"] == 0


def test_review_queue_api_refuses_bad_input_in_the_envelope(client, shop):
    h = shop.auth("agentA")
    r = client.get(f"/api/v1/review?cin={shop.national_ids['active']}", headers=h)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "NATIONAL_ID_IN_URL"
    r = client.get("/api/v1/review?score_min=abc", headers=h)
    assert r.status_code == 422 and r.get_json()["error"]["details"]["field"] == "score_min"
    r = client.get("/api/v1/review?cursor=forged", headers=h)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "INVALID_CURSOR"
    r = client.get("/api/v1/review?perPage=1000", headers=h)
    assert r.status_code == 422
    r = client.get("/api/v1/review?colour=red", headers=h)
    assert r.status_code == 422 and "inconnu" in r.get_json()["error"]["message"]
    assert client.get("/api/v1/review", headers=shop.auth("pharmacist")).status_code == 403
    assert client.get("/api/v1/review").status_code == 401


def test_decision_api_partial_with_idempotency(client, shop):
    data = stay_claim(client, shop)
    body = {"decision": "partial", "note": "Accord 2 nuits",
            "lines": [{"line": 1, "quantity": 2, "reason": "Sortie J2"}]}
    headers = {**shop.auth("agentA"), "Idempotency-Key": "dec-1"}
    r = client.post(f"/api/v1/claims/{data['id']}/decision", json=body, headers=headers)
    assert r.status_code == 200, r.get_json()
    out = r.get_json()["data"]
    assert out["status"] == "approved" and out["reasonCode"] == "AGENT_PARTIAL"
    assert out["coveredAmount"] == 2 * 90_000 + 360_000 and out["decision"]["by"] == "Test agentA"
    assert out["items"][0]["coveredAmount"] + out["items"][0]["copayAmount"] == out["items"][0]["lineTotal"]
    again = client.post(f"/api/v1/claims/{data['id']}/decision", json=body, headers=headers)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == r.get_json()
    other = client.post(f"/api/v1/claims/{data['id']}/decision", json={**body, "note": "autre"}, headers=headers)
    assert other.status_code == 422 and other.get_json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(audit_rows("claim.decision")) == 1
    # without the key, a second decision is refused with who decided what
    r = client.post(f"/api/v1/claims/{data['id']}/decision", json={"decision": "reject", "note": "non"},
                    headers=shop.auth("agentA"))
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "ALREADY_DECIDED"
    assert "approuvée en partie par Test agentA" in r.get_json()["error"]["message"]


def test_decision_api_validation_and_scoping(client, shop):
    data = stay_claim(client, shop)
    url = f"/api/v1/claims/{data['id']}/decision"
    h = shop.auth("agentA")
    cases = [
        ({"decision": "maybe"}, 422, "VALIDATION_ERROR"),
        ({"decision": "reject"}, 422, "NOTE_REQUIRED"),
        ({"decision": "approve", "extra": 1}, 422, "VALIDATION_ERROR"),
        ({"decision": "partial", "lines": [{"line": 1, "quantity": 9, "reason": "x"}]}, 422, "INVALID_LINES"),
        ({"decision": "partial", "lines": [{"line": 1, "unitPrice": 1.5, "reason": "x"}]}, 422, "VALIDATION_ERROR"),
    ]
    for body, status, code in cases:
        r = client.post(url, json=body, headers=h)
        assert (r.status_code, r.get_json()["error"]["code"]) == (status, code), (body, r.get_json())
    r = client.post(url, json={"decision": "partial", "lines": [{"line": 1, "quantity": 9, "reason": "x"}]}, headers=h)
    assert r.get_json()["error"]["details"]["field"] == "lines[0].quantity"
    r = client.post(url, json={"decision": "approve"}, headers=shop.auth("agentB"))
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "NOT_FOUND"
    r = client.post(url, json={"decision": "approve"}, headers=shop.auth("clinic"))
    assert r.status_code == 403
    r = client.post(url, data="x", headers={**h, "Content-Type": "text/plain"})
    assert r.status_code == 415
    assert audit_rows("claim.decision") == []
    r = client.post(url, json={"decision": "approve"}, headers=h)
    assert r.status_code == 200 and r.get_json()["data"]["status"] == "approved"
