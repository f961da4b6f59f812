"""Line pricing: validation, tariff sources, caps, rates, exclusions, limit."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dhamen.domain.coverage import (
    Convention,
    ItemError,
    ItemInput,
    Tariffs,
    allocate_limit,
    parse_bareme,
    parse_convention,
    price_claim,
    unpriced_lines,
    validate_items,
)
from dhamen.domain.eligibility import Benefit
from dhamen.domain.errors import ConfigError
from dhamen.domain.money import format_tnd

PHARMACY = Benefit("pharmacy", "Pharmacie", True, 8000, 9000)
PHARMACY_NO_GENERIC = Benefit("pharmacy", "Pharmacie", True, 8000)
HOSPITAL = Benefit("hospitalization", "Hospitalisation", True, 9000, None, 120_000)
# PH0001 is a generic in the catalogue; this insurer's barème says it is not (its say wins)
INSURER = {
    "pharmacy": {
        "PH0001": {"price": 5_000, "generic": False},
        "PH0003": 13_000,
        "PH0006": 7_800,
        "ZZ1": 1_000_000,
        "ZZ2": 1_000_000,
    },
    "hospitalization": {"CH-J": 200_000, "CH-X": 150_000},
}
CONVENTION = {
    "version": "CONV-STAR-PH-2026",
    "tariffs": {"PH0003": 11_000},
    "rates": {"pharmacy": 85},
    "generic_rate": 95,
}


def item(code="PH0001", quantity=1, unit_price=5_600, is_generic=False, category=None, label="x"):
    return ItemInput(code, label, quantity, unit_price, is_generic, category)


def price(items, benefit=PHARMACY, exclusions=(), convention=None, remaining=None, version="STAR"):
    tariffs = Tariffs(INSURER, version, convention)
    return price_claim(benefit.care_type, items, benefit, exclusions, tariffs, remaining)


def one(*args, **kwargs):
    (line,) = price([item(*args, **kwargs)]).lines
    return line


# -- validate_items -----------------------------------------------------------


def test_validate_items_accepts_boundaries():
    items = [
        ItemInput("A" * 32, "L" * 200, 1, 1),
        ItemInput(" C1 ", "", 999, 10_000_000, True, "consultation"),
    ]
    assert validate_items("consultation", items) == []


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        (ItemInput("", "x", 1, 100), "code", "Ligne 1 : le code est obligatoire."),
        (ItemInput("   ", "x", 1, 100), "code", "Ligne 1 : le code est obligatoire."),
        (ItemInput("A" * 33, "x", 1, 100), "code", "Ligne 1 : le code dépasse 32 caractères."),
        (
            ItemInput("A", "L" * 201, 1, 100),
            "label",
            "Ligne 1 : le libellé dépasse 200 caractères.",
        ),
        (ItemInput("A", None, 1, 100), "label", "Ligne 1 : le libellé doit être un texte."),
        (
            ItemInput("A", "x", 0, 100),
            "quantity",
            "Ligne 1 : la quantité doit être un nombre entier de 1 à 999.",
        ),
        (ItemInput("A", "x", 1000, 100), "quantity", None),
        (ItemInput("A", "x", True, 100), "quantity", None),
        (ItemInput("A", "x", 1.0, 100), "quantity", None),
        (
            ItemInput("A", "x", 1, 0),
            "unit_price",
            "Ligne 1 : le prix unitaire doit être compris entre 0,001 TND et 10\u202f000,000 TND.",
        ),
        (ItemInput("A", "x", 1, 10_000_001), "unit_price", None),
        (ItemInput("A", "x", 1, 12.5), "unit_price", None),
        (ItemInput("A", "x", 1, 100, "yes"), "is_generic", None),
        (ItemInput("A", "x", 1, 100, False, "c" * 65), "category", None),
    ],
)
def test_validate_items_line_errors(line, field, message):
    errors = validate_items("pharmacy", [line])
    assert len(errors) == 1
    (error,) = errors
    assert (error.line, error.field) == (1, field)
    assert error.message.startswith("Ligne 1 : ")
    if message:
        assert error.message == message


def test_validate_items_names_each_line():
    errors = validate_items(
        "pharmacy", [item(), ItemInput("", "x", 0, 100), item(), ItemInput("B", "y", 5, -3)]
    )
    assert [(e.line, e.field) for e in errors] == [(2, "code"), (2, "quantity"), (4, "unit_price")]
    assert errors[2].message.startswith("Ligne 4 : ")


def test_validate_items_claim_errors():
    assert validate_items("pharmacy", []) == [
        ItemError(None, None, "Ajoutez au moins une ligne à la demande.")
    ]
    assert validate_items("pharmacy", [item()] * 50) == []
    errors = validate_items("pharmacy", [item()] * 51)
    assert errors == [ItemError(None, None, "50 lignes au maximum par demande (reçu 51).")]
    errors = validate_items("dental", [item()])
    assert errors == [ItemError(None, "care_type", "Type de soin inconnu : « dental ».")]


# -- tariff sources -----------------------------------------------------------


def test_parse_bareme_normalises_codes():
    assert parse_bareme({"pharmacy": {" ph0001 ": 5000}}) == {"pharmacy": {"PH0001": 5000}}
    assert parse_bareme({}) == {}


@pytest.mark.parametrize(
    ("bareme", "fragment"),
    [
        ([], "objet"),
        ({"dental": {}}, "type de soin inconnu « dental »"),
        ({"pharmacy": []}, "Barème Pharmacie"),
        ({"pharmacy": {"PH0001": 5.5}}, "« PH0001 »"),
        ({"pharmacy": {"PH0001": 0}}, "strictement positif"),
        ({"pharmacy": {"PH0001": True}}, "millimes"),
        ({"pharmacy": {"": 100}}, "code vide"),
    ],
)
def test_parse_bareme_refuses(bareme, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_bareme(bareme)


def test_parse_convention():
    assert parse_convention(None) is None
    assert parse_convention({}) == Convention()
    assert parse_convention(CONVENTION) == Convention(
        "CONV-STAR-PH-2026", {"PH0003": 11_000}, {"pharmacy": 8500}, 9500
    )
    assert parse_convention({"rates": {"lab": "72,5"}}).rates_bp == {"lab": 7250}


@pytest.mark.parametrize(
    ("convention", "fragment"),
    [
        ("x", "objet JSON"),
        ({"tarifs": {}}, "clé inconnue « tarifs »"),
        ({"version": 3}, "version"),
        ({"version": " "}, "version"),
        ({"tariffs": {"PH0001": -1}}, "Convention, tarifs"),
        ({"rates": [85]}, "rates"),
        ({"rates": {"dental": 85}}, "dental"),
        ({"rates": {"pharmacy": 185}}, "Convention, taux Pharmacie"),
        ({"generic_rate": "abc"}, "taux générique"),
        ({"generic_rate": None, "rates": {"pharmacy": None}}, "pourcentage"),
    ],
)
def test_parse_convention_refuses(convention, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_convention(convention)


def test_tariffs_from_configs():
    config = {"bareme_version": "STAR-2026.1", "bareme": INSURER, "fraud": {}}
    tariffs = Tariffs.from_configs(config, CONVENTION)
    assert tariffs == Tariffs(INSURER, "STAR-2026.1", CONVENTION)
    assert Tariffs.from_configs({}) == Tariffs({}, None, None)


# -- pricing ------------------------------------------------------------------


def test_insurer_bareme_caps_the_unit_price():
    line = one("PH0001", quantity=2, unit_price=5_600)
    assert line.line_total == 11_200
    assert line.capped_unit_price == 5_000
    assert line.capped_total == 10_000
    assert line.rate_bp == 8000
    assert line.covered == 8_000
    assert line.copay == 3_200
    assert line.reason_codes == ("PRICE_CAPPED", "BAREME_TARIFF", "CONTRACT_RATE")
    assert line.rule_applied == "Tarif du barème STAR 5,000 TND appliqué, taux du contrat 80 %"
    assert line.adjudication == (
        {"category": "submitted", "amount": 11_200, "value_bp": None},
        {"category": "eligible", "amount": 10_000, "value_bp": None},
        {"category": "rate", "amount": None, "value_bp": 8000},
        {"category": "benefit", "amount": 8_000, "value_bp": None},
        {"category": "copay", "amount": 3_200, "value_bp": None},
    )


def test_price_within_the_bareme_is_kept():
    line = one("ph0001", unit_price=4_500)
    assert line.code == "PH0001"
    assert line.capped_unit_price == 4_500
    assert line.covered == 3_600
    assert line.reason_codes == ("BAREME_TARIFF", "CONTRACT_RATE")
    assert line.rule_applied == "Prix conforme au tarif du barème STAR (5,000 TND), taux du contrat 80 %"


def test_bareme_without_version_is_named_generically():
    (line,) = price([item("PH0001")], version=None).lines
    assert line.rule_applied.startswith("Tarif du barème de l'assureur 5,000 TND appliqué")


def test_code_without_tariff_is_hors_nomenclature_and_covered_nothing():
    line = one("ZZ999", unit_price=1_234_567)
    assert line.covered == 0
    assert line.copay == line.line_total == 1_234_567
    assert line.held == "NO_TARIFF"
    assert line.reason_codes == ("NO_TARIFF",)
    assert line.rule_applied == (
        "Code hors nomenclature (pharmacie) : aucun tarif de référence"
        " ; non pris en charge sans accord de l'assureur"
    )


def test_convention_tariff_wins_over_the_bareme():
    (line,) = price([item("PH0003", unit_price=13_500)], convention={"tariffs": {"PH0003": 11_000}}).lines
    assert line.capped_unit_price == 11_000
    assert line.covered == 8_800
    assert line.copay == 4_700
    assert line.reason_codes == ("PRICE_CAPPED", "CONVENTION_TARIFF", "CONTRACT_RATE")
    assert line.rule_applied == "Tarif conventionnel 11,000 TND appliqué, taux du contrat 80 %"


def test_convention_tariff_applies_even_when_higher_than_the_bareme():
    (line,) = price([item("PH0001", unit_price=5_600)], convention={"tariffs": {"PH0001": 6_000}}).lines
    assert line.capped_unit_price == 5_600
    assert line.reason_codes == ("CONVENTION_TARIFF", "CONTRACT_RATE")
    assert line.rule_applied.startswith("Prix conforme au tarif conventionnel (6,000 TND)")


def test_convention_rate_overrides_the_contract_rate():
    (line,) = price([item("PH0001", unit_price=5_000)], convention={"rates": {"pharmacy": 85}}).lines
    assert line.rate_bp == 8500
    assert line.covered == 4_250
    assert line.reason_codes == ("BAREME_TARIFF", "CONVENTION_RATE")
    assert line.rule_applied.endswith("taux conventionnel 85 %")


def test_convention_rate_for_another_care_type_is_ignored():
    (line,) = price([item("PH0001", unit_price=5_000)], convention={"rates": {"lab": 50}}).lines
    assert line.rate_bp == 8000


def test_generic_rate_of_the_contract():
    line = one("PH0006", unit_price=5_000, is_generic=True)
    assert line.rate_bp == 9000
    assert line.covered == 4_500
    assert line.reason_codes == ("BAREME_TARIFF", "GENERIC_RATE")
    assert line.rule_applied == "Prix conforme au tarif du barème STAR (7,800 TND), taux générique 90 %"


def test_generic_without_generic_rate_uses_the_care_type_rate():
    (line,) = price([item("PH0006", is_generic=True, unit_price=5_000)], benefit=PHARMACY_NO_GENERIC).lines
    assert line.rate_bp == 8000
    assert line.reason_codes[-1] == "CONTRACT_RATE"
    (line,) = price(
        [item("PH0006", is_generic=True, unit_price=5_000)],
        benefit=PHARMACY_NO_GENERIC,
        convention={"rates": {"pharmacy": 85}},
    ).lines
    assert line.rate_bp == 8500
    assert line.reason_codes[-1] == "CONVENTION_RATE"


def test_convention_generic_rate_overrides_the_contract_generic_rate():
    convention = {**CONVENTION, "tariffs": {"PH0006": 11_000}}
    (line,) = price([item("PH0006", unit_price=13_500, is_generic=True)], convention=convention).lines
    assert line.rate_bp == 9500
    assert line.capped_unit_price == 11_000
    assert line.covered == 10_450
    assert line.reason_codes == ("PRICE_CAPPED", "CONVENTION_TARIFF", "GENERIC_RATE")
    assert line.rule_applied == "Tarif conventionnel 11,000 TND appliqué, taux générique conventionnel 95 %"


def test_contract_generic_rate_beats_the_convention_care_type_rate():
    (line,) = price(
        [item("PH0006", unit_price=5_000, is_generic=True)], convention={"rates": {"pharmacy": 85}}
    ).lines
    assert line.rate_bp == 9000
    assert line.reason_codes[-1] == "GENERIC_RATE"


@pytest.mark.parametrize(
    ("exclusions", "entry"),
    [(["PH0057"], "PH0057"), (["PH005*"], "PH005*"), (["cat:Cosmétique"], "cat:Cosmétique")],
)
def test_excluded_code_or_catalogue_category_covers_nothing(exclusions, entry):
    (line,) = price([item("PH0057", unit_price=38_000)], exclusions=exclusions).lines
    assert line.category == "cosmetique"
    assert line.covered == 0
    assert line.copay == 38_000
    assert line.rate_bp == 0
    assert line.reason_codes == ("EXCLUDED",)
    assert line.rule_applied == f"Exclu par le contrat (« {entry} ») : non pris en charge"


def test_excluded_by_the_category_entered_on_the_line():
    (line,) = price([item("ZZ1", category="cosmetique")], exclusions=["cat:cosmetique"]).lines
    assert line.covered == 0
    (line,) = price([item("ZZ1", category="vitamine")], exclusions=["cat:cosmetique"]).lines
    assert line.covered > 0


def test_catalogue_category_cannot_be_hidden_by_the_line_category():
    (line,) = price([item("PH0057", category="antibiotique")], exclusions=["cat:cosmetique"]).lines
    assert line.covered == 0
    assert line.category == "cosmetique"  # the catalogue's, not the counter's


def test_room_day_cap_from_the_contract():
    (line,) = price([item("CH-J", quantity=3, unit_price=180_000)], benefit=HOSPITAL).lines
    assert line.category == "chambre"
    assert line.capped_unit_price == 120_000
    assert line.capped_total == 360_000
    assert line.covered == 324_000
    assert line.copay == 216_000
    assert line.reason_codes == ("ROOM_DAY_CAP", "BAREME_TARIFF", "CONTRACT_RATE")
    assert line.rule_applied == (
        "Prix conforme au tarif du barème STAR (200,000 TND),"
        " plafond chambre/jour du contrat 120,000 TND appliqué, taux du contrat 90 %"
    )


def test_room_day_cap_with_tariff_cap_and_category_entered():
    (line,) = price(
        [item("CH-X", quantity=2, unit_price=150_000, category="Chambre")], benefit=HOSPITAL
    ).lines
    assert line.capped_unit_price == 120_000
    assert line.reason_codes == ("ROOM_DAY_CAP", "BAREME_TARIFF", "CONTRACT_RATE")
    (line,) = price([item("BLOC", unit_price=400_000)], benefit=HOSPITAL).lines
    assert line.capped_unit_price == 400_000  # not a room day


def test_price_claim_refuses_an_uncovered_benefit():
    with pytest.raises(ValueError, match="non couvert"):
        price([item()], benefit=Benefit("lab", "Analyses", False))


def test_price_claim_checks_the_tariffs():
    with pytest.raises(ConfigError):
        price([item()], convention={"tariffs": {"PH0001": "cher"}})


# -- bareme_version ------------------------------------------------------------


def test_bareme_version_records_the_sources_used():
    both = price([item("PH0001"), item("PH0003", unit_price=13_500)], convention=CONVENTION)
    assert both.bareme_version == "CONV-STAR-PH-2026/STAR"
    tariff_only = price([item("PH0003")], convention={"version": "CONV-1", "tariffs": {"PH0003": 1}})
    assert tariff_only.bareme_version == "CONV-1"
    # PH0009 (a princeps): priced at its catalogue price, rate from the convention
    rate_only = price([item("PH0009")], convention={"version": "CONV-1", "rates": {"pharmacy": 85}})
    assert rate_only.bareme_version == "CONV-1"
    insurer_only = price([item("PH0001")], convention={"version": "CONV-1"})
    assert insurer_only.bareme_version == "STAR"
    nothing_matched = price([item("ZZ1")])
    assert nothing_matched.bareme_version == "STAR"
    assert price([item("ZZ1")], version=None).bareme_version is None
    unversioned_convention = price([item("PH0003")], convention={"tariffs": {"PH0003": 1}})
    assert unversioned_convention.bareme_version is None


def test_excluded_lines_do_not_count_for_the_version():
    result = price([item("PH0003")], convention=CONVENTION, exclusions=["PH0003"])
    # the convention rate would apply, but the only line is excluded
    assert result.bareme_version == "STAR"


# -- annual limit --------------------------------------------------------------


def test_limit_shares_the_remaining_amount_in_proportion():
    items = [item("ZZ1", unit_price=10_000), item("ZZ2", unit_price=2_500)]
    result = price(items, remaining=5_000)
    first, second = result.lines
    assert (first.covered, second.covered) == (4_000, 1_000)
    assert (first.copay, second.copay) == (6_000, 1_500)
    assert result.limit_reduction == 5_000
    assert first.reason_codes == ("LIMIT_PARTIAL", "BAREME_TARIFF", "CONTRACT_RATE")
    assert first.rule_applied == (
        f"Prix conforme au tarif du barème STAR ({format_tnd(1_000_000)}), taux du contrat 80 %"
        " ; plafond annuel : prise en charge réduite de 4,000 TND"
    )
    assert first.adjudication[3] == {"category": "benefit", "amount": 4_000, "value_bp": None}
    assert first.adjudication[4] == {"category": "copay", "amount": 6_000, "value_bp": None}


def test_limit_can_leave_nothing_for_a_line():
    items = [item("ZZ1", unit_price=1), item("ZZ2", unit_price=12_500)]
    # covered 0 (floor of 0.8) and 10 000; remaining 5 -> 0 and 5
    result = price(items, remaining=5)
    assert [line.covered for line in result.lines] == [0, 5]
    assert result.lines[0].reason_codes[0] == "BAREME_TARIFF"  # was already 0: untouched
    items = [item("ZZ1", unit_price=10), item("ZZ2", unit_price=12_500)]
    result = price(items, remaining=5)
    assert [line.covered for line in result.lines] == [0, 5]
    assert result.lines[0].reason_codes[0] == "LIMIT_REACHED"
    assert result.lines[0].rule_applied.endswith(" ; plafond annuel atteint : aucune prise en charge")
    assert result.lines[1].reason_codes[0] == "LIMIT_PARTIAL"


def test_limit_not_reached_changes_nothing():
    result = price([item("ZZ1", unit_price=10_000)], remaining=8_000)
    assert result.lines[0].covered == 8_000
    assert result.lines[0].reason_codes == ("BAREME_TARIFF", "CONTRACT_RATE")
    assert result.limit_reduction == 0


def test_allocate_limit_examples():
    assert allocate_limit([8000, 2000], ["a", "b"], 5000) == [4000, 1000]
    assert allocate_limit([1, 1, 1], ["a", "b", "c"], 2) == [1, 1, 0]
    assert allocate_limit([1, 1, 1], ["c", "b", "a"], 2) == [0, 1, 1]
    assert allocate_limit([5, 0], ["a", "b"], 0) == [0, 0]
    assert allocate_limit([3, 4], ["a", "b"], 100) == [3, 4]
    assert allocate_limit([], [], 0) == []
    with pytest.raises(ValueError, match="même longueur"):
        allocate_limit([1], [], 0)
    with pytest.raises(ValueError, match="positifs"):
        allocate_limit([1], ["a"], -1)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=10**10), min_size=1, max_size=20),
    st.integers(min_value=0, max_value=10**11),
    st.randoms(use_true_random=False),
)
def test_allocate_limit_properties(amounts, cap, rnd):
    keys = [(amount, index % 3) for index, amount in enumerate(amounts)]
    shares = allocate_limit(amounts, keys, cap)
    assert sum(shares) == min(cap, sum(amounts))
    assert all(0 <= share <= amount for share, amount in zip(shares, amounts, strict=True))
    order = list(range(len(amounts)))
    rnd.shuffle(order)
    shuffled = allocate_limit([amounts[i] for i in order], [keys[i] for i in order], cap)
    assert sorted(zip(keys, shares, strict=True)) == sorted(
        zip([keys[i] for i in order], shuffled, strict=True)
    )


# -- ineligible claims ---------------------------------------------------------


def test_unpriced_lines():
    lines = unpriced_lines("pharmacy", [item("ph0057", quantity=2, unit_price=1_000)], "CARENCE", "Période")
    (line,) = lines
    assert line.code == "PH0057"
    assert line.category == "cosmetique"
    assert (line.line_total, line.capped_total, line.covered, line.copay) == (
        2_000,
        2_000,
        0,
        2_000,
    )
    assert line.rate_bp == 0
    assert line.reason_codes == ("CARENCE",)
    assert line.rule_applied == "Non pris en charge : Période"


def test_line_as_dict_is_json_ready():
    data = json.loads(json.dumps(one().as_dict()))
    assert data["reason_codes"] == ["PRICE_CAPPED", "BAREME_TARIFF", "CONTRACT_RATE"]
    assert data["adjudication"][0] == {"category": "submitted", "amount": 5_600, "value_bp": None}
