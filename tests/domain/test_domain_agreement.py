"""Approve in part: the engine recomputes the agreed lines; the claim keeps what was asked and balances."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dhamen.domain.adjudication import ClaimContext, ContractTerms, Tariffs, adjudicate
from dhamen.domain.agreement import AgreementError, LineAgreement, StoredLine, decide_lines, pinned_tariffs
from dhamen.domain.coverage import ItemInput

DAY = date(2026, 3, 12)
TERMS = ContractTerms(id="C", status="active", start_date=date(2026, 1, 1), end_date=date(2026, 12, 31),
                      carence_days=0, annual_limit=None,
                      coverage={"hospitalization": {"rate": 90, "room_day_cap": 120_000},
                                "pharmacy": {"rate": 80}}, exclusions=[])
CONFIG = {"bareme_version": "B-1", "bareme": {"hospitalization": {"BLOC": 350_000}}}


def ctx(**over):
    values = dict(care_type="hospitalization", care_date=DAY, terms=TERMS, tariffs=Tariffs.from_configs(CONFIG),
                  used_this_year=0, insurer_config={})
    values.update(over)
    return ClaimContext(**values)


def stored(ctx_, items):
    """Lines as the counter stored them (priced once by the engine)."""
    result = adjudicate(ctx_, items)
    return [StoredLine(line.code, line.label, line.quantity, line.unit_price, line.is_generic, line.category,
                       line.capped_unit_price, line.reason_codes) for line in result.lines], result


ITEMS = [ItemInput("CH-J", "Chambre", 4, 150_000, category="chambre"), ItemInput("BLOC", "Bloc", 1, 400_000)]


def test_without_agreement_the_recompute_gives_the_original_pricing():
    lines, original = stored(ctx(), ITEMS)
    again = decide_lines(ctx(tariffs=pinned_tariffs(lines, original.bareme_version, None, "hospitalization")), lines)
    assert [(x.covered, x.copay, x.capped_unit_price) for x in again.lines] == \
           [(x.covered, x.copay, x.capped_unit_price) for x in original.lines]
    assert again.covered_amount == original.covered_amount == 4 * 108_000 + 315_000
    assert [x.rule_applied for x in again.lines] == [x.rule_applied for x in original.lines]
    assert again.bareme_version == original.bareme_version == "B-1"


def test_pinned_tariffs_keep_each_source_and_version():
    convention = {"version": "CONV-1", "tariffs": {"CH-J": 110_000}, "rates": {"hospitalization": 85}}
    base = ctx(tariffs=Tariffs.from_configs(CONFIG, convention))
    lines, original = stored(base, ITEMS)
    assert original.bareme_version == "CONV-1/B-1"
    pinned = pinned_tariffs(lines, original.bareme_version, convention, "hospitalization")
    again = decide_lines(ctx(tariffs=pinned), lines)
    assert [x.rule_applied for x in again.lines] == [x.rule_applied for x in original.lines]
    assert again.bareme_version == "CONV-1/B-1" and again.covered_amount == original.covered_amount


def test_the_barème_changed_since_pricing_does_not_apply():
    lines, original = stored(ctx(), ITEMS)
    newer = ctx(tariffs=Tariffs.from_configs({"bareme_version": "B-2", "bareme": {"hospitalization": {"BLOC": 100}}}))
    pinned = pinned_tariffs(lines, original.bareme_version, None, "hospitalization")
    assert decide_lines(ctx(tariffs=pinned), lines).covered_amount == original.covered_amount
    assert decide_lines(newer, lines).covered_amount != original.covered_amount


def test_agreed_quantity_price_and_refused_line():
    lines, _ = stored(ctx(), [*ITEMS, ItemInput("ANE", "Anesthésie", 1, 250_000)])
    result = decide_lines(ctx(), lines, [LineAgreement(0, quantity=2, reason="2 nuits"),
                                         LineAgreement(1, unit_price=300_000, reason="négocié"),
                                         LineAgreement(2, quantity=0, reason="non justifiée")])
    room, bloc, ane = result.lines
    assert (room.quantity, room.line_total, room.covered) == (4, 600_000, 2 * 108_000)
    assert (bloc.unit_price, bloc.covered) == (400_000, 270_000)
    assert (ane.covered, ane.copay, ane.reason_codes) == (0, 250_000, ("AGENT_LINE_REFUSED",))
    assert result.total_amount == 1_250_000 and result.covered_amount == 486_000
    assert result.copay_amount == 1_250_000 - 486_000
    assert room.reason_codes[0] == "AGENT_AGREED" and "2 × 150,000 TND au lieu de 4 × 150,000 TND" in room.rule_applied


def test_annual_limit_is_rechecked():
    lines, _ = stored(ctx(), ITEMS)
    limited = ctx(terms=ContractTerms(id="C", status="active", start_date=date(2026, 1, 1), end_date=date(2026, 12, 31),
                                carence_days=0, annual_limit=500_000, coverage=TERMS.coverage, exclusions=[]),
                  used_this_year=400_000)
    result = decide_lines(limited, lines, [LineAgreement(1, quantity=0, reason="non")])
    assert result.covered_amount == 100_000
    assert "LIMIT_PARTIAL" in result.lines[0].reason_codes


@pytest.mark.parametrize(("agreement", "message"), [
    (LineAgreement(0, quantity=5, reason="x"), "entre 0 et la quantité demandée (4)"),
    (LineAgreement(0, unit_price=200_000, reason="x"), "compris entre 0,001 et le prix demandé"),
    (LineAgreement(0, quantity=2, reason=" "), "indiquez le motif"),
    (LineAgreement(9, quantity=1, reason="x"), "Ligne 10 : cette ligne n'existe pas"),
])
def test_bad_agreements_are_refused(agreement, message):
    lines, _ = stored(ctx(), ITEMS)
    with pytest.raises(AgreementError) as exc:
        decide_lines(ctx(), lines, [agreement])
    assert message in str(exc.value)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 9), st.integers(1, 900_000), st.integers(0, 9), st.integers(0, 900_000)),
                min_size=1, max_size=6),
       st.one_of(st.none(), st.integers(0, 3_000_000)), st.integers(0, 2_000_000))
def test_every_decision_balances_to_the_millime(rows, limit, used):
    items = [ItemInput(f"X{i}", "acte", q, p) for i, (q, p, _aq, _ap) in enumerate(rows)]
    base = ctx(terms=ContractTerms(id="C", status="active", start_date=date(2026, 1, 1),
                                   end_date=date(2026, 12, 31), carence_days=0, annual_limit=limit,
                                   coverage=TERMS.coverage, exclusions=[]), used_this_year=used)
    lines, _ = stored(ctx(), items)
    agreements = [LineAgreement(i, quantity=min(aq, q), unit_price=max(1, min(ap, p)), reason="accord")
                  for i, (q, p, aq, ap) in enumerate(rows)]
    result = decide_lines(base, lines, agreements)
    assert all(x.covered + x.copay == x.line_total == x.quantity * x.unit_price for x in result.lines)
    assert all(x.covered >= 0 for x in result.lines)
    assert result.total_amount == sum(q * p for q, p, _a, _b in rows)
    assert result.covered_amount + result.copay_amount == result.total_amount
    for x, (q, p, aq, ap) in zip(result.lines, rows, strict=True):
        assert x.covered <= min(aq, q) * max(1, min(ap, p))  # never more than agreed
    if limit is not None:
        assert result.covered_amount <= max(0, limit - used)
