"""The rate and tariff that apply to a line: one answer for pricing and for the rights panel."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dhamen.domain import catalogue
from dhamen.domain.coverage import (
    ItemInput,
    Tariffs,
    applicable_tariff,
    benefits_under,
    parse_convention,
    price_claim,
    tariff_items,
    with_tariffs,
)
from dhamen.domain.eligibility import parse_coverage

COVERAGE = {"pharmacy": {"rate": 80, "generic_rate": 90}, "lab": {"rate": 80}, "consultation": {"rate": 70}}
percent = st.integers(min_value=0, max_value=100)


def test_benefits_under_a_convention_take_its_rates():
    benefits = benefits_under(parse_coverage(COVERAGE), {"rates": {"lab": 85}, "generic_rate": 95})
    assert benefits["lab"].rate_bp == 8500 and benefits["pharmacy"].rate_bp == 8000
    assert benefits["pharmacy"].generic_rate_bp == 9500
    assert benefits["hospitalization"].covered is False
    assert benefits_under(parse_coverage(COVERAGE), None) == parse_coverage(COVERAGE)


@settings(deadline=None)  # a shared, busy machine: no per-example time limit
@given(contract=percent, contract_generic=st.none() | percent, conv=st.none() | percent,
       conv_generic=st.none() | percent, generic=st.booleans())
def test_the_panel_rate_is_the_rate_a_line_gets(contract, contract_generic, conv, conv_generic, generic):
    coverage = {"pharmacy": {"rate": contract, **({"generic_rate": contract_generic} if contract_generic is not None
                                                   else {})}}
    convention = {**({"rates": {"pharmacy": conv}} if conv is not None else {}),
                  **({"generic_rate": conv_generic} if conv_generic is not None else {})}
    shown = benefits_under(parse_coverage(coverage), convention)["pharmacy"]
    priced = price_claim("pharmacy", [ItemInput("PH0001", "", 1, 10_000, generic)], parse_coverage(coverage)["pharmacy"],
                         (), Tariffs({}, None, convention), None)
    # For a catalogue code the nomenclature decides whether it is a generic, whatever the counter says.
    is_generic = catalogue.find("pharmacy", "PH0001").is_generic
    expected = shown.generic_rate_bp if is_generic and shown.generic_rate_bp is not None else shown.rate_bp
    assert priced.lines[0].rate_bp == expected


def test_applicable_tariff_convention_first_then_bareme():
    convention = parse_convention({"tariffs": {"PH0001": 5_320}})
    assert applicable_tariff("PH0001", {"PH0001": 5_600}, convention) == (5_320, "convention")
    assert applicable_tariff("PH0002", {"PH0002": 900}, convention) == (900, "bareme")
    assert applicable_tariff("PH0003", {}, None) == (None, None)


def test_with_tariffs_prefills_the_tariff_not_the_reference_price():
    tariffs = tariff_items("consultation", {"consultation": {"C1": 45_000}}, {"tariffs": {"C1": 42_750}})
    [c1] = with_tariffs([catalogue.find("consultation", "C1")], tariffs)
    assert c1.unit_price == 42_750 and c1.label == catalogue.find("consultation", "C1").label
    [c2] = with_tariffs([catalogue.find("consultation", "C2")], tariffs)
    assert c2.unit_price == catalogue.find("consultation", "C2").unit_price
