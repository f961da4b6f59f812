"""The structured coverage form builds exactly what the eligibility parser accepts (no Flask)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dhamen.admin.coverage_form import coverage_from_form, exclusions_from_text, form_from_coverage
from dhamen.domain.catalogue import CARE_TYPES
from dhamen.domain.eligibility import parse_coverage

rates = st.integers(0, 10_000)  # basis points
entries = st.fixed_dictionaries({"rate": rates}, optional={"generic_rate": rates,
                                                           "room_day_cap": st.integers(1, 10_000_000)})


def _percent(bp: int) -> str:
    whole, rest = divmod(bp, 100)
    return str(whole) if not rest else f"{whole},{rest:02d}"


@settings(deadline=None)  # a loaded CI box must not fail a correct round trip
@given(st.dictionaries(st.sampled_from(CARE_TYPES), entries, min_size=1))
def test_form_round_trip_keeps_every_rate_and_cap(chosen):
    coverage = {care: {"rate": _percent(e["rate"]).replace(",", "."),
                       **({"generic_rate": _percent(e["generic_rate"]).replace(",", ".")} if "generic_rate" in e else {}),
                       **({"room_day_cap": e["room_day_cap"]} if "room_day_cap" in e and care == "hospitalization"
                          else {})}
                for care, e in chosen.items()}
    built, errors = coverage_from_form(form_from_coverage(coverage))
    assert errors == []
    before, after = parse_coverage(coverage), parse_coverage(built)
    assert before == after


def test_errors_name_the_care_type_and_the_field():
    _, errors = coverage_from_form({"lab_covered": "on", "lab_rate": "80,123"})
    assert errors and errors[0].startswith("Couverture Analyses de laboratoire, taux :")
    _, errors = coverage_from_form({"hospitalization_covered": "on", "hospitalization_rate": "90",
                                    "hospitalization_room_day_cap": "-5"})
    assert errors[0].startswith("Couverture Hospitalisation, plafond journalier de chambre :")
    assert coverage_from_form({"pharmacy_rate": "80"}) == ({}, ["Couverture : cochez au moins un type de soin couvert."])


def test_unchecked_care_type_is_not_covered_even_with_a_rate():
    built, errors = coverage_from_form({"pharmacy_covered": "on", "pharmacy_rate": "80", "lab_rate": "70"})
    assert built == {"pharmacy": {"rate": 80}} and not errors


def test_exclusions_one_per_line_or_separated():
    assert exclusions_from_text(" PH0057 ; KC*\n\ncat:confort, ") == (["PH0057", "KC*", "cat:confort"], [])
    assert exclusions_from_text("*")[1] == ["Exclusions : Exclusion n° 1 « * » : motif vide."]
