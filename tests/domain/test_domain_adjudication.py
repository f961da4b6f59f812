"""The claim engine: statuses, reasons, totals."""

import json
from datetime import date, timedelta

import pytest

from dhamen.domain.adjudication import (
    ClaimContext,
    ContractTerms,
    FraudContext,
    InvalidClaimError,
    ItemInput,
    RecentClaim,
    Tariffs,
    adjudicate,
)
from dhamen.domain.errors import ConfigError, DomainError

DAY = date(2026, 3, 12)
COVERAGE = {
    "pharmacy": {"rate": 80, "generic_rate": 90},
    "consultation": {"rate": 70},
    "lab": {"rate": 0},
    "hospitalization": {"rate": 90, "room_day_cap": 120000},
}
INSURER_CONFIG = {
    "bareme_version": "STAR-2026.1",
    # PH0001 is a generic in the catalogue; this insurer's nomenclature says it is not
    "bareme": {
        "pharmacy": {"PH0001": {"price": 5_000, "generic": False}, "PH0056": 4_200},
        "consultation": {"C1": 45_000},
    },
}


def terms(**changes):
    values = {
        "id": "C-1",
        "status": "active",
        "start_date": date(2026, 1, 1),
        "end_date": date(2026, 12, 31),
        "carence_days": 0,
        "annual_limit": None,
        "coverage": COVERAGE,
        "exclusions": ["cat:cosmetique"],
    }
    values.update(changes)
    return ContractTerms(**values)


def context(care_type="pharmacy", config=INSURER_CONFIG, convention=None, **changes):
    values = {
        "care_type": care_type,
        "care_date": DAY,
        "terms": terms(),
        "tariffs": Tariffs.from_configs(config, convention),
        "used_this_year": 0,
        "fraud": FraudContext(),
        "insurer_config": config,
    }
    values.update(changes)
    return ClaimContext(**values)


def item(code="PH0001", quantity=2, unit_price=5_600, is_generic=False):
    return ItemInput(code, f"Libellé {code}", quantity, unit_price, is_generic)


def test_approved_claim():
    result = adjudicate(context(), [item(), item("PH0057", 1, 38_000)])
    assert result.status == "approved"
    assert result.reason_code == "APPROVED"
    assert result.reason == "Prise en charge accordée"
    assert result.care_type == "pharmacy"
    assert result.total_amount == 11_200 + 38_000
    assert [line.covered for line in result.lines] == [8_000, 0]
    assert result.covered_amount == 8_000
    assert result.copay_amount == result.total_amount - 8_000
    assert result.bareme_version == "STAR-2026.1"
    assert result.fraud_score == 0
    assert result.fraud_flags == ()
    assert result.eligibility.inforce


@pytest.mark.parametrize(
    ("changes", "code", "reason"),
    [
        ({"terms": terms(status="suspended")}, "CONTRACT_INACTIVE", "Contrat suspendu"),
        ({"terms": terms(carence_days=90)}, "CARENCE", "Période de carence jusqu'au 31/03/2026"),
        (
            {"care_date": date(2027, 2, 1)},
            "CONTRACT_ENDED",
            "Contrat arrivé à échéance le 31/12/2026",
        ),
        (
            {"terms": terms(annual_limit=100_000), "used_this_year": 100_000},
            "LIMIT_REACHED",
            "Plafond annuel atteint : 100,000 TND consommés sur 100,000 TND",
        ),
        (
            {"terms": terms(coverage={"consultation": {"rate": 70}})},
            "NOT_COVERED",
            "Type de soin non couvert par le contrat (pharmacie)",
        ),
    ],
)
def test_ineligible_claims_are_rejected_with_a_readable_reason(changes, code, reason):
    result = adjudicate(context(**changes), [item(), item("PH0002", 1, 3_450)])
    assert result.status == "rejected"
    assert result.reason_code == code
    assert result.reason == reason
    assert result.covered_amount == 0
    assert result.copay_amount == result.total_amount == 11_200 + 3_450
    assert result.bareme_version is None
    for line in result.lines:
        assert line.covered == 0
        assert line.copay == line.line_total
        assert line.reason_codes == (code,)
        assert line.rule_applied == f"Non pris en charge : {reason}"


def test_fraud_is_scored_even_for_rejected_claims():
    history = [RecentClaim(DAY - timedelta(days=1), "P-2", "pharmacy", ("PH0001",), 5_000)]
    result = adjudicate(
        context(terms=terms(status="expired"), fraud=FraudContext(recent_claims=history)), [item()]
    )
    assert result.status == "rejected"
    assert result.fraud_score == 40
    assert result.fraud_flags[0]["code"] == "DUPLICATE"


def test_all_lines_excluded_is_rejected():
    result = adjudicate(context(), [item("PH0057", 1, 38_000), item("PH0058", 1, 29_500)])
    assert result.status == "rejected"
    assert result.reason_code == "EXCLUDED"
    assert result.reason == "Aucune ligne prise en charge : actes ou produits exclus par le contrat"
    assert result.eligibility.inforce


