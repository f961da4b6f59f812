"""Issue 9, in the engine: nothing is paid that the insurer does not owe.

Each test replays one of the requests of the issue against the domain engine;
the service/API tests replay them through the claims API.
"""

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dhamen.domain import reasons
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
from dhamen.domain.catalogue import find, reference_bareme
from dhamen.domain.config import parse_insurer_config
from dhamen.domain.errors import ConfigError
from dhamen.domain.fraud import usual_amount_of
from dhamen.domain.money import apply_rate

DAY = date(2026, 6, 15)
COVERAGE = {
    "pharmacy": {"rate": 80, "generic_rate": 95},
    "consultation": {"rate": 70},
    "lab": {"rate": 80},
    "hospitalization": {"rate": 90},
}
CONFIG = {"bareme_version": "STAR-2026.1", "bareme": reference_bareme()}


def terms(**changes):
    values = {
        "id": "CT-STAR",
        "status": "active",
        "start_date": date(2026, 1, 1),
        "end_date": date(2026, 12, 31),
        "coverage": COVERAGE,
        "exclusions": ["cat:cosmetique"],
    }
    values.update(changes)
    return ContractTerms(**values)


def context(care_type="pharmacy", config=CONFIG, history=(), **changes):
    values = {
        "care_type": care_type,
        "care_date": DAY,
        "terms": terms(),
        "tariffs": Tariffs.from_configs(config),
        "fraud": FraudContext(recent_claims=tuple(history), provider_id="P-1"),
        "insurer_config": config,
    }
    values.update(changes)
    return ClaimContext(**values)


def item(code, quantity=1, unit_price=None, is_generic=False, category=None):
    if unit_price is None:
        unit_price = find("pharmacy", code).unit_price
    return ItemInput(code, "", quantity, unit_price, is_generic, category)


def past(days, codes, care_type="pharmacy", quantities=(), contract="CT-STAR", provider="P-2"):
    return RecentClaim(DAY - timedelta(days=days), provider, care_type, tuple(codes), 10_000, contract,
                       tuple(quantities))


# -- 1. ceilings and quantity limits --------------------------------------------------------


def test_fifty_lines_of_lantus_times_999_pay_nothing():
    result = adjudicate(context(), [item("PH0029", 999)] * 50)
    assert result.covered_amount == 0
    assert result.status == "rejected"
    assert result.reason_code == reasons.LINE_CEILING
    assert "soumettre la demande à l'assureur" in result.reason
    assert all(line.held == reasons.LINE_CEILING for line in result.lines)


def test_500_units_over_fifty_lines_wait_for_the_insurer():
    result = adjudicate(context(), [item("PH0029", 10)] * 50)
    assert result.status == "pending_review"
    assert result.reason_code == reasons.CLAIM_CEILING
    assert "au-delà du plafond par demande (2\u202f000,000 TND)" in result.reason
    # quantities are summed per code across the claim
    quantity = next(flag for flag in result.fraud_flags if flag["code"] == reasons.HIGH_QUANTITY)
    assert "PH0029 (quantité 500)" in quantity["message"]


def test_ceilings_come_from_the_insurer_settings():
    config = {**CONFIG, "ceilings": {"line": 5_000_000, "claim": {"pharmacy": 60_000_000}}}
    result = adjudicate(context(config=config), [item("PH0029", 10)] * 50)
    assert result.status == "approved"
    assert result.covered_amount == 50 * apply_rate(980_000, 8000)


def test_a_consultation_is_paid_once_per_visit_and_once_a_day():
    ctx = context("consultation")
    result = adjudicate(ctx, [ItemInput("C1", "", 3, 45_000)])
    assert result.covered_amount == apply_rate(45_000, 7000)
    assert result.lines[0].held == reasons.QUANTITY_LIMIT
    assert "une fois par demande" in result.lines[0].rule_applied
    assert result.reason_code == reasons.LINES_REFUSED
    same_day = context("consultation", history=[past(0, ["C1"], "consultation")])
    result = adjudicate(same_day, [ItemInput("C1", "", 1, 45_000)])
    assert result.covered_amount == 0 and result.status == "rejected"
    assert result.reason_code == reasons.QUANTITY_LIMIT
    assert "une fois par jour" in result.lines[0].rule_applied


