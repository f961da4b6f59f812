"""GET /api/v1/claims: keyset pagination (nextCursor), bounded page numbers, capped totals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from dhamen.claims import listing
from dhamen.core.sqltypes import new_id
from dhamen.extensions import db
from dhamen.models import Claim

BASE = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _add(shop, created_at, care_date=None, status="approved"):
    c = shop.contracts["active"]
    db.session.add(Claim(id=new_id(), type="pharmacy", contract_id=c.id, provider_id=shop.providers["pharmacist"].id,
                         adherent_id=c.adherent_id, insurer_id=c.insurer_id,
                         care_date=care_date or date.today() - timedelta(days=3), total_amount=1_000,
                         covered_amount=800, copay_amount=200, status=status, created_at=created_at,
                         updated_at=created_at))


@pytest.fixture
def many(shop):
    for n in range(45):
        _add(shop, BASE + timedelta(minutes=n), care_date=date.today() - timedelta(days=n % 9))
    db.session.commit()
    return shop


def get(client, shop, query, who="agentA"):
    return client.get(f"/api/v1/claims{query}", headers=shop.auth(who))


def walk(client, shop, query, arrive=None) -> list[str]:
    seen, cursor = [], None
    while True:
        r = get(client, shop, f"{query}&cursor={cursor}" if cursor else query)
        assert r.status_code == 200, r.get_json()
        data = r.get_json()["data"]
        seen += [c["id"] for c in data["items"]]
        if arrive:
            arrive()
        cursor = data["nextCursor"]
        if cursor is None:
            return seen


def test_next_cursor_walks_every_claim_once_while_claims_arrive(client, many):
    before = [c.id for c in db.session.scalars(db.select(Claim).order_by(Claim.created_at.desc(), Claim.id.desc()))]

    def arrive():
        _add(many, datetime.now(UTC))
        db.session.commit()

    seen = walk(client, many, "?perPage=7", arrive)
    assert seen == before  # every claim there at the start, once, newest first; the new ones are above


def test_by_care_date_when_filtered_on_it(client, many):
    since = (date.today() - timedelta(days=4)).isoformat()
    seen = walk(client, many, f"?perPage=4&du={since}")
    rows = {c.id: c for c in db.session.scalars(db.select(Claim))}
    expected = sorted((c for c in rows.values() if c.care_date >= date.fromisoformat(since)),
                      key=lambda c: (c.care_date, c.id), reverse=True)
    assert seen == [c.id for c in expected] and len(seen) == 25


def test_page_numbers_work_for_the_first_thousand_claims_only(client, many):
    first = get(client, many, "?perPage=10&page=2").get_json()["data"]
    assert first["page"] == 2 and first["total"] == 46 and first["pages"] == 5 and first["nextCursor"]
    following = get(client, many, f"?perPage=10&cursor={first['nextCursor']}").get_json()["data"]
    third = get(client, many, "?perPage=10&page=3").get_json()["data"]
    assert [c["id"] for c in following["items"]] == [c["id"] for c in third["items"]] and "page" not in following
    r = get(client, many, "?perPage=100&page=11")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "PAGE_TOO_DEEP"
    assert "nextCursor" in r.get_json()["error"]["message"]
    assert get(client, many, "?perPage=100&page=10").status_code == 200
    r = get(client, many, f"?page=2&cursor={first['nextCursor']}")
    assert r.status_code == 422 and r.get_json()["error"]["details"]["field"] == "page"


@pytest.mark.parametrize("cursor", ["abc", "W1siIl1d.abc", "x" * 401, "%F0%9F%92%A5"])
def test_a_bad_cursor_is_a_400_in_french(client, many, cursor):
    r = get(client, many, f"?cursor={cursor}")
    assert r.status_code in (400, 422)
    err = r.get_json()["error"]
    assert err["details"]["field"] == "cursor"
    if r.status_code == 400:
        assert err["code"] == "INVALID_CURSOR" and "pagination invalide" in err["message"]


def test_a_cursor_of_another_list_is_refused(client, many):
    newest = get(client, many, "?perPage=5").get_json()["data"]["nextCursor"]
    r = get(client, many, f"?perPage=5&du=2026-01-01&cursor={newest}")  # the care-date order
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "INVALID_CURSOR"


def test_the_total_is_capped(client, many, monkeypatch):
    monkeypatch.setattr(listing, "COUNT_CAP", 20)
    data = get(client, many, "?perPage=5").get_json()["data"]
    assert data["total"] is None and data["pages"] is None and data["totalMoreThan"] == 20
    assert get(client, many, "?statut=rejected").get_json()["data"]["total"] == 0
