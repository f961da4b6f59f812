"""Insurer config_json parsing."""

import pytest

from dhamen.domain.config import InsurerSettings, parse_insurer_config
from dhamen.domain.errors import ConfigError
from dhamen.domain.fraud import FraudConfig


def test_defaults():
    assert parse_insurer_config(None) == InsurerSettings()
    settings = parse_insurer_config({})
    assert settings.bareme_version is None
    assert settings.bareme == {}
    assert settings.fraud == FraudConfig()
    assert settings.hospitalization_auto_approve is False
    assert settings.retention_rate_bp == 0
    assert settings.reconciliation_cycle == "monthly"


def test_full_config():
    settings = parse_insurer_config(
        {
            "bareme_version": " STAR-2026.1 ",
            "bareme": {"pharmacy": {"ph0001": 12345}},
            "fraud": {"review_threshold": 30},
            "hospitalization_auto_approve": True,
            "retention_rate": 1.5,
            "reconciliation_cycle": "weekly",
            "theme": "ignored by the engine",
        }
    )
    assert settings.bareme_version == "STAR-2026.1"
    assert settings.bareme == {"pharmacy": {"PH0001": 12345}}
    assert settings.fraud.review_threshold == 30
    assert settings.hospitalization_auto_approve is True
    assert settings.retention_rate_bp == 150
    assert settings.reconciliation_cycle == "weekly"


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ("{}", "objet JSON"),
        ({"bareme_version": 2026}, "bareme_version"),
        ({"hospitalization_auto_approve": "yes"}, "hospitalization_auto_approve"),
        ({"retention_rate": 101}, "taux de retenue"),
        ({"retention_rate": [1]}, "retention_rate"),
        ({"retention_rate": "1,555"}, "taux de retenue"),
        ({"reconciliation_cycle": "daily"}, "reconciliation_cycle"),
        ({"bareme": {"pharmacy": {"PH0001": 1.5}}}, "PH0001"),
        ({"fraud": {"block_threshold": 200}}, "block_threshold"),
    ],
)
def test_errors(config, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_insurer_config(config)