def test_the_insurer_can_change_an_acts_limit():
    config = {**CONFIG, "quantity_limits": {"K5": {"quantity": 2, "days": 1}}}
    result = adjudicate(context("consultation", config=config), [ItemInput("K5", "", 3, 25_000)])
    assert result.covered_amount == apply_rate(2 * 25_000, 7000)
    assert "2 par jour selon l'assureur" in result.lines[0].rule_applied


def test_an_analysis_is_paid_once_per_claim():
    result = adjudicate(context("lab"), [ItemInput("B-NFS", "", 1, 12_000)] * 4)
    assert result.covered_amount == apply_rate(12_000, 8000)


def test_insurer_quantity_limit_per_code_and_period():
    config = {**CONFIG, "quantity_limits": {"PH0056": {"quantity": 4, "days": 30}}}
    history = [past(20, ["PH0056"], quantities=[3])]
    result = adjudicate(context(config=config, history=history), [item("PH0056", 3)])
    assert result.lines[0].covered == apply_rate(4_200, 8000)  # one unit left in the period
    assert "4 par période de 30 jours" in result.lines[0].rule_applied


# -- 2. codes without a tariff ------------------------------------------------------------


def test_invented_code_at_any_price_is_hors_nomenclature():
    result = adjudicate(context(), [ItemInput("XX-INVENTED", "", 999, 9_999_999)])
    assert result.covered_amount == 0
    assert result.status == "rejected"
    assert result.reason_code == reasons.NO_TARIFF
    assert "XX-INVENTED : hors nomenclature" in result.reason


def test_cosmetic_under_an_invented_code_is_not_covered():
    result = adjudicate(context(), [ItemInput("CREME-X", "Crème solaire", 1, 38_000, True, "vitamine")])
    assert result.covered_amount == 0


def test_pharmacy_billing_a_consultation_act_is_not_covered():
    result = adjudicate(context(), [ItemInput("C1", "Consultation", 1, 45_000)])
    assert result.covered_amount == 0
    assert result.lines[0].held == reasons.NO_TARIFF


def test_hors_nomenclature_submitted_waits_for_an_agreed_price():
    lines = [ItemInput("XX-1", "", 1, 20_000), item("PH0056")]
    submitted = adjudicate(context(submitted=True), lines)
    assert submitted.status == "pending_review"
    assert submitted.reason_code == reasons.SUBMITTED
    assert [line.covered for line in submitted.lines] == [0, apply_rate(4_200, 8000)]
    agreed = adjudicate(context(), [replace(lines[0], agreed_unit_price=15_000), lines[1]])
    assert agreed.status == "approved"
    assert agreed.lines[0].covered == apply_rate(15_000, 8000)
    assert agreed.lines[0].reason_codes[:2] == (reasons.PRICE_CAPPED, reasons.AGREED_TARIFF)


def test_catalogue_code_outside_the_bareme_is_capped_at_its_catalogue_price():
    result = adjudicate(context(config={}), [item("PH0003", 1, 50_000)])
    line = result.lines[0]
    assert line.capped_unit_price == 13_500
    assert reasons.CATALOGUE_TARIFF in line.reason_codes


# -- 3. generic flag --------------------------------------------------------------------


def test_ticking_generic_on_a_princeps_changes_nothing():
    honest = adjudicate(context(), [item("PH0005")])
    ticked = adjudicate(context(), [item("PH0005", is_generic=True)])
    assert ticked.covered_amount == honest.covered_amount == apply_rate(14_600, 8000)
    assert ticked.lines[0].is_generic is False
    assert reasons.GENERIC_CORRECTED in ticked.lines[0].reason_codes
    assert "princeps (non générique) selon la nomenclature" in ticked.lines[0].rule_applied


