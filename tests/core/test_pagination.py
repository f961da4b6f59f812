"""Keyset pagination (dhamen.core.pagination): walks, cursors, bad cursors, capped counts.

Runs on SQLite by default and on PostgreSQL in the second pass (``DATABASE_URL``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from dhamen.core.pagination import CursorError, Keyset, capped_count, paginate
from dhamen.core.sqltypes import new_id
from dhamen.extensions import db
from dhamen.models import Claim

NEWEST = Keyset("test.claims", (Claim.created_at, Claim.id))
BASE = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _claim(shop, created_at: datetime, provider="pharmacist", status="approved") -> Claim:
    c = shop.contracts["active"]
    claim = Claim(id=new_id(), type="pharmacy", contract_id=c.id, provider_id=shop.providers[provider].id,
                  adherent_id=c.adherent_id, insurer_id=c.insurer_id, care_date=date(2026, 3, 1),
                  total_amount=1_000, covered_amount=800, copay_amount=200, status=status,
                  created_at=created_at, updated_at=created_at)
    db.session.add(claim)
    return claim


@pytest.fixture
def claims(shop):
    """53 claims of the pharmacy: ten share one creation instant (ties broken by id), one is another's."""
    for n in range(43):
        _claim(shop, BASE + timedelta(minutes=n))
    for _ in range(10):
        _claim(shop, BASE + timedelta(minutes=20, seconds=30))
    _claim(shop, BASE + timedelta(minutes=5), provider="pharmacist2")
    db.session.commit()
    return shop


def _stmt(shop):
    return select(Claim).where(Claim.provider_id == shop.providers["pharmacist"].id)


def _expected(shop) -> list[str]:
    return [c.id for c in db.session.scalars(_stmt(shop).order_by(Claim.created_at.desc(), Claim.id.desc()))]


def test_the_cursor_walks_the_list_without_skip_or_repeat_while_claims_arrive(claims):
    expected = _expected(claims)
    assert len(expected) == 53
    seen, cursor, arrived = [], None, 0
    while True:
        page = paginate(_stmt(claims), NEWEST, cursor=cursor, per_page=7)
        seen += [c.id for c in page.rows]
        # Counters keep working meanwhile: new claims (newest first: they go above the walk) and one
        # stamped in the very second of the last row shown.
        _claim(claims, datetime.now(UTC))
        _claim(claims, BASE + timedelta(minutes=20, seconds=30))
        db.session.commit()
        arrived += 2
        if not page.has_next:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)), "a claim was shown twice"
    missing = set(expected) - set(seen)
    assert not missing, f"{len(missing)} claims skipped"
    # What was there when the walk began comes in order; the claims that arrived behind the
    # cursor (same instant, smaller id) may appear too, each once.
    assert [i for i in seen if i in set(expected)] == expected
    assert len(_expected(claims)) == 53 + arrived


def test_offset_pages_shift_under_inserts_where_the_cursor_does_not(claims):
    """Why keyset: with OFFSET a claim arriving between two pages repeats a row."""
    first = paginate(_stmt(claims), NEWEST, per_page=10)
    _claim(claims, datetime.now(UTC))
    db.session.commit()
    by_offset = paginate(_stmt(claims), NEWEST, per_page=10, offset=10)
    by_cursor = paginate(_stmt(claims), NEWEST, per_page=10, cursor=first.next_cursor)
    assert by_offset.rows[0].id == first.rows[-1].id
    assert by_cursor.rows[0].id == _expected(claims)[11]


