"""Issue 9 through the claims API: each request of the issue, replayed as a provider trying to be
paid more than owed. Every test here was approved (or silently accepted) before the fix."""

from __future__ import annotations

from datetime import date, timedelta

from claims_helpers import drug, post_claim, run_event_jobs, shop_fixture  # noqa: F401
from sqlalchemy import select

from dhamen.claims import events
from dhamen.domain.money import apply_rate
from dhamen.extensions import db
from dhamen.models import Claim, Contract, Convention, Insurer

LANTUS = 98_000


def days_ago(n: int) -> str:
    return (date.today() - timedelta(days=n)).isoformat()


def data_of(response):
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]


def set_config(insurer: Insurer, **changes) -> None:
    insurer.config_json = {**insurer.config_json, **changes}
    db.session.commit()


# 1. ceilings ---------------------------------------------------------------------------------

def test_fifty_lines_of_lantus_at_999_are_not_paid(client, shop):
    data = data_of(post_claim(client, shop, contract="unlimited", items=[drug("PH0029", 999, LANTUS)] * 50))
    assert data["status"] == "rejected" and data["coveredAmount"] == 0
    assert data["reasonCode"] == "LINE_CEILING"
    assert "soumettre la demande à l'assureur" in data["reason"]


def test_five_hundred_units_in_one_claim_wait_for_the_insurer(client, shop):
    data = data_of(post_claim(client, shop, contract="unlimited", items=[drug("PH0029", 10, LANTUS)] * 50))
    assert data["status"] == "pending_review" and data["reasonCode"] == "CLAIM_CEILING"
    assert any(flag["code"] == "HIGH_QUANTITY" for flag in data["fraudFlags"])


# 2. codes without a tariff ----------------------------------------------------------------------

def test_invented_code_at_any_price_is_hors_nomenclature(client, shop):
    data = data_of(post_claim(client, shop, contract="unlimited", items=[drug("XX-777", 999, 9_999_999)]))
    assert data["status"] == "rejected" and data["coveredAmount"] == 0 and data["reasonCode"] == "NO_TARIFF"
    assert "hors nomenclature" in data["reason"]


def test_a_pharmacy_billing_a_consultation_act_is_not_paid(client, shop):
    data = data_of(post_claim(client, shop, contract="unlimited", items=[drug("C1", 1, 45_000)]))
    assert data["coveredAmount"] == 0 and data["items"][0]["reasonCodes"][0] == "NO_TARIFF"


def test_hors_nomenclature_can_be_submitted_to_the_insurer(client, shop):
    body = {"contractId": shop.contracts["unlimited"].id, "submitToInsurer": True,
            "items": [drug("XX-777", 1, 20_000), drug("PH0009", 1, 2_100)]}
    data = data_of(post_claim(client, shop, body=body))
    assert data["status"] == "pending_review" and data["reasonCode"] == "SUBMITTED"
    assert [i["coveredAmount"] for i in data["items"]] == [0, apply_rate(2_100, 8000)]


# 3. the generic flag ----------------------------------------------------------------------------

def test_ticking_generic_on_zithromax_changes_nothing_and_warns(client, shop):
    honest = data_of(post_claim(client, shop, contract="unlimited", items=[drug("PH0005", 1, 14_600)]))
    ticked = data_of(post_claim(client, shop, contract="active",
                                items=[drug("PH0005", 1, 14_600, isGeneric=True)]))
    assert ticked["coveredAmount"] == honest["coveredAmount"] == apply_rate(14_600, 8000)
    assert ticked["items"][0]["isGeneric"] is False
    assert ticked["warnings"] == ["Ligne 1 (PH0005) : un princeps (non générique) selon la nomenclature ; "
                                  "l'indication « générique » envoyée n'est pas retenue."]
    assert honest["warnings"] == []


# 4. history both ways, 5. refill too soon -------------------------------------------------------

def test_claims_entered_newest_first_are_paid_once(client, shop):
    prescription = [drug("PH0026", 1, 5_900), drug("PH0018", 1, 4_100)]
    statuses = [data_of(post_claim(client, shop, contract="unlimited", items=prescription,
                                   careDate=days_ago(n)))["status"] for n in range(12)]
    assert statuses[0] == "approved"
    assert "approved" not in statuses[1:]