def test_a_generic_gets_the_generic_rate_even_unticked():
    result = adjudicate(context(), [item("PH0006")])
    assert result.lines[0].covered == apply_rate(7_800, 9500)
    assert result.lines[0].is_generic is True


# -- 4. history both ways ---------------------------------------------------------------


def test_claims_entered_newest_first_see_each_other():
    # a claim dated yesterday, entered after today's: the duplicate rule sees today's claim
    history = [past(-1, ["PH0056"])]
    result = adjudicate(context(history=history), [item("PH0056")])
    assert reasons.DUPLICATE in [flag["code"] for flag in result.fraud_flags]
    assert result.status == "pending_review"


# -- 5. refill too soon -----------------------------------------------------------------


def test_same_drug_again_the_same_day_is_an_early_refill():
    history = [past(0, ["PH0026"], quantities=[1], provider="P-9")]
    result = adjudicate(context(history=history), [item("PH0026")])
    assert result.status == "rejected"
    assert result.reason_code == reasons.REFILL_TOO_SOON
    assert "pris en charge à partir du 08/07/2026" in result.reason  # 30 days x 75 % = 23 days
    assert "voyage, perte ou vol, changement de posologie, urgence" in result.reason


def test_refill_after_three_quarters_of_the_supply_is_paid():
    assert adjudicate(context(history=[past(23, ["PH0026"], quantities=[1])]), [item("PH0026")]).status == (
        "approved"
    )
    held = adjudicate(context(history=[past(22, ["PH0026"], quantities=[1])]), [item("PH0026")])
    assert held.lines[0].held == reasons.REFILL_TOO_SOON


def test_refill_threshold_and_packs_count():
    config = {**CONFIG, "refill_threshold": 50}
    history = [past(40, ["PH0026"], quantities=[3])]  # 90 days dispensed 40 days ago
    assert adjudicate(context(config=config, history=history), [item("PH0026")]).lines[0].held == (
        reasons.REFILL_TOO_SOON
    )
    history = [past(45, ["PH0026"], quantities=[3])]
    assert adjudicate(context(config=config, history=history), [item("PH0026")]).status == "approved"


def test_back_dated_dispensing_before_an_existing_one_is_held_too():
    history = [past(-5, ["PH0026"], quantities=[1])]  # dispensed 5 days after this care date
    result = adjudicate(context(history=history), [item("PH0026")])
    assert result.lines[0].held == reasons.REFILL_TOO_SOON
    assert "déjà délivré le 20/06/2026" in result.reason


def test_refill_override_sends_the_claim_to_review_with_its_reason():
    history = [past(2, ["PH0026"], quantities=[1])]
    result = adjudicate(context(history=history, override_reason="travel"), [item("PH0026")])
    assert result.status == "pending_review"
    assert result.reason_code == reasons.REFILL_OVERRIDE
    assert "motif « voyage »" in result.reason
    assert result.covered_amount == apply_rate(5_900, 8000)
    with pytest.raises(InvalidClaimError, match="Motif de renouvellement anticipé inconnu"):
        adjudicate(context(history=history, override_reason="bored"), [item("PH0026")])


# -- 6. baseline -----------------------------------------------------------------------


def test_usual_amount_is_a_median_that_one_outlier_cannot_move():
    totals = [8_100] * 30
    assert usual_amount_of(totals) == 8_100
    assert usual_amount_of([*totals, 50 * 999 * 10_000_000]) == 8_100
    assert usual_amount_of(totals[:5]) is None


# -- 7. double coverage -----------------------------------------------------------------


def test_same_prescription_under_another_contract_waits_for_review():
    history = [past(1, ["PH0056"], contract="CT-COMAR")]
    result = adjudicate(context(history=history), [item("PH0056")])
    assert result.status == "pending_review"
    assert result.reason_code == reasons.DOUBLE_COVERAGE
    assert "déjà facturés sur un autre contrat" in result.reason
    # and it is not counted as a duplicate on this contract
    assert reasons.DUPLICATE not in [flag["code"] for flag in result.fraud_flags]


