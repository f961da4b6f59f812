"""dhamen.claims.queries / operations: member search, rights panel, usage, preview/submit."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from claims_helpers import acting_as, delta
from flask import g
from sqlalchemy import text

from dhamen.claims import lookup, operations, queries
from dhamen.claims.errors import ClaimError
from dhamen.domain.coverage import ItemInput
from dhamen.extensions import db
from dhamen.models import Claim


def found(query, birth_date=None):
    return [(m.adherent.last_name, m.matched_by) for m in lookup.find_members(g.api_user, query, birth_date)[1]]


def test_find_by_national_id_goes_through_the_keyed_hash(shop, as_pharmacist):
    cin = shop.national_ids["active"]
    assert found(cin) == [("NomActive", "national_id")]
    assert found(f"{cin[:2]} {cin[2:5]}.{cin[5:]}") == [("NomActive", "national_id")]
    stored = db.session.execute(text("SELECT national_id_encrypted FROM adherents WHERE id = :id"),
                                {"id": shop.members["active"].id}).scalar()
    assert cin not in stored  # ciphertext at rest, so only the hash column can find it
    assert found("99999999") == []


def test_find_by_contract_number_ignores_case(shop, as_pharmacist):
    [match] = lookup.find_members(as_pharmacist, "ct-limited-001")[1]
    assert match.matched_by == "contract_number" and match.adherent.last_name == "NomLimited"
    assert [c.contract_number for c in match.contracts] == ["CT-LIMITED-001"]


def test_find_by_name_needs_the_birth_date_and_the_exact_name(shop, as_pharmacist):
    birth = shop.members["carence"].date_of_birth
    assert found("nomcarence", birth) == [("NomCarence", "name_and_birth_date")]
    assert found("PrénomCarence NomCarence", birth) == [("NomCarence", "name_and_birth_date")]
    assert found("PrénomCarence NomCar", birth) == [] and found("Nom", birth) == []
    with pytest.raises(lookup.MemberQueryError):
        found("nomcarence")


def test_insurers_only_find_their_members(app, shop):
    with acting_as(app, shop.users["agentB"]):
        assert found(shop.national_ids["active"]) == []
        assert found("NomForeign", shop.members["foreign"].date_of_birth) == [("NomForeign", "name_and_birth_date")]
        assert found("CT-ACTIVE-001") == []


def panel(shop, label, care_type="pharmacy", on=None, provider="pharmacist"):
    [rights] = queries.rights(g.api_user, shop.members[label], care_type, on or date.today(),
                              shop.providers.get(provider))
    return rights


def test_rights_of_a_contract_in_force(shop, as_pharmacist):
    r = panel(shop, "active")
    e = r.eligibility
    assert e.inforce and e.reason_code == "ELIGIBLE" and r.has_convention
    assert (e.annual_limit, e.used, e.remaining) == (1_000_000, 0, 1_000_000)
    assert e.benefits["pharmacy"].rate_bp == 8000 and e.benefits["hospitalization"].room_day_cap == 120_000
    assert r.excluded == ["cat:cosmetique", "PH0099"]


@pytest.mark.parametrize(("label", "code", "words"), [
    ("suspended", "CONTRACT_INACTIVE", "suspendu"),
    ("expired", "CONTRACT_INACTIVE", "expiré"),
    ("ended", "CONTRACT_ENDED", "échéance"),
    ("carence", "CARENCE", "carence"),
])
def test_rights_say_why_not(shop, as_pharmacist, label, code, words):
    e = panel(shop, label).eligibility
    assert not e.inforce and e.reason_code == code and words in e.message.lower()


def test_carence_until_date(shop, as_pharmacist):
    e = panel(shop, "carence").eligibility
    until = shop.contracts["carence"].start_date + timedelta(days=59)
    assert e.carence_until == until and until.strftime("%d/%m/%Y") in e.message
    assert panel(shop, "carence", on=until + timedelta(days=1)).eligibility.inforce


def test_limit_left_counts_payable_claims_of_the_contract_year(shop, as_pharmacist):
    e = panel(shop, "limited").eligibility
    assert (e.used, e.remaining) == (100_000, 50_000)
    contract = shop.contracts["limited"]
    for status in ("rejected", "blocked", "pending_review"):
        db.session.add(Claim(type="pharmacy", contract_id=contract.id, provider_id=shop.providers["pharmacist"].id,
                             adherent_id=contract.adherent_id, insurer_id=contract.insurer_id,
                             care_date=date.today(), total_amount=10_000, covered_amount=10_000, copay_amount=0,
                             status=status))
    db.session.flush()
    # rejected and blocked claims are not payable: only the pending review counts
    assert queries.used_in_contract_year(contract, date.today()) == 110_000
    assert panel(shop, "limited").eligibility.remaining == 40_000
    # a claim before the contract year does not count
    assert queries.used_in_contract_year(contract, contract.start_date) == 110_000


def test_no_convention_is_visible_in_the_panel(shop, as_pharmacist):
    r = panel(shop, "foreign")
    assert r.eligibility.inforce and not r.has_convention
    assert not panel(shop, "active", provider=None).has_convention


def test_preview_stores_nothing_and_submit_stores_once(shop, as_pharmacist):
    items = [ItemInput("PH0009", "Doliprane", 2, 2_100)]
    req, result = operations.preview(as_pharmacist, shop.contracts["active"].id, "pharmacy", date.today(), items)
    assert result.status == "approved" and result.covered_amount == 3_360
    db.session.commit()
    assert delta(shop)["claims"] == 0
    claim_id, body, replayed = operations.submit(as_pharmacist, shop.contracts["active"].id, "pharmacy", date.today(),
                                              items)
    db.session.commit()
    assert not replayed and body["id"] == claim_id and body["coveredAmount"] == 3_360
    assert delta(shop) == {"claims": 1, "items": 1, "keys": 0, "audit_create": 1}


def test_member_history_brings_every_claim_and_only_the_lines_of_the_new_claims_codes(shop, as_pharmacist):
    """Issue 11: the history read carries the lines of the claim's own codes only (every history
    rule compares codes with them), yet every claim of the window (frequency, stays)."""
    from dhamen.models import ClaimItem

    contract = shop.contracts["active"]
    claims = []
    # the 4-day-old one is a lab claim: its lines never count against a pharmacy claim's codes
    for days, codes in ((3, ("PH0009", "ph0010 ")), (4, ("PH0009",)), (5, ("PH0057",))):
        claim = Claim(type="lab" if days == 4 else "pharmacy", contract_id=contract.id, provider_id=shop.providers["pharmacist"].id,
                      adherent_id=contract.adherent_id, insurer_id=contract.insurer_id,
                      care_date=date.today() - timedelta(days=days), total_amount=4_000, covered_amount=3_000,
                      copay_amount=1_000, status="approved")
        db.session.add(claim)
        db.session.flush()
        for position, code in enumerate(codes):
            db.session.add(ClaimItem(claim_id=claim.id, position=position, code=code, label=code, quantity=2,
                                     unit_price=2_000, line_total=4_000, covered_amount=1_500, copay_amount=2_500))
        claims.append(claim)
    db.session.flush()
    provider, facts, _ = queries.claim_context(as_pharmacist, contract.id, date.today())

    def recent(codes):
        _used, ctx = queries.member_history(provider, facts, "pharmacy", date.today(), codes)
        return sorted((c.care_date, c.codes, c.quantities) for c in ctx.recent_claims)

    three, four, five = (date.today() - timedelta(days=n) for n in (3, 4, 5))
    assert recent(["PH0009"]) == [(five, (), ()), (four, (), ()), (three, ("PH0009",), (2,))]
    # a code written otherwise (spaces, case) is still compared in its normal form
    assert recent([" Ph0010", "PH0057"]) == [(five, ("PH0057",), (2,)), (four, (), ()), (three, ("ph0010 ",), (2,))]
    assert recent(["XX-1"]) == [(five, (), ()), (four, (), ()), (three, (), ())]
    # and the engine sees the duplicate through it
    _req, result = operations.preview(as_pharmacist, contract.id, "pharmacy", date.today(),
                                      [ItemInput("PH0010", "Produit", 1, 2_000)])
    [flag] = result.fraud_flags
    assert flag["code"] == "DUPLICATE" and "PH0010 le" in flag["message"]
    assert result.lines[0].held == "REFILL_TOO_SOON"


@pytest.mark.parametrize(("raw", "ok"), [
    (None, True), ("", True), ("2026-02-30", False), ("hier", False),
])
def test_parse_care_date(raw, ok):
    if ok:
        assert operations.parse_care_date(raw) == date.today()
    else:
        with pytest.raises(ClaimError) as exc:
            operations.parse_care_date(raw)
        assert exc.value.code == "INVALID_DATE" and exc.value.field == "careDate"


def test_prepare_refusals_carry_codes(shop, as_pharmacist):
    items = [ItemInput("PH0009", "", 1, 2_100)]
    with pytest.raises(ClaimError) as exc:
        operations.prepare(as_pharmacist, shop.contracts["active"].id, "lab", date.today(), items)
    assert (exc.value.code, exc.value.kind) == ("WRONG_CLAIM_TYPE", "forbidden")
    with pytest.raises(ClaimError) as exc:
        operations.prepare(as_pharmacist, shop.contracts["active"].id, "pharmacy", date.today(),
                        [ItemInput("PH0009", "", 0, 2_100)])
    assert exc.value.code == "INVALID_ITEMS" and exc.value.errors[0]["field"] == "quantity"
