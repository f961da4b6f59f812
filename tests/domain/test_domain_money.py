"""Money: millimes, TND formatting and parsing, basis-point rates."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dhamen.domain.money import (
    MAX_PARSED_AMOUNT,
    MoneyError,
    apply_rate,
    format_hundredths,
    format_tnd,
    parse_hundredths,
    parse_tnd,
    percent_label,
    rate_from_percent,
)

NNBSP = "\u202f"


@pytest.mark.parametrize(
    ("millimes", "expected"),
    [
        (12345, "12,345 TND"),
        (1234567, f"1{NNBSP}234,567 TND"),
        (-500, "-0,500 TND"),
        (0, "0,000 TND"),
        (5, "0,005 TND"),
        (1000, "1,000 TND"),
        (999_999, "999,999 TND"),
        (1_234_567_890, f"1{NNBSP}234{NNBSP}567,890 TND"),
        (-1_234_567, f"-1{NNBSP}234,567 TND"),
    ],
)
def test_format_tnd(millimes, expected):
    assert format_tnd(millimes) == expected


def test_format_tnd_without_unit():
    assert format_tnd(1234567, with_unit=False) == f"1{NNBSP}234,567"


@pytest.mark.parametrize("bad", [1.5, True, "12", None, Decimal("1")])
def test_format_tnd_refuses_non_int(bad):
    with pytest.raises(TypeError):
        format_tnd(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12,345", 12345),
        ("12.345", 12345),
        ("12", 12000),
        ("1 234,5", 1_234_500),
        (" 0,5 ", 500),
        ("0,05", 50),
        ("007", 7000),
        ("1\u00a0234,567", 1_234_567),
        (f"1{NNBSP}234,567 TND", 1_234_567),
        ("12,345 tnd", 12345),
        ("12 DT", 12000),
        ("1 234 567", 1_234_567_000),
        ("1000000000", MAX_PARSED_AMOUNT),
        ("0", 0),
    ],
)
def test_parse_tnd_accepts(text, expected):
    assert parse_tnd(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "Montant manquant"),
        ("   ", "Montant manquant"),
        ("TND", "Montant manquant"),
        ("-5", "négatif"),
        ("- 5", "négatif"),
        ("12,3456", "3 décimales"),
        ("0.0001", "3 décimales"),
        ("abc", "Montant invalide"),
        ("12a", "Montant invalide"),
        ("1e3", "Montant invalide"),
        ("12,", "Montant invalide"),
        (",5", "Montant invalide"),
        ("12 34", "Montant invalide"),
        ("1234 567", "Montant invalide"),
        ("1,234,567", "Montant invalide"),
        ("+5", "Montant invalide"),
        ("1000000000,001", "trop élevé"),
        ("99999999999999", "trop élevé"),
    ],
)
def test_parse_tnd_refuses(text, fragment):
    with pytest.raises(MoneyError) as info:
        parse_tnd(text)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_parse_tnd_refuses_non_string():
    with pytest.raises(TypeError):
        parse_tnd(12)


@given(st.integers(min_value=0, max_value=MAX_PARSED_AMOUNT))
def test_format_parse_round_trip(millimes):
    assert parse_tnd(format_tnd(millimes)) == millimes
    assert parse_tnd(format_tnd(millimes, with_unit=False)) == millimes


@given(
    st.integers(min_value=0, max_value=999_999),
    st.text(alphabet="0123456789", min_size=0, max_size=3),
    st.sampled_from([",", "."]),
)
def test_parse_tnd_matches_decimal_reading(dinars, decimals, separator):
    text = f"{dinars}{separator}{decimals}" if decimals else str(dinars)
    expected = Decimal(f"{dinars}.{decimals or '0'}") * 1000
    assert parse_tnd(text) == int(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (80, 8000),
        ("72.5", 7250),
        ("72,5", 7250),
        ("72,5 %", 7250),
        ("80%", 8000),
        (Decimal("33.33"), 3333),
        (72.5, 7250),
        (72.1, 7210),
        (0, 0),
        (100, 10000),
        ("100.00", 10000),
        (Decimal("1E+1"), 1000),
    ],
)
def test_rate_from_percent(value, expected):
    assert rate_from_percent(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        100.01,
        "100,5",
        101,
        -1,
        "-5",
        "abc",
        "72.555",
        72.555,
        Decimal("72.555"),
        True,
        float("nan"),
        float("inf"),
        Decimal("NaN"),
        None,
        [80],
        "",
    ],
)
def test_rate_from_percent_refuses(value):
    with pytest.raises(MoneyError):
        rate_from_percent(value)


def test_parse_hundredths_names_the_value():
    with pytest.raises(MoneyError, match="Le facteur"):
        parse_hundredths("x", "Le facteur")
    assert parse_hundredths("2,5") == 250


@pytest.mark.parametrize(
    ("amount", "rate", "expected"),
    [
        (12345, 8000, 9876),
        (10000, 10000, 10000),
        (10000, 0, 0),
        (1, 9999, 0),
        (3, 3333, 0),
        (99999, 7250, 72499),
        (-5, 5000, -3),
    ],
)
def test_apply_rate(amount, rate, expected):
    assert apply_rate(amount, rate) == expected


@pytest.mark.parametrize("rate", [-1, 10001])
def test_apply_rate_refuses_rates_out_of_range(rate):
    with pytest.raises(MoneyError):
        apply_rate(1000, rate)


def test_apply_rate_refuses_floats():
    with pytest.raises(TypeError):
        apply_rate(1000.0, 8000)
    with pytest.raises(TypeError):
        apply_rate(1000, 80.0)


@given(
    st.integers(min_value=-(10**15), max_value=10**15),
    st.integers(min_value=0, max_value=10000),
)
def test_apply_rate_is_exact_floor(amount, rate):
    exact = Fraction(amount) * Fraction(rate, 10000)
    result = apply_rate(amount, rate)
    assert result == exact.__floor__()
    assert result <= exact < result + 1


@pytest.mark.parametrize(
    ("rate", "label"),
    [
        (8000, "80 %"),
        (7250, "72,5 %"),
        (7225, "72,25 %"),
        (5, "0,05 %"),
        (0, "0 %"),
        (10000, "100 %"),
    ],
)
def test_percent_label(rate, label):
    assert percent_label(rate) == label


def test_format_hundredths():
    assert [format_hundredths(v) for v in (300, 250, 205, -5)] == ["3", "2,5", "2,05", "-0,05"]


@given(st.integers(min_value=0, max_value=10000))
def test_percent_label_round_trip(rate):
    assert rate_from_percent(percent_label(rate)) == rate
