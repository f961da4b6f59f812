"""Eligibility: coverage format, exclusions, contract year, check()."""

import json
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dhamen.domain.catalogue import CARE_TYPES
from dhamen.domain.eligibility import (
    Benefit,
    ContractTerms,
    check,
    contract_year,
    is_excluded,
    matching_exclusion,
    parse_coverage,
    parse_exclusions,
)
from dhamen.domain.errors import ConfigError

COVERAGE = {
    "pharmacy": {"rate": 80, "generic_rate": 90},
    "consultation": {"rate": "72,5"},
    "hospitalization": {"rate": 90, "room_day_cap": 120000},
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
        "exclusions": (),
    }
    values.update(changes)
    return ContractTerms(**values)


# -- coverage_json ------------------------------------------------------------


def test_parse_coverage():
    benefits = parse_coverage(COVERAGE)
    assert list(benefits) == list(CARE_TYPES)
    assert benefits["pharmacy"] == Benefit("pharmacy", "Pharmacie", True, 8000, 9000, None)
    assert benefits["consultation"].rate_bp == 7250
    assert benefits["consultation"].generic_rate_bp is None
    assert benefits["lab"] == Benefit("lab", "Analyses de laboratoire", False)
    assert benefits["hospitalization"].room_day_cap == 120000


@pytest.mark.parametrize(
    ("coverage", "fragment"),
    [
        ([], "objet JSON"),
        ({"dental": {"rate": 50}}, "type de soin inconnu « dental »"),
        ({"pharmacy": 80}, "objet"),
        ({"pharmacy": {}}, "« rate » est obligatoire"),
        ({"pharmacy": {"rate": 80, "generic": 90}}, "clé inconnue « generic »"),
        ({"pharmacy": {"rate": 120}}, "entre 0 et 100"),
        ({"pharmacy": {"rate": -1}}, "négative"),
        ({"pharmacy": {"rate": "80.123"}}, "Pharmacie"),
        ({"pharmacy": {"rate": None}}, "pourcentage"),
        ({"pharmacy": {"rate": True}}, "nombre"),
        ({"pharmacy": {"rate": 80, "generic_rate": "x"}}, "invalide"),
        ({"hospitalization": {"rate": 90, "room_day_cap": 0}}, "room_day_cap"),
        ({"hospitalization": {"rate": 90, "room_day_cap": 120.5}}, "room_day_cap"),
    ],
)
def test_parse_coverage_refuses(coverage, fragment):
    with pytest.raises(ConfigError) as info:
        parse_coverage(coverage)
    assert fragment in str(info.value)


# -- exclusions ---------------------------------------------------------------