# -- 8. back-dating and the last contract year ---------------------------------------------


def test_care_date_older_than_the_setting_waits_for_review():
    ctx = context(received_on=DAY + timedelta(days=31))
    result = adjudicate(ctx, [item("PH0056")])
    assert result.status == "pending_review"
    assert result.reason_code == reasons.LATE_CLAIM
    assert adjudicate(context(received_on=DAY + timedelta(days=30)), [item("PH0056")]).status == "approved"
    config = {**CONFIG, "max_care_age_days": 60}
    assert adjudicate(context(config=config, received_on=DAY + timedelta(days=31)), [item("PH0056")]).status == (
        "approved"
    )


def test_a_one_day_last_year_has_no_fresh_limit():
    from dhamen.domain.eligibility import check, contract_year

    t = terms(start_date=date(2025, 11, 20), end_date=date(2026, 11, 20), annual_limit=1_500_000)
    assert contract_year(t, date(2026, 11, 20)) == (date(2025, 11, 20), date(2026, 11, 20))
    assert contract_year(t, date(2026, 3, 1)) == (date(2025, 11, 20), date(2026, 11, 20))
    assert check(t, "pharmacy", date(2026, 11, 20), 1_500_000).reason_code == reasons.LIMIT_REACHED


# -- 9. hospital days -------------------------------------------------------------------


def stay_ctx(admission, discharge, history=(), received=DAY):
    fraud = FraudContext(recent_claims=tuple(history), stay=(admission, discharge))
    return context("hospitalization", care_date=admission, fraud=fraud, received_on=received)


def test_room_days_never_exceed_the_nights():
    with pytest.raises(InvalidClaimError, match="20 journées de chambre facturées pour un séjour de 2 nuits"):
        adjudicate(stay_ctx(DAY - timedelta(days=2), DAY), [ItemInput("CH-J", "", 20, 180_000)])
    result = adjudicate(stay_ctx(DAY - timedelta(days=2), DAY), [ItemInput("CH-J", "", 2, 180_000)])
    assert result.covered_amount > 0


def test_discharge_is_not_in_the_future():
    with pytest.raises(InvalidClaimError, match="ne peut pas être dans le futur"):
        adjudicate(stay_ctx(DAY - timedelta(days=2), DAY + timedelta(days=300)), [ItemInput("ADM", "", 1, 30_000)])


def test_overlapping_stays_are_flagged():
    other = RecentClaim(DAY - timedelta(days=3), "CLINIC-2", "hospitalization", ("CH-J",), 500_000,
                        "CT-STAR", (3,), (DAY - timedelta(days=3), DAY - timedelta(days=1)))
    result = adjudicate(stay_ctx(DAY - timedelta(days=2), DAY, [other]), [ItemInput("CH-J", "", 2, 180_000)])
    flag = next(flag for flag in result.fraud_flags if flag["code"] == reasons.OVERLAPPING_STAY)
    assert "chevauchant un autre séjour : du 12/06/2026 au 14/06/2026" in flag["message"]
    transfer = replace(other, stay=(DAY - timedelta(days=4), DAY - timedelta(days=2)))
    result = adjudicate(stay_ctx(DAY - timedelta(days=2), DAY, [transfer]), [ItemInput("CH-J", "", 2, 180_000)])
    assert reasons.OVERLAPPING_STAY not in [flag["code"] for flag in result.fraud_flags]


# -- 10. barème categories ----------------------------------------------------------------


