"""Approve in part, the two line words besides quantity and price: an agreed price for a line sent hors
nomenclature, and an early-refill reason accepted or refused.  Recomputed by the engine, balanced."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dhamen.domain import reasons
from dhamen.domain.adjudication import ClaimContext, ContractTerms, Tariffs, adjudicate
from dhamen.domain.agreement import (
    AgreementError,
    LineAgreement,
    StoredLine,
    check_agreements,
    decide_lines,
    was_submitted,
)
from dhamen.domain.coverage import ItemInput
from dhamen.domain.money import apply_rate

DAY = date(2026, 3, 12)
TERMS = ContractTerms(id="C", status="active", start_date=date(2026, 1, 1), end_date=date(2026, 12, 31),
                      carence_days=0, annual_limit=None, coverage={"pharmacy": {"rate": 80}}, exclusions=[])
CONFIG = {"bareme_version": "B-1", "bareme": {"pharmacy": {"PH0009": 2_100}}}
ITEMS = [ItemInput("XX-777", "Produit importé", 2, 20_000), ItemInput("PH0009", "Doliprane", 1, 2_100)]


def ctx(**over):
    values = dict(care_type="pharmacy", care_date=DAY, terms=TERMS, tariffs=Tariffs.from_configs(CONFIG),
                  used_this_year=0, insurer_config={}, submitted=True)
    values.update(over)
    return ClaimContext(**values)


def stored(result) -> list[StoredLine]:
    return [StoredLine(line.code, line.label, line.quantity, line.unit_price, line.is_generic, line.category,
                       line.capped_unit_price, line.reason_codes) for line in result.lines]


def balanced(result) -> None:
    assert all(line.covered + line.copay == line.line_total for line in result.lines)
    assert result.total_amount == sum(line.line_total for line in result.lines)
    assert result.covered_amount == sum(line.covered for line in result.lines)
    assert result.copay_amount == result.total_amount - result.covered_amount


def test_a_line_hors_nomenclature_is_covered_at_the_agreed_price():
    original = adjudicate(ctx(), ITEMS)
    assert original.status == "pending_review" and original.lines[0].covered == 0
    lines = stored(original)
    assert lines[0].hors_nomenclature and not lines[1].hors_nomenclature
    result = decide_lines(ctx(), lines, [LineAgreement(0, agreed_price=15_000, reason="Prix du fournisseur")])
    first = result.lines[0]
    assert first.covered == apply_rate(2 * 15_000, 8000) == 24_000
    assert (first.quantity, first.unit_price, first.line_total, first.copay) == (2, 20_000, 40_000, 16_000)
    assert first.capped_unit_price == 15_000
    assert first.reason_codes[:1] == (reasons.AGENT_AGREED,) and reasons.AGREED_TARIFF in first.reason_codes
    assert "prix accordé 15,000 TND pour une ligne hors nomenclature (Prix du fournisseur)" in first.rule_applied
    assert {"category": "agreed", "amount": 40_000, "value_bp": None, "quantity": 2, "unit_price": 20_000,
            "agreed_unit_price": 15_000} in first.adjudication
    assert result.lines[1].covered == apply_rate(2_100, 8000)
    balanced(result)


def test_without_an_agreed_price_the_hors_nomenclature_line_stays_at_zero():
    lines = stored(adjudicate(ctx(), ITEMS))
    result = decide_lines(ctx(), lines)
    assert result.lines[0].covered == 0
    assert "aucun prix accordé par l'assureur : non pris en charge" in result.lines[0].rule_applied
    assert "soumis à l'assureur" not in result.lines[0].rule_applied
    balanced(result)


def test_the_annual_limit_is_rechecked_with_the_agreed_price():
    lines = stored(adjudicate(ctx(), ITEMS))
    limited = replace(TERMS, annual_limit=100_000)
    result = decide_lines(ctx(terms=limited, used_this_year=90_000), lines,
                          [LineAgreement(0, agreed_price=15_000, reason="Prix du fournisseur")])
    assert result.covered_amount == 10_000
    assert any(reasons.LIMIT_PARTIAL in line.reason_codes for line in result.lines)
    balanced(result)


@pytest.mark.parametrize(("agreement", "message"), [
    (LineAgreement(1, agreed_price=2_000, reason="x"), "ne s'applique qu'à une ligne hors nomenclature"),
    (LineAgreement(0, agreed_price=25_000, reason="x"), "le prix accordé doit être compris entre 0,001 et le prix "
                                                        "demandé (20,000 TND)"),
    (LineAgreement(0, agreed_price=0, reason="x"), "le prix accordé doit être compris"),
    (LineAgreement(0, agreed_price=10_000, unit_price=15_000, reason="x"), "pas les deux"),
    (LineAgreement(0, agreed_price=10_000), "indiquez le motif"),
    (LineAgreement(1, override="accept", reason="x"), "pas de renouvellement anticipé sur cette ligne"),
])
def test_bad_words_on_a_line_are_refused_in_french(agreement, message):
    lines = stored(adjudicate(ctx(), ITEMS))
    with pytest.raises(AgreementError) as caught:
        decide_lines(ctx(), lines, [agreement])
    assert message in str(caught.value)
    assert caught.value.errors[0].line == agreement.position + 1


# -- early refill -----------------------------------------------------------------------------------

REFILL = [StoredLine("PH0026", "Glucophage", 1, 5_900, False, None, 5_900,
                     (reasons.REFILL_TOO_SOON, reasons.CATALOGUE_TARIFF, reasons.CONTRACT_RATE)),
          StoredLine("PH0009", "Doliprane", 2, 2_100, False, None, 2_100,
                     (reasons.BAREME_TARIFF, reasons.CONTRACT_RATE))]


def test_an_accepted_refill_is_covered_by_the_usual_rules():
    result = decide_lines(ctx(), REFILL, [LineAgreement(0, override="accept", reason="Voyage justifié")])
    line = result.lines[0]
    assert line.covered == apply_rate(5_900, 8000) and line.reason_codes[0] == reasons.REFILL_ACCEPTED
    assert line.rule_applied.startswith("Accord de l'assureur : renouvellement anticipé accepté (Voyage justifié)")
    balanced(result)


def test_a_refused_refill_is_not_covered():
    result = decide_lines(ctx(), REFILL, [LineAgreement(0, override="refuse", reason="Traitement en cours")])
    line = result.lines[0]
    assert (line.covered, line.copay, line.reason_codes) == (0, 5_900, (reasons.REFILL_REFUSED,))
    assert line.rule_applied == "Renouvellement anticipé refusé par l'assureur : Traitement en cours"
    assert result.lines[1].covered == apply_rate(2 * 2_100, 8000)
    balanced(result)


def test_a_plain_approval_accepts_the_refill_and_a_partial_one_must_say():
    plain = decide_lines(ctx(), REFILL)
    assert plain.lines[0].reason_codes[0] == reasons.REFILL_ACCEPTED and plain.lines[0].covered == 4_720
    with pytest.raises(AgreementError) as caught:
        decide_lines(ctx(), REFILL, [LineAgreement(1, quantity=1, reason="Une boîte")])
    assert "Ligne 1 (PH0026) : acceptez ou refusez le motif du renouvellement anticipé" in str(caught.value)
    refused_line = decide_lines(ctx(), REFILL, [LineAgreement(0, quantity=0, reason="Non")])
    assert refused_line.lines[0].reason_codes == (reasons.AGENT_LINE_REFUSED,)


@pytest.mark.parametrize(("agreement", "message"), [
    (LineAgreement(0, override="maybe", reason="x"), "accepté ou refusé (accept ou refuse) attendu"),
    (LineAgreement(0, override="refuse", quantity=1, reason="x"), "ne saisissez ni quantité ni prix"),
    (LineAgreement(0, override="accept"), "indiquez le motif"),
])
def test_bad_refill_words_are_refused(agreement, message):
    with pytest.raises(AgreementError) as caught:
        check_agreements(REFILL, [agreement])
    assert message in str(caught.value)


def test_a_line_held_above_the_line_ceiling_is_accepted_as_it_stands():
    config = {"ceilings": {"line": {"pharmacy": 30_000}}}
    original = adjudicate(ctx(insurer_config=config), [ItemInput("PH0009", "Doliprane", 20, 2_100)])
    assert original.status == "pending_review" and original.lines[0].held == reasons.LINE_CEILING
    result = decide_lines(ctx(insurer_config=config), stored(original))
    line = result.lines[0]
    assert line.covered == original.lines[0].covered == apply_rate(42_000, 8000)
    assert line.reason_codes[0] == reasons.AGENT_ACCEPTED and "accepté par l'assureur" in line.rule_applied


def test_held_lines_not_sent_to_the_insurer_stay_as_the_counter_was_told():
    # above the claim ceiling (review), one line above the line ceiling, not submitted: that line is paid 0
    config = {"ceilings": {"line": {"pharmacy": 30_000}, "claim": {"pharmacy": 40_000}}}
    items = [ItemInput("PH0009", "Doliprane", 20, 2_100), ItemInput("PH0026", "Glucophage", 4, 5_900)]
    original = adjudicate(ctx(insurer_config=config, submitted=False), items)
    assert original.status == "pending_review" and original.reason_code == reasons.CLAIM_CEILING
    assert original.lines[0].covered == 0 and not was_submitted([x.rule_applied for x in original.lines])
    again = decide_lines(ctx(insurer_config=config, submitted=False), stored(original))
    assert [x.covered for x in again.lines] == [x.covered for x in original.lines]
    assert reasons.AGENT_ACCEPTED not in again.lines[0].reason_codes
    sent = adjudicate(ctx(insurer_config=config), items)
    assert was_submitted([x.rule_applied for x in sent.lines]) and sent.lines[0].covered == apply_rate(42_000, 8000)


def test_an_early_refill_not_sent_to_the_insurer_is_not_paid_by_a_plain_approval():
    # waiting for another reason (a fraud score, say), the refill line held at 0, no override reason given
    held = [replace(REFILL[0], covered=0), replace(REFILL[1], covered=3_360)]
    plain = decide_lines(ctx(submitted=False), held)
    assert plain.lines[0].covered == 0 and plain.lines[0].reason_codes[0] == reasons.REFILL_TOO_SOON
    assert "renouvellement anticipé non soumis à l'assureur" in plain.lines[0].rule_applied
    assert plain.lines[1].covered == 3_360
    balanced(plain)
    accepted = decide_lines(ctx(submitted=False), held, [LineAgreement(0, override="accept", reason="Vu")])
    assert accepted.lines[0].covered == 4_720  # the agent's word, explicitly


def test_a_quantity_limit_over_a_period_is_kept_when_not_sent():
    line = StoredLine("PH0009", "Doliprane", 5, 2_100, False, None, 2_100,
                      (reasons.QUANTITY_LIMIT, reasons.BAREME_TARIFF, reasons.CONTRACT_RATE), covered=5_040)
    result = decide_lines(ctx(submitted=False), [line])
    assert result.lines[0].covered == 5_040 and result.lines[0].reason_codes[0] == reasons.QUANTITY_LIMIT
    balanced(result)
    sent = decide_lines(ctx(), [line])  # sent to the insurer: the approval pays what was asked
    assert sent.lines[0].covered == apply_rate(5 * 2_100, 8000)


@settings(max_examples=60, deadline=None)
@given(agreed=st.integers(1, 20_000), qty=st.integers(0, 2), limit=st.one_of(st.none(), st.integers(0, 60_000)),
       refill=st.sampled_from(["accept", "refuse"]))
def test_any_agreement_balances_and_stays_within_what_was_agreed_and_the_limit(agreed, qty, limit, refill):
    lines = [*stored(adjudicate(ctx(), ITEMS)), REFILL[0]]
    terms = replace(TERMS, annual_limit=limit)
    agreements = [LineAgreement(0, agreed_price=agreed, quantity=qty if qty < 2 else None, reason="r"),
                  LineAgreement(2, override=refill, reason="r")]
    result = decide_lines(ctx(terms=terms), lines, agreements)
    balanced(result)
    assert result.lines[0].covered <= apply_rate((qty if qty < 2 else 2) * agreed, 8000)
    if refill == "refuse":
        assert result.lines[2].covered == 0
    if limit is not None:
        assert result.covered_amount <= limit