def test_nothing_payable_is_rejected():
    result = adjudicate(context("lab"), [item("B-NFS", 1, 12_000)])
    assert result.status == "rejected"
    assert result.reason_code == "NOTHING_PAYABLE"
    assert result.reason == "Aucun montant à la charge de l'assureur"


def test_fraud_review_and_block():
    # PH0056 (serum) has no course of treatment: no refill rule, only the duplicate flag
    history = [RecentClaim(DAY - timedelta(days=2), "P-2", "pharmacy", ("PH0056",), 5_000)]
    review = adjudicate(context(fraud=FraudContext(recent_claims=history)), [item("PH0056", 2, 4_200)])
    assert review.status == "pending_review"
    assert review.reason_code == "FRAUD_REVIEW"
    assert review.reason == "Contrôle de l'assureur requis : score de risque 40/100 (doublon probable)"
    assert review.covered_amount == 6_720  # what would be paid once approved

    blocked = adjudicate(
        context(fraud=FraudContext(recent_claims=history, usual_amount=1_000)), [item("PH0056", 11, 4_200)]
    )
    assert blocked.fraud_score == 85
    assert blocked.status == "blocked"
    assert blocked.reason_code == "FRAUD_BLOCKED"
    assert blocked.reason == (
        "Demande bloquée : score de risque 85/100"
        " (doublon probable, montant inhabituel, quantité anormalement élevée)"
    )


def test_thresholds_come_from_the_insurer_config():
    history = [RecentClaim(DAY - timedelta(days=2), "P-2", "pharmacy", ("PH0056",), 5_000)]
    serum = [item("PH0056", 1, 4_200)]
    config = {**INSURER_CONFIG, "fraud": {"review_threshold": 50, "block_threshold": 90}}
    result = adjudicate(context(config=config, fraud=FraudContext(recent_claims=history)), serum)
    assert result.fraud_score == 40
    assert result.status == "approved"
    config = {**INSURER_CONFIG, "fraud": {"review_threshold": 10, "block_threshold": 40}}
    result = adjudicate(context(config=config, fraud=FraudContext(recent_claims=history)), serum)
    assert result.status == "blocked"


def test_hospitalization_waits_for_the_insurer_unless_auto_approved():
    stay = [item("CH-J", 3, 180_000), item("KC100", 1, 400_000)]
    result = adjudicate(context("hospitalization"), stay)
    assert result.status == "pending_review"
    assert result.reason_code == "PRIOR_APPROVAL"
    assert result.reason == "Hospitalisation : accord préalable de l'assureur requis (prise en charge)"
    assert result.covered_amount == 324_000 + 360_000
    auto = {**INSURER_CONFIG, "hospitalization_auto_approve": True}
    assert adjudicate(context("hospitalization", config=auto), stay).status == "approved"


def test_annual_limit_partial_approval():
    ctx = context(terms=terms(annual_limit=1_000_000), used_this_year=994_000)
    result = adjudicate(ctx, [item(), item("PH0003", 1, 5_000)])
    assert result.status == "approved"
    assert result.reason_code == "LIMIT_PARTIAL"
    assert result.covered_amount == 6_000
    assert result.reason == (
        "Prise en charge partielle : plafond annuel atteint (6,000 TND restent à la charge de l'adhérent)"
    )
    assert [line.reason_codes[0] for line in result.lines] == ["LIMIT_PARTIAL", "LIMIT_PARTIAL"]
    assert result.eligibility.remaining == 6_000


def test_convention_version_recorded():
    convention = {"version": "CONV-STAR-PH-2026", "tariffs": {"PH0001": 4_800}}
    result = adjudicate(context(convention=convention), [item()])
    assert result.bareme_version == "CONV-STAR-PH-2026"
    assert result.lines[0].rule_applied == "Tarif conventionnel 4,800 TND appliqué, taux du contrat 80 %"


def test_invalid_items_raise_with_every_error():
    with pytest.raises(InvalidClaimError) as info:
        adjudicate(context(), [item(quantity=0), ItemInput("", "x", 1, 100)])
    error = info.value
    assert isinstance(error, DomainError)
    assert [(e.line, e.field) for e in error.errors] == [(1, "quantity"), (2, "code")]
    assert "Ligne 1 : la quantité" in str(error)
    with pytest.raises(InvalidClaimError):
        adjudicate(context(), [])


def test_malformed_settings_raise_config_errors():
    with pytest.raises(ConfigError):
        adjudicate(context(config={"fraud": {"review_threshold": "x"}}), [item()])
    with pytest.raises(ConfigError):
        adjudicate(context(terms=terms(exclusions=[3])), [item()])
    with pytest.raises(ConfigError):
        adjudicate(context(convention={"rates": {"pharmacy": 200}}), [item()])


def test_as_dict_is_json_ready():
    data = json.loads(json.dumps(adjudicate(context(), [item()]).as_dict()))
    assert data["status"] == "approved"
    assert data["lines"][0]["covered"] == 8_000
    assert data["eligibility"]["reason_code"] == "ELIGIBLE"
    assert data["fraud_flags"] == []
