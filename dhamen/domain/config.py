"""The insurer ``config_json``, checked.

Format (every key optional)::

    {
      "bareme_version": "STAR-2026.1",
      "bareme": {"pharmacy": {"PH0001": 5600}, "consultation": {"C1": 45000}},
      "fraud": {"review_threshold": 40, "block_threshold": 75, ...},
      "hospitalization_auto_approve": false,
      "retention_rate": 1.5,
      "reconciliation_cycle": "monthly"
    }

* ``bareme``: see :mod:`.coverage`; ``fraud``: see :mod:`.fraud`;
* ``hospitalization_auto_approve`` (default ``false``): when false, every
  eligible hospitalization claim waits for the insurer's agreement
  (``pending_review``);
* ``retention_rate``: percentage (0 to 100, 2 decimals) withheld from what
  the insurer owes each provider on a reconciliation (default 0);
* ``reconciliation_cycle``: ``"weekly"``, ``"monthly"`` (default) or
  ``"quarterly"``.

Other top-level keys are left alone (the application may keep its own
settings there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .coverage import parse_bareme
from .errors import ConfigError, MoneyError
from .fraud import FraudConfig, parse_fraud_config
from .money import rate_from_percent

__all__ = ["RECONCILIATION_CYCLES", "InsurerSettings", "parse_insurer_config"]

RECONCILIATION_CYCLES: tuple[str, ...] = ("weekly", "monthly", "quarterly")


@dataclass(frozen=True, slots=True)
class InsurerSettings:
    """A checked insurer ``config_json`` (rates in basis points)."""

    bareme_version: str | None = None
    bareme: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    fraud: FraudConfig = field(default_factory=FraudConfig)
    hospitalization_auto_approve: bool = False
    retention_rate_bp: int = 0
    reconciliation_cycle: str = "monthly"


def parse_insurer_config(config: Mapping[str, Any] | None) -> InsurerSettings:
    """Check an insurer ``config_json`` and fill in the defaults.

    Raises :class:`ConfigError` with a French message naming the setting.
    """
    if config is None:
        return InsurerSettings()
    if not isinstance(config, Mapping):
        raise ConfigError("Configuration assureur : un objet JSON est attendu.")
    version = config.get("bareme_version")
    if version is not None and (not isinstance(version, str) or not version.strip()):
        raise ConfigError("Configuration assureur : « bareme_version » doit être un texte non vide.")
    auto = config.get("hospitalization_auto_approve", False)
    if not isinstance(auto, bool):
        raise ConfigError(
            "Configuration assureur : « hospitalization_auto_approve » doit valoir true ou false."
        )
    retention = config.get("retention_rate", 0)
    if not isinstance(retention, int | float | str):
        raise ConfigError("Configuration assureur : « retention_rate » doit être un pourcentage.")
    try:
        retention_bp = rate_from_percent(retention)
    except MoneyError as exc:
        raise ConfigError(f"Configuration assureur, taux de retenue : {exc}") from None
    cycle = config.get("reconciliation_cycle", "monthly")
    if cycle not in RECONCILIATION_CYCLES:
        raise ConfigError(
            "Configuration assureur : « reconciliation_cycle » doit valoir "
            + ", ".join(RECONCILIATION_CYCLES)
            + "."
        )
    return InsurerSettings(
        bareme_version=version.strip() if version else None,
        bareme=parse_bareme(config.get("bareme") or {}),
        fraud=parse_fraud_config(config.get("fraud")),
        hospitalization_auto_approve=auto,
        retention_rate_bp=retention_bp,
        reconciliation_cycle=cycle,
    )