def test_backwards_returns_the_previous_page_and_the_top_is_a_full_first_page(claims):
    expected = _expected(claims)
    p1 = paginate(_stmt(claims), NEWEST, per_page=10)
    assert p1.prev_cursor is None and [c.id for c in p1.rows] == expected[:10]
    p2 = paginate(_stmt(claims), NEWEST, per_page=10, cursor=p1.next_cursor)
    p3 = paginate(_stmt(claims), NEWEST, per_page=10, cursor=p2.next_cursor)
    assert [c.id for c in p3.rows] == expected[20:30]
    back = paginate(_stmt(claims), NEWEST, per_page=10, cursor=p3.prev_cursor, backwards=True)
    assert [c.id for c in back.rows] == expected[10:20] and back.has_prev and back.has_next
    top = paginate(_stmt(claims), NEWEST, per_page=10, cursor=back.prev_cursor, backwards=True)
    assert [c.id for c in top.rows] == expected[:10] and top.prev_cursor is None
    # Fewer than a page above the cursor: a full first page rather than the 5 rows left.
    shifted = paginate(_stmt(claims), NEWEST, per_page=10, offset=5)
    top = paginate(_stmt(claims), NEWEST, per_page=10, cursor=shifted.prev_cursor, backwards=True)
    assert [c.id for c in top.rows] == expected[:10] and top.prev_cursor is None
    # New claims since: going back from the second page finds them above.
    for _ in range(3):
        _claim(claims, datetime.now(UTC))
    db.session.commit()
    back = paginate(_stmt(claims), NEWEST, per_page=10, cursor=p2.prev_cursor, backwards=True)
    assert [c.id for c in back.rows] == _expected(claims)[3:13] and back.has_prev
    last = paginate(_stmt(claims), NEWEST, per_page=10, cursor=paginate(
        _stmt(claims), NEWEST, per_page=50).next_cursor)
    assert len(last.rows) == 6 and last.next_cursor is None


def test_core_rows_and_ascending_order(claims):
    oldest = Keyset("test.oldest", (Claim.created_at, Claim.id), descending=False)
    stmt = select(Claim.id, Claim.created_at).where(Claim.provider_id == claims.providers["pharmacist"].id)
    walked, cursor = [], None
    while True:
        page = paginate(stmt, oldest, cursor=cursor, per_page=9)
        walked += [r.id for r in page.rows]
        if not page.has_next:
            break
        cursor = page.next_cursor
    assert walked == _expected(claims)[::-1]


@pytest.mark.parametrize("token", [
    "", "x", "abc.def", "W1sidCIsIjIwMjYtMDMtMDEifV0.AAAA", "é" * 10, "a" * 5000,
])
def test_bad_cursors_raise_a_french_error(claims, token):
    with pytest.raises(CursorError) as caught:
        paginate(_stmt(claims), NEWEST, cursor=token or "%", per_page=5)
    assert "pagination invalide" in caught.value.message and caught.value.code == "INVALID_CURSOR"


def test_cursors_are_signed_and_bound_to_their_list(claims, app):
    page = paginate(_stmt(claims), NEWEST, per_page=5)
    token = page.next_cursor
    payload, signature = token.rsplit(".", 1)
    tampered = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature
    for bad in (tampered, token[:-3], token + "x"):
        with pytest.raises(CursorError):
            NEWEST.decode(bad)
    with pytest.raises(CursorError):  # another list's cursor
        Keyset("test.other", (Claim.created_at, Claim.id)).decode(token)
    # Signed but of the wrong shape or types: refused too.
    forgeries = ((["s", "x"],), (["t", "hier"], ["s", "X"]), (["i", 3], ["s", "X"]), (["t", BASE.isoformat()],),
                 (["t", "2026-03-01T08:00:00"], ["s", "X"]), (["t", BASE.isoformat()], ["i", 7]),
                 (["d", "2026-03-01"], ["s", "X"]), (["t", BASE.isoformat()], ["s", "X" * 300]), {"a": 1})
    for values in forgeries:
        forged = NEWEST._serializer(None).dumps(values if isinstance(values, dict) else list(values))
        with pytest.raises(CursorError):
            NEWEST.decode(forged)
    with pytest.raises(CursorError):  # signed with another secret
        NEWEST.decode(NEWEST.encode(page.rows[-1], secret="another-secret"))
    assert NEWEST.decode(token) == (page.rows[-1].created_at, page.rows[-1].id)


def test_capped_count(claims):
    assert capped_count(_stmt(claims), 100) == (53, True)
    assert capped_count(_stmt(claims), 53) == (53, True)
    assert capped_count(_stmt(claims), 20) == (20, False)
    assert capped_count(_stmt(claims).where(Claim.status == "paid"), 20) == (0, True)
