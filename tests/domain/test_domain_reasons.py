"""Reason codes: stable identifiers with French labels."""

import re

from dhamen.domain import reasons
from dhamen.domain.reasons import REASONS, label

REQUIRED = {
    "NOT_COVERED",
    "EXCLUDED",
    "CARENCE",
    "LIMIT_REACHED",
    "LIMIT_PARTIAL",
    "PRICE_CAPPED",
    "GENERIC_RATE",
    "CONVENTION_RATE",
    "CONVENTION_TARIFF",
    "BAREME_TARIFF",
    "CONTRACT_RATE",
    "DUPLICATE",
    "CONTRACT_INACTIVE",
    "CONTRACT_NOT_STARTED",
    "CONTRACT_ENDED",
    "NO_TARIFF",
}


def test_required_codes_are_listed():
    assert set(REASONS) >= REQUIRED


def test_codes_are_stable_identifiers_with_labels():
    for code, text in REASONS.items():
        assert re.fullmatch(r"[A-Z][A-Z_]+", code)
        assert text.strip()
        assert text[0].isupper()


def test_module_constants_match_the_table():
    constants = {value for name, value in vars(reasons).items() if name.isupper() and isinstance(value, str)}
    assert constants == set(REASONS)
    for value in constants:
        assert getattr(reasons, value) == value


def test_label():
    assert label("CARENCE") == "Période de carence en cours"
    assert label("EXCLUDED") == "Acte ou produit exclu par le contrat"
    assert label("SOMETHING_ELSE") == "SOMETHING_ELSE"


def test_every_code_is_documented():
    doc = reasons.__doc__ or ""
    for code in REASONS:
        assert f"``{code}``" in doc, code