def test_the_same_drug_four_times_the_same_day(client, shop):
    results = [data_of(post_claim(client, shop, contract="unlimited", items=[drug("PH0026", 1, 5_900)],
                                  who="pharmacist" if n % 2 else "pharmacist2")) for n in range(4)]
    assert [r["status"] for r in results] == ["approved", "rejected", "rejected", "rejected"]
    payable = (date.today() + timedelta(days=23)).strftime("%d/%m/%Y")
    assert results[1]["reasonCode"] == "REFILL_TOO_SOON"
    assert f"pris en charge à partir du {payable}" in results[1]["reason"]
    body = {"contractId": shop.contracts["unlimited"].id, "items": [drug("PH0026", 1, 5_900)],
            "overrideReason": "loss_or_theft"}
    override = data_of(post_claim(client, shop, body=body))
    assert override["status"] == "pending_review" and override["reasonCode"] == "REFILL_OVERRIDE"
    assert "motif « perte ou vol »" in override["reason"]


def test_an_unknown_override_reason_is_refused_in_french(client, shop):
    body = {"contractId": shop.contracts["unlimited"].id, "items": [drug()], "overrideReason": "bored"}
    response = post_claim(client, shop, body=body)
    assert response.status_code == 422
    assert "motif de renouvellement anticipé" in response.get_json()["error"]["message"].lower()


# 6. the usual amount ----------------------------------------------------------------------------

def test_a_rejected_giant_claim_does_not_move_the_usual_amount(app, client, shop):
    insurer = shop.insurers["A"].id
    for n in range(events.USUAL_MIN_SAMPLE):
        events.claim_event({"type": "claim.created", "claimId": f"C{n}", "insurerId": insurer, "providerId": None,
                            "careType": "pharmacy", "status": "approved", "previousStatus": None,
                            "totalAmount": 8_100, "coveredAmount": 6_480})
    assert events.usual_amount(insurer, "pharmacy") == 8_100
    giant = data_of(post_claim(client, shop, contract="suspended", items=[drug("PH0029", 999, 10_000_000)] * 50))
    assert giant["status"] == "rejected"
    run_event_jobs(app)
    assert events.usual_amount(insurer, "pharmacy") == 8_100
    # an approved outlier moves the median by nothing
    events.claim_event({"type": "claim.created", "claimId": "BIG", "insurerId": insurer, "providerId": None,
                        "careType": "pharmacy", "status": "approved", "previousStatus": None,
                        "totalAmount": 4_405_590_000, "coveredAmount": 1})
    assert events.usual_amount(insurer, "pharmacy") == 8_100


# 7. double coverage ----------------------------------------------------------------------------

def test_the_same_prescription_under_two_insurers_is_paid_once(client, shop):
    member = shop.members["unlimited"]
    second = Contract(insurer_id=shop.insurers["B"].id, adherent_id=member.id, contract_number="CT-COMAR-1",
                      plan_type="individual", start_date=date.today() - timedelta(days=100),
                      end_date=date.today() + timedelta(days=200), coverage_json=shop.contracts["unlimited"].coverage_json,
                      payer_rank=2)
    db.session.add_all([second, Convention(insurer_id=shop.insurers["B"].id,
                                           provider_id=shop.providers["pharmacist"].id, bareme_json={},
                                           start_date=date.today() - timedelta(days=100))])
    db.session.commit()
    prescription = [drug("PH0056", 1, 4_200)]
    first = data_of(post_claim(client, shop, contract="unlimited", items=prescription))
    other = data_of(post_claim(client, shop, body={"contractId": second.id, "items": prescription,
                                                   "careDate": days_ago(1)}))
    assert first["status"] == "approved"
    assert other["status"] == "pending_review" and other["reasonCode"] == "DOUBLE_COVERAGE"
    # the counter sees which contract pays first
    rights = client.get(f"/api/v1/eligibility?memberId={member.id}", headers=shop.auth("pharmacist")).get_json()["data"]
    ranks = {c["contractNumber"]: c["payerRank"] for c in rights["insurance"]}
    assert ranks == {"CT-UNLIMITED-001": 1, "CT-COMAR-1": 2}


# 8. back-dating ----------------------------------------------------------------------------------

def test_a_care_date_older_than_the_insurer_setting_waits_for_review(client, shop):
    data = data_of(post_claim(client, shop, contract="unlimited", careDate=days_ago(40)))
    assert data["status"] == "pending_review" and data["reasonCode"] == "LATE_CLAIM"
    set_config(shop.insurers["A"], max_care_age_days=60)
    assert data_of(post_claim(client, shop, contract="unlimited", items=[drug("PH0010", 1, 1_350)],
                              careDate=days_ago(40)))["status"] == "approved"