def test_parse_exclusions():
    assert parse_exclusions(["PH0057", " KC* ", "cat:cosmetique"]) == (
        "PH0057",
        "KC*",
        "cat:cosmetique",
    )
    assert parse_exclusions([]) == ()


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("PH0001", "liste"),
        ([1], "n° 1"),
        (["ok", " "], "n° 2"),
        (["*"], "motif vide"),
        (["cat: "], "motif vide"),
    ],
)
def test_parse_exclusions_refuses(value, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_exclusions(value)


@pytest.mark.parametrize(
    ("exclusions", "code", "category", "expected"),
    [
        (["PH0057"], "PH0057", None, True),
        (["ph0057"], " PH0057 ", None, True),
        (["PH0057"], "PH00571", None, False),
        (["KC*"], "KC100", None, True),
        (["kc*"], "KC100", None, True),
        (["KC*"], "K10", None, False),
        (["cat:cosmetique"], "X", "Cosmétique", True),
        (["cat:Cosmétique"], "X", "cosmetique", True),
        (["cat:cosmetique"], "X", "vitamine", False),
        (["cat:cosmetique"], "X", None, False),
        (["cat:cosmetique"], "cat:cosmetique", None, False),
        ([], "PH0001", "antibiotique", False),
    ],
)
def test_is_excluded(exclusions, code, category, expected):
    assert is_excluded(exclusions, code, category) is expected


def test_matching_exclusion_returns_the_entry():
    entries = ["PH0001", "B-*", "cat:chambre"]
    assert matching_exclusion(entries, "b-nfs", []) == "B-*"
    assert matching_exclusion(entries, "CH-J", [None, "chambre"]) == "cat:chambre"
    assert matching_exclusion(entries, "C1", ["consultation"]) is None


# -- contract year ------------------------------------------------------------


def test_contract_year_from_anniversaries():
    t = terms(start_date=date(2025, 3, 15), end_date=date(2028, 3, 14))
    assert contract_year(t, date(2025, 3, 15)) == (date(2025, 3, 15), date(2026, 3, 14))
    assert contract_year(t, date(2026, 3, 14)) == (date(2025, 3, 15), date(2026, 3, 14))
    assert contract_year(t, date(2026, 3, 15)) == (date(2026, 3, 15), date(2027, 3, 14))
    assert contract_year(t, date(2028, 1, 1)) == (date(2027, 3, 15), date(2028, 3, 14))


def test_contract_year_clamped_to_end_date():
    t = terms(start_date=date(2026, 1, 1), end_date=date(2026, 6, 30))
    assert contract_year(t, date(2026, 6, 30)) == (date(2026, 1, 1), date(2026, 6, 30))


def test_contract_year_from_29_february():
    t = terms(start_date=date(2024, 2, 29), end_date=date(2030, 12, 31))
    assert contract_year(t, date(2024, 6, 1)) == (date(2024, 2, 29), date(2025, 2, 27))
    assert contract_year(t, date(2025, 2, 27)) == (date(2024, 2, 29), date(2025, 2, 27))
    assert contract_year(t, date(2025, 2, 28)) == (date(2025, 2, 28), date(2026, 2, 27))
    assert contract_year(t, date(2027, 12, 1)) == (date(2027, 2, 28), date(2028, 2, 28))
    assert contract_year(t, date(2028, 2, 29)) == (date(2028, 2, 29), date(2029, 2, 27))


def test_contract_year_outside_the_contract():
    t = terms()
    with pytest.raises(ValueError, match="hors de la période"):
        contract_year(t, date(2025, 12, 31))
    with pytest.raises(ValueError, match="01/01/2027"):
        contract_year(t, date(2027, 1, 1))


@settings(max_examples=300, deadline=None)
@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)),
    st.integers(min_value=0, max_value=3000),
    st.data(),
)
def test_contract_years_tile_the_contract(start, length, data):
    t = terms(start_date=start, end_date=start + timedelta(days=length))
    on = data.draw(st.dates(min_value=t.start_date, max_value=t.end_date))
    first, last = contract_year(t, on)
    assert t.start_date <= first <= on <= last <= t.end_date
    # a year is at most two years long less a day (a short last year joins the one before)
    assert (last - first).days <= 730
    assert first.month == start.month
    if (last - first).days > 365:
        assert last == t.end_date
    if last < t.end_date:
        following = contract_year(t, last + timedelta(days=1))
        assert following[0] == last + timedelta(days=1)
        assert (last - first).days >= 364
    if first > t.start_date:
        # only the first year may be shorter than a year
        assert (last - first).days >= 364
    if first > t.start_date:
        assert contract_year(t, first - timedelta(days=1))[1] == first - timedelta(days=1)


# -- check() ------------------------------------------------------------------


def test_check_eligible():
    result = check(terms(annual_limit=5_000_000), "pharmacy", date(2026, 3, 12), 1_234_567)
    assert result.inforce is True
    assert result.reason_code == "ELIGIBLE"
    assert result.message == (
        "Contrat en vigueur. Pharmacie : 80 % (générique 90 %),"
        " reste 3\u202f765,433 TND sur le plafond annuel."
    )
    assert result.benefit_period == (date(2026, 1, 1), date(2026, 12, 31))
    assert result.annual_limit == 5_000_000
    assert result.used == 1_234_567
    assert result.remaining == 3_765_433
    assert result.care_type_rate_bp == 8000
    assert result.generic_rate_bp == 9000
    assert result.carence_until is None
    assert set(result.benefits) == set(CARE_TYPES)
    assert result.benefits["lab"].covered is False


def test_check_without_limit():
    result = check(terms(), "consultation", date(2026, 3, 12), 999)
    assert result.inforce
    assert result.remaining is None
    assert result.message == "Contrat en vigueur. Consultation : 72,5 %, sans plafond annuel."
    assert result.generic_rate_bp is None


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("suspended", "Contrat suspendu"),
        ("cancelled", "Contrat résilié"),
        ("expired", "Contrat expiré"),
        ("draft", "Contrat inactif (statut « draft »)"),
    ],
)
def test_check_inactive_status(status, message):
    result = check(terms(status=status), "pharmacy", date(2026, 3, 12), 0)
    assert result.inforce is False
    assert result.reason_code == "CONTRACT_INACTIVE"
    assert result.message == message