def test_bareme_code_carries_its_category():
    config = {"bareme": {"pharmacy": {"SOL50": {"price": 38_000, "category": "cosmetique"}}}}
    result = adjudicate(context(config=config), [ItemInput("SOL50", "Solaire", 1, 38_000, False, None)])
    assert result.covered_amount == 0
    assert result.reason_code == reasons.EXCLUDED
    # a category declared at the counter cannot take it out of the exclusion
    result = adjudicate(context(config=config), [ItemInput("SOL50", "Solaire", 1, 38_000, False, "vitamine")])
    assert result.covered_amount == 0
    assert result.lines[0].category == "cosmetique"


def test_bareme_entries_are_checked():
    with pytest.raises(ConfigError, match="catégorie"):
        parse_insurer_config({"bareme": {"pharmacy": {"X": {"price": 1, "category": 3}}}})
    with pytest.raises(ConfigError, match="clé inconnue"):
        parse_insurer_config({"bareme": {"pharmacy": {"X": {"price": 1, "colour": "red"}}}})
    with pytest.raises(ConfigError, match="generic"):
        parse_insurer_config({"bareme": {"pharmacy": {"X": {"price": 1, "generic": "yes"}}}})


# -- 11. duplicate window ----------------------------------------------------------------


def test_a_long_duplicate_window_is_honoured():
    config = {**CONFIG, "fraud": {"duplicate_window_days": 60}}
    result = adjudicate(context(config=config, history=[past(45, ["PH0056"])]), [item("PH0056")])
    assert reasons.DUPLICATE in [flag["code"] for flag in result.fraud_flags]


def test_settings_are_checked_with_french_messages():
    defaults = parse_insurer_config({})
    assert defaults.refill_threshold == 75 and defaults.max_care_age_days == 30
    assert defaults.line_ceilings["pharmacy"] == 1_000_000
    assert defaults.claim_ceilings["hospitalization"] == 50_000_000
    for bad, fragment in [
        ({"ceilings": {"line": 0}}, "Plafond par ligne"),
        ({"ceilings": {"claim": {"dentist": 5}}}, "type de soin inconnu"),
        ({"ceilings": {"total": 5}}, "clé inconnue"),
        ({"quantity_limits": {"PH1": {"quantity": 2}}}, "Limites de quantité"),
        ({"quantity_limits": {"PH1": {"quantity": 2, "days": 0}}}, "days"),
        ({"refill_threshold": 0}, "refill_threshold"),
        ({"max_care_age_days": 400}, "max_care_age_days"),
    ]:
        with pytest.raises(ConfigError, match=fragment):
            parse_insurer_config(bad)
    settings_ = parse_insurer_config({"ceilings": {"line": {"default": 7, "lab": 9}}})
    assert settings_.line_ceilings == {"pharmacy": 7, "consultation": 7, "lab": 9, "hospitalization": 7}


# -- properties ----------------------------------------------------------------------------

KNOWN = ["PH0001", "PH0003", "PH0005", "PH0006", "PH0026", "PH0056", "PH0057"]
UNKNOWN = ["ZZ1", "C1", "B-NFS", "XX-99"]
lines_strategy = st.lists(
    st.builds(
        ItemInput,
        code=st.sampled_from(KNOWN + UNKNOWN),
        label=st.just(""),
        quantity=st.integers(1, 30),
        unit_price=st.integers(1, 200_000),
        is_generic=st.booleans(),
        category=st.sampled_from([None, "vitamine", "cosmetique"]),
    ),
    min_size=1,
    max_size=8,
)
bareme_strategy = st.dictionaries(st.sampled_from(KNOWN[:4]), st.integers(1, 100_000), max_size=4)


def _tariff(code, bareme):
    if code in bareme:
        return bareme[code]
    reference = find("pharmacy", code)
    return reference.unit_price if reference else None


@settings(max_examples=200, deadline=None)
@given(lines_strategy, bareme_strategy, st.booleans())
def test_no_line_without_a_tariff_is_paid_and_none_above_quantity_tariff_rate(items, bareme, limited):
    config = {"bareme": {"pharmacy": bareme}}
    ctx = context(config=config, terms=terms(annual_limit=50_000 if limited else None))
    result = adjudicate(ctx, items)
    for source, line in zip(items, result.lines, strict=True):
        tariff = _tariff(line.code, bareme)
        if tariff is None:
            assert line.covered == 0
        else:
            assert line.rate_bp in (8000, 9500, 0)
            assert line.covered <= apply_rate(source.quantity * min(source.unit_price, tariff), line.rate_bp)


