"""Claim events: queued after the commit, consumed into the audit trail and per-insurer counters."""

from __future__ import annotations

from claims_helpers import drug, insurer_counters, post_claim, run_event_jobs, shop_fixture  # noqa: F401
from sqlalchemy import select

from dhamen.claims import events
from dhamen.extensions import db
from dhamen.models import AuditLog


def event_rows():
    db.session.expire_all()
    return db.session.scalars(select(AuditLog).where(AuditLog.action.like("event.%"))).all()


def test_claim_creation_feeds_the_audit_trail_and_the_counters(app, client, shop):
    first = post_claim(client, shop, items=[drug("PH0009", 2, 2_100)]).get_json()["data"]
    second = post_claim(client, shop, contract="suspended").get_json()["data"]
    run_event_jobs(app)
    rows = event_rows()
    assert sorted((r.action, r.entity_id) for r in rows) == sorted(
        [("event.claim.created", first["id"]), ("event.claim.created", second["id"])])
    row = next(r for r in rows if r.entity_id == first["id"])
    assert row.insurer_id == shop.insurers["A"].id and row.provider_id == shop.providers["pharmacist"].id
    assert row.changes_json["status"] == "approved"
    counters = insurer_counters(shop.insurers["A"].id)
    assert counters["claims"] == 2
    assert counters["status:approved"] == 1 and counters["status:rejected"] == 1
    assert counters["total"] == first["totalAmount"] + second["totalAmount"]
    assert counters["covered"] == first["coveredAmount"]
    per_type = app.extensions["dhamen.services"].redis.hgetall(f"stats:insurer:{shop.insurers['A'].id}:pharmacy")
    assert {k.decode(): int(v) for k, v in per_type.items()} == {
        "n": 2, "sum": first["totalAmount"] + second["totalAmount"]}


def test_a_refused_claim_emits_no_event(app, client, shop):
    assert post_claim(client, shop, contract="foreign").status_code == 422
    assert post_claim(client, shop, items=[drug(quantity=0)]).status_code == 422
    run_event_jobs(app)
    assert event_rows() == []
    assert insurer_counters(shop.insurers["A"].id) == {}


def test_a_replayed_submission_emits_no_second_event(app, client, shop):
    for _ in range(2):
        post_claim(client, shop, headers={"Idempotency-Key": "ev-1"})
    run_event_jobs(app)
    assert len(event_rows()) == 1
    assert insurer_counters(shop.insurers["A"].id)["claims"] == 1


def test_usual_amount_needs_a_sample_then_feeds_the_fraud_rule(app, shop):
    insurer = shop.insurers["A"].id
    for n in range(events.USUAL_MIN_SAMPLE):
        assert events.usual_amount(insurer, "lab") is None  # sample too small so far
        events.claim_event({"type": "claim.created", "claimId": f"C{n}", "insurerId": insurer, "providerId": None,
                            "careType": "lab", "status": "approved", "previousStatus": None,
                            "totalAmount": 10_000 + n, "coveredAmount": 8_000})
    assert events.usual_amount(insurer, "lab") == (10_000 * 20 + sum(range(20))) // 20
    assert events.usual_amount(insurer, "pharmacy") is None


def test_a_status_change_moves_the_status_counter(app, shop):
    insurer = shop.insurers["A"].id
    base = {"claimId": "C1", "insurerId": insurer, "providerId": None, "careType": "pharmacy",
            "totalAmount": 1_000, "coveredAmount": 800}
    events.claim_event({**base, "type": "claim.created", "status": "pending_review", "previousStatus": None})
    events.claim_event({**base, "type": "claim.status_changed", "status": "approved",
                        "previousStatus": "pending_review"})
    counters = insurer_counters(insurer)
    assert counters["status:pending_review"] == 0 and counters["status:approved"] == 1 and counters["claims"] == 1
    assert sorted(r.action for r in event_rows()) == ["event.claim.created", "event.claim.status_changed"]