def test_check_status_comes_before_dates():
    result = check(terms(status="suspended"), "pharmacy", date(2030, 1, 1), 0)
    assert result.reason_code == "CONTRACT_INACTIVE"
    assert result.benefit_period is None


def test_check_not_started_and_ended():
    before = check(terms(), "pharmacy", date(2025, 12, 31), 0)
    assert (before.inforce, before.reason_code) == (False, "CONTRACT_NOT_STARTED")
    assert before.message == "Contrat pas encore en vigueur : début le 01/01/2026"
    assert before.benefit_period is None
    after = check(terms(), "pharmacy", date(2027, 1, 1), 0)
    assert (after.inforce, after.reason_code) == (False, "CONTRACT_ENDED")
    assert after.message == "Contrat arrivé à échéance le 31/12/2026"
    assert check(terms(), "pharmacy", date(2026, 12, 31), 0).inforce
    assert check(terms(), "pharmacy", date(2026, 1, 1), 0).inforce


def test_check_carence_boundaries():
    t = terms(carence_days=30)
    last_day = check(t, "pharmacy", date(2026, 1, 30), 0)
    assert last_day.inforce is False
    assert last_day.reason_code == "CARENCE"
    assert last_day.message == "Période de carence jusqu'au 30/01/2026"
    assert last_day.carence_until == date(2026, 1, 30)
    first_day = check(t, "pharmacy", date(2026, 1, 31), 0)
    assert first_day.inforce is True
    assert first_day.carence_until == date(2026, 1, 30)
    one_day = check(terms(carence_days=1), "pharmacy", date(2026, 1, 1), 0)
    assert one_day.reason_code == "CARENCE"
    assert check(terms(carence_days=1), "pharmacy", date(2026, 1, 2), 0).inforce


def test_check_not_covered():
    result = check(terms(), "lab", date(2026, 3, 12), 0)
    assert result.inforce is False
    assert result.reason_code == "NOT_COVERED"
    assert result.message == "Type de soin non couvert par le contrat (analyses de laboratoire)"
    assert result.care_type_rate_bp is None


def test_check_limit_reached():
    result = check(terms(annual_limit=1_000_000), "pharmacy", date(2026, 3, 12), 1_000_000)
    assert result.inforce is False
    assert result.reason_code == "LIMIT_REACHED"
    assert result.message == "Plafond annuel atteint : 1\u202f000,000 TND consommés sur 1\u202f000,000 TND"
    assert result.remaining == 0
    over = check(terms(annual_limit=1_000_000), "pharmacy", date(2026, 3, 12), 1_500_000)
    assert over.remaining == 0
    assert over.reason_code == "LIMIT_REACHED"
    assert check(terms(annual_limit=1_000_000), "pharmacy", date(2026, 3, 12), 999_999).inforce


def test_check_zero_limit_means_nothing_payable():
    result = check(terms(annual_limit=0), "pharmacy", date(2026, 3, 12), 0)
    assert result.reason_code == "LIMIT_REACHED"


def test_check_refuses_bad_arguments():
    with pytest.raises(ValueError, match="Type de soin inconnu"):
        check(terms(), "dental", date(2026, 3, 12), 0)
    with pytest.raises(ValueError, match="déjà consommé"):
        check(terms(), "pharmacy", date(2026, 3, 12), -1)
    with pytest.raises(ValueError, match="déjà consommé"):
        check(terms(), "pharmacy", date(2026, 3, 12), 1.5)
    with pytest.raises(ConfigError):
        check(terms(coverage={"pharmacy": {"rate": 150}}), "pharmacy", date(2026, 3, 12), 0)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"start_date": datetime(2026, 1, 1)}, "start_date"),
        ({"end_date": "2026-12-31"}, "end_date"),
        ({"end_date": date(2025, 12, 31)}, "précède"),
        ({"carence_days": -1}, "carence"),
        ({"annual_limit": -5}, "plafond"),
        ({"annual_limit": 10.5}, "plafond"),
    ],
)
def test_contract_terms_validation(changes, fragment):
    with pytest.raises(ConfigError, match=fragment):
        terms(**changes)


def test_eligibility_as_dict_is_json_ready():
    result = check(terms(carence_days=10, annual_limit=100_000), "pharmacy", date(2026, 3, 1), 0)
    data = json.loads(json.dumps(result.as_dict()))
    assert data["inforce"] is True
    assert data["benefit_period"] == {"start": "2026-01-01", "end": "2026-12-31"}
    assert data["carence_until"] == "2026-01-10"
    assert data["benefits"]["pharmacy"]["generic_rate_bp"] == 9000
    assert data["remaining"] == 100_000