def test_a_one_day_last_contract_year_has_no_fresh_limit(client, shop):
    today = date.today()
    try:
        start = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        start = today.replace(year=today.year - 1, day=28)
    contract = shop.contracts["unlimited"]
    contract.start_date, contract.end_date, contract.annual_limit = start, today, 1_500_000
    db.session.add(Claim(type="pharmacy", contract_id=contract.id, provider_id=shop.providers["pharmacist2"].id,
                         adherent_id=contract.adherent_id, insurer_id=contract.insurer_id,
                         care_date=today - timedelta(days=10), total_amount=1_600_000, covered_amount=1_500_000,
                         copay_amount=100_000, status="approved"))
    db.session.commit()
    data = data_of(post_claim(client, shop, contract="unlimited"))
    assert data["status"] == "rejected" and data["reasonCode"] == "LIMIT_REACHED"


# 9. hospital days --------------------------------------------------------------------------------

def stay(shop, admission: int, discharge: int, items, member="unlimited") -> dict:
    return {"contractId": shop.contracts[member].id, "admissionDate": days_ago(admission),
            "dischargeDate": days_ago(discharge), "items": items}


def test_room_days_never_exceed_the_nights(client, shop):
    response = post_claim(client, shop, "hospitalization", "clinic",
                          body=stay(shop, 2, 0, [drug("CH-J", 20, 180_000)]))
    assert response.status_code == 422
    assert "20 journées de chambre facturées pour un séjour de 2 nuits" in response.get_json()["error"]["message"]


def test_discharge_is_not_in_the_future(client, shop):
    response = post_claim(client, shop, "hospitalization", "clinic",
                          body=stay(shop, 2, -300, [drug("ADM", 1, 30_000)]))
    assert response.status_code == 422
    assert "ne peut pas être dans le futur" in response.get_json()["error"]["message"]


def test_overlapping_stays_are_flagged_for_the_agent(client, shop):
    data_of(post_claim(client, shop, "hospitalization", "clinic", body=stay(shop, 6, 2, [drug("CH-J", 4, 180_000)])))
    second = data_of(post_claim(client, shop, "hospitalization", "clinic",
                                body=stay(shop, 4, 1, [drug("CH-D", 3, 140_000)])))
    flags = {flag["code"]: flag["message"] for flag in second["fraudFlags"]}
    assert "chevauchant un autre séjour" in flags["OVERLAPPING_STAY"]
    assert second["status"] == "pending_review"


# 10. barème categories --------------------------------------------------------------------------

def test_a_bareme_code_carries_its_category(client, shop):
    insurer = shop.insurers["A"]
    bareme = {**insurer.config_json["bareme"]}
    bareme["pharmacy"] = {**bareme["pharmacy"], "SOL50": {"price": 38_000, "category": "cosmetique"}}
    set_config(insurer, bareme=bareme)
    data = data_of(post_claim(client, shop, contract="unlimited", items=[drug("SOL50", 1, 38_000)]))
    assert data["status"] == "rejected" and data["reasonCode"] == "EXCLUDED"
    declared = data_of(post_claim(client, shop, contract="active",
                                  items=[drug("SOL50", 1, 38_000, category="vitamine")]))
    assert declared["coveredAmount"] == 0 and declared["items"][0]["category"] == "cosmetique"


# 11. the duplicate window -----------------------------------------------------------------------

def test_a_sixty_day_duplicate_window_is_honoured(client, shop):
    set_config(shop.insurers["A"], fraud={"duplicate_window_days": 60}, max_care_age_days=90)
    data_of(post_claim(client, shop, contract="unlimited", items=[drug("PH0056", 1, 4_200)], careDate=days_ago(45)))
    data = data_of(post_claim(client, shop, contract="unlimited", items=[drug("PH0056", 1, 4_200)]))
    assert any(flag["code"] == "DUPLICATE" for flag in data["fraudFlags"])


def test_no_claim_was_stored_for_refused_requests(client, shop):
    before = db.session.scalar(select(Claim.id).limit(1))
    post_claim(client, shop, "hospitalization", "clinic", body=stay(shop, 2, -300, [drug("ADM", 1, 30_000)]))
    assert db.session.scalar(select(Claim.id).limit(1)) == before