@settings(max_examples=200, deadline=None)
@given(lines_strategy, bareme_strategy, st.randoms(use_true_random=False))
def test_the_generic_flag_of_a_known_code_never_changes_what_is_covered(items, bareme, rnd):
    config = {"bareme": {"pharmacy": bareme}}
    flipped = [replace(line, is_generic=rnd.random() < 0.5) for line in items]
    first, second = adjudicate(context(config=config), items), adjudicate(context(config=config), flipped)
    assert [line.covered for line in first.lines] == [line.covered for line in second.lines]
    assert first.status == second.status


CARES = {
    "amoxicilline": ("pharmacy", (ItemInput("PH0001", "", 1, 5_600),)),
    "metformine": ("pharmacy", (ItemInput("PH0027", "", 2, 3_300), ItemInput("PH0018", "", 1, 4_100))),
    "lantus": ("pharmacy", (ItemInput("PH0029", "", 1, 98_000),)),
    "consultation": ("consultation", (ItemInput("C1", "", 1, 45_000),)),
}


def _arrive(claims, limit):
    """Adjudicate ``claims`` (care name, care date) in this order, each seeing the ones before
    as the service shows them; the total approved."""
    history: list[RecentClaim] = []
    used = 0
    paid = 0
    for name, day in claims:
        care_type, items = CARES[name]
        ctx = context(care_type, care_date=day, history=history, terms=terms(annual_limit=limit),
                      used_this_year=used)
        result = adjudicate(ctx, items)
        if result.status in ("approved", "pending_review"):
            used += result.covered_amount
        if result.status == "approved":
            paid += result.covered_amount
        if result.status != "rejected":
            kept = [line for line in result.lines if line.covered > 0 or result.status != "approved"]
            history.append(RecentClaim(day, "P-1", care_type, tuple(line.code for line in kept),
                                       result.total_amount, "CT-STAR", tuple(line.quantity for line in kept)))
    return paid


def _orders(dated, rnd):
    shuffled = list(dated)
    rnd.shuffle(shuffled)
    return [dated, shuffled, sorted(dated, key=lambda claim: claim[1], reverse=True)]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(sorted(CARES)), st.integers(-3, 0)), min_size=1, max_size=10),
    st.randoms(use_true_random=False),
)
def test_the_order_in_which_claims_arrive_never_changes_the_total_paid(claims, rnd):
    """The same cares, dated within a few days of each other (today, yesterday...), entered in
    any order: the engine pays each care once, whoever comes first."""
    dated = [(name, DAY + timedelta(days=offset)) for name, offset in claims]
    once = sum(adjudicate(context(CARES[name][0]), CARES[name][1]).covered_amount for name in {n for n, _ in claims})
    assert {_arrive(order, None) for order in _orders(dated, rnd)} == {once}


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(sorted(CARES)), min_size=1, max_size=4, unique=True),
    st.lists(st.integers(-3, 0), min_size=4, max_size=4),
    st.sampled_from([0, 30_000, 60_000, 1_000_000]),
    st.randoms(use_true_random=False),
)
def test_the_order_of_arrival_never_changes_what_the_annual_limit_lets_through(names, offsets, limit, rnd):
    """Different cares in any order: together they get exactly min(limit, what each is owed)."""
    dated = [(name, DAY + timedelta(days=offset)) for name, offset in zip(names, offsets, strict=False)]
    owed = sum(adjudicate(context(CARES[name][0]), CARES[name][1]).covered_amount for name in names)
    assert {_arrive(order, limit) for order in _orders(dated, rnd)} == {min(limit, owed)}
