"""Idempotency-Key on claim submission (SECURITY.md, Reliability: Stripe's model)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from claims_helpers import claim_body, delta, drug, post_claim, post_together
from sqlalchemy import select

from dhamen.claims import operations, queries
from dhamen.extensions import db
from dhamen.models import Claim, IdempotencyKey


def fresh_token(shop):
    from dhamen.access.auth import tokens

    shop.tokens["pharmacist"] = tokens.issue(shop.users["pharmacist"]).access_token


def key(k):
    return {"Idempotency-Key": k}


def test_retry_with_the_same_key_replays_the_first_answer(client, shop):
    first = post_claim(client, shop, headers=key("k-1"))
    again = post_claim(client, shop, headers=key("k-1"))
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert delta(shop) == {"claims": 1, "items": 1, "keys": 1, "audit_create": 1}
    row = db.session.scalar(select(IdempotencyKey))
    assert row.claim_id == first.get_json()["data"]["id"] and row.user_id == shop.users["pharmacist"].id


def test_same_body_with_other_key_order_is_the_same_request(client, shop):
    body = claim_body(shop)
    post_claim(client, shop, body=body, headers=key("k-order"))
    reordered = dict(reversed(list(body.items())))
    r = post_claim(client, shop, body=reordered, headers=key("k-order"))
    assert r.status_code == 201 and r.headers["Idempotent-Replayed"] == "true"


def test_same_key_with_another_body_is_refused(client, shop):
    post_claim(client, shop, headers=key("k-2"))
    r = post_claim(client, shop, items=[drug(quantity=3)], headers=key("k-2"))
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert err["code"] == "IDEMPOTENCY_KEY_REUSED" and err["details"]["field"] == "Idempotency-Key"
    assert delta(shop)["claims"] == 1


def test_without_a_key_each_post_is_a_new_claim(client, shop):
    post_claim(client, shop)
    post_claim(client, shop)
    assert delta(shop)["claims"] == 2 and delta(shop)["keys"] == 0


def test_keys_belong_to_their_user(client, shop):
    a = post_claim(client, shop, headers=key("shared"))
    b = post_claim(client, shop, who="pharmacist2", headers=key("shared"))
    assert a.status_code == b.status_code == 201
    assert a.get_json()["data"]["id"] != b.get_json()["data"]["id"]
    assert "Idempotent-Replayed" not in b.headers


def test_invalid_key_is_refused(client, shop):
    r = post_claim(client, shop, headers=key("x" * 256))
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "INVALID_IDEMPOTENCY_KEY"
    assert delta(shop)["claims"] == 0


def test_a_refused_request_stores_no_key(client, shop):
    r = post_claim(client, shop, contract="foreign", headers=key("k-refused"))
    assert r.status_code == 422
    assert delta(shop) == {"claims": 0, "items": 0, "keys": 0, "audit_create": 0}


def test_keys_expire_after_24_hours(client, shop):
    start = datetime.now(UTC)
    first = post_claim(client, shop, headers=key("k-day"))
    with time_machine.travel(start + timedelta(hours=23, minutes=59), tick=False):
        fresh_token(shop)  # access tokens live 15 minutes
        replay = post_claim(client, shop, headers=key("k-day"))
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert delta(shop)["claims"] == 1
    with time_machine.travel(start + timedelta(hours=24, minutes=1), tick=False):
        fresh_token(shop)
        fresh = post_claim(client, shop, headers=key("k-day"))
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers
    assert fresh.get_json()["data"]["id"] != first.get_json()["data"]["id"]
    assert delta(shop)["claims"] == 2
    rows = db.session.scalars(select(IdempotencyKey)).all()
    assert len(rows) == 1 and rows[0].claim_id == fresh.get_json()["data"]["id"]


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs PostgreSQL (DATABASE_URL)")
def test_two_concurrent_submissions_with_one_key_make_one_claim(app, client, shop, monkeypatch):
    """Both requests pass the key lookup before either commits (a barrier holds them in
    ``prepare``): the database's unique key decides, the loser replays the winner's answer."""
    lookups = []
    real_find = operations.find_idempotent

    def find_idempotent(*args, **kwargs):
        found = real_find(*args, **kwargs)
        lookups.append(found is not None)
        return found

    monkeypatch.setattr(operations, "find_idempotent", find_idempotent)
    body = claim_body(shop)
    headers = {**shop.auth("pharmacist"), **key("k-race")}
    results = post_together(app, monkeypatch, [(body, headers), (body, headers)])
    assert all(r is not None for r in results)
    assert [r.status_code for r in results] == [201, 201], [r.get_json() for r in results]
    assert results[0].get_json() == results[1].get_json()
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in results) == ["", "true"]
    # two misses before the race, then the loser's lookup after its unique-key violation
    assert sorted(lookups) == [False, False, True]
    db.session.expire_all()
    assert delta(shop) == {"claims": 1, "items": 1, "keys": 1, "audit_create": 1}
    assert db.session.scalar(select(Claim.id).where(Claim.created_by == shop.users["pharmacist"].id)) \
        == results[0].get_json()["data"]["id"]


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs PostgreSQL (DATABASE_URL)")
def test_two_concurrent_claims_on_one_contract_never_overspend_the_annual_limit(app, shop, monkeypatch):
    """Both claims enter ``prepare`` together (a barrier); each alone would be covered 40 000, and the
    contract year has 50 000 left (150 000 limit, 100 000 used).  The contract's row lock makes the
    second wait for the first's commit and see it: it gets the 10 000 left (LIMIT_PARTIAL), never a
    second full coverage.  Two different drugs: the same drug twice the same day would be an early
    refill (issue 9), refused whatever the limit."""
    contract = shop.contracts["limited"]
    bodies = [{"contractId": contract.id, "items": [drug("PH0023", 2, 25_000)]},  # 80 %: 40 000
              {"contractId": contract.id, "items": [drug("PH0038", 1, 50_000)]}]  # 80 %: 40 000
    headers = shop.auth("pharmacist")
    results = post_together(app, monkeypatch, [(body, {**headers, **key(f"limit-{n}")})
                                               for n, body in enumerate(bodies)])
    assert [r.status_code for r in results] == [201, 201], [r.get_json() for r in results]
    first, second = sorted((r.get_json()["data"] for r in results), key=lambda d: -d["coveredAmount"])
    assert (first["coveredAmount"], second["coveredAmount"]) == (40_000, 10_000), (first, second)
    assert first["status"] == "approved" and "LIMIT_PARTIAL" in second["items"][0]["reasonCodes"]
    db.session.expire_all()
    assert queries.used_in_contract_year(contract, datetime.now(UTC).date()) == 150_000
