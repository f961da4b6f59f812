"""The claim's short reference: given at submission, unique, read back by the API and the history."""

from __future__ import annotations

from datetime import date

from claims_helpers import drug, post_claim, shop_fixture  # noqa: F401
from sqlalchemy import select

from dhamen.domain import reference
from dhamen.extensions import db
from dhamen.models import Claim


def test_submission_gives_a_reference_and_the_api_accepts_it_as_typed(client, shop):
    r = post_claim(client, shop)
    assert r.status_code == 201, r.get_json()
    data = r.get_json()["data"]
    ref = data["reference"]
    assert reference.normalise(ref) == ref and ref.startswith(f"PH-{date.today().year % 100:02d}-")
    assert db.session.scalar(select(Claim.reference).where(Claim.id == data["id"])) == ref
    for typed in (ref, ref.lower(), ref.replace("-", ""), ref.replace("-", " ")):
        got = client.get(f"/api/v1/claims/{typed}", headers=shop.auth("pharmacist"))
        assert got.status_code == 200 and got.get_json()["data"]["id"] == data["id"], typed
    assert client.get(f"/api/v1/claims/{data['id']}", headers=shop.auth("pharmacist")).get_json()["data"][
        "reference"] == ref
    # Another organisation, or one wrong symbol: not found, nothing leaked.
    assert client.get(f"/api/v1/claims/{ref}", headers=shop.auth("pharmacist2")).status_code == 404
    wrong = ref[:-1] + ("0" if ref[-1] != "0" else "1")
    assert client.get(f"/api/v1/claims/{wrong}", headers=shop.auth("pharmacist")).status_code == 404


def test_a_taken_reference_is_drawn_again(client, shop, monkeypatch):
    first = post_claim(client, shop).get_json()["data"]
    draws = iter([first["reference"], first["reference"]])
    real = reference.new_reference
    monkeypatch.setattr(reference, "new_reference", lambda care_type, on, value=None: next(draws, None)
                        or real(care_type, on))
    second = post_claim(client, shop, items=[drug("PH0010", 1, 1_350)])
    assert second.status_code == 201, second.get_json()
    data = second.get_json()["data"]
    assert data["reference"] != first["reference"]
    assert db.session.scalar(select(Claim.reference).where(Claim.id == data["id"])) == data["reference"]
    assert len(db.session.scalars(select(Claim).where(Claim.provider_id == shop.providers["pharmacist"].id)).all()) == 2


def test_orm_inserts_and_the_volume_seed_get_references(demo):
    from dhamen.seed.bulk import generate_claims

    generate_claims(300, batch_size=100, progress=lambda _message: None, seed=7)
    refs = db.session.scalars(select(Claim.reference)).all()
    assert len(refs) == len(set(refs)) >= 300
    assert all(reference.normalise(r) == r for r in refs)
