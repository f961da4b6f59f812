"""The insurer ``config_json``, checked.

Format (every key optional)::

    {
      "bareme_version": "STAR-2026.1",
      "bareme": {"pharmacy": {"PH0001": 5600}, "consultation": {"C1": 45000}},
      "fraud": {"review_threshold": 40, "block_threshold": 75, ...},
      "hospitalization_auto_approve": false,
      "retention_rate": 1.5,
      "reconciliation_cycle": "monthly",
      "ceilings": {"line": {"pharmacy": 1000000}, "claim": 2000000},
      "quantity_limits": {"PH0029": {"quantity": 6, "days": 30}},
      "refill_threshold": 75,
      "max_care_age_days": 30
    }

* ``bareme``: see :mod:`.coverage`; ``fraud``: see :mod:`.fraud`;
* ``ceilings``: the most an eligible amount (quantity x tariff-capped unit
  price) may reach without the insurer looking at it, in millimes, per
  ``line`` and per ``claim``; each is one amount for every care type or an
  object ``{care type or "default": amount}`` overriding
  :data:`DEFAULT_CEILINGS` one by one. A line above its ceiling is not paid
  automatically (``LINE_CEILING``); a claim above its ceiling waits for
  review (``CLAIM_CEILING``);
* ``quantity_limits``: per code, at most ``quantity`` units within ``days``
  (see :mod:`.history`), beyond the catalogue's own per-act limits;
* ``refill_threshold``: percentage (1 to 100, default 75) of a drug's
  supply that must have elapsed before it is dispensed again
  (``REFILL_TOO_SOON``);
* ``max_care_age_days``: a claim whose care date is older than this many
  days (1 to 365, default 30) when it is received waits for review
  (``LATE_CLAIM``);
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
from types import MappingProxyType
from typing import Any

from .catalogue import CARE_TYPE_LABELS, CARE_TYPES
from .coverage import MAX_CODE_LENGTH, parse_bareme
from .errors import ConfigError, MoneyError, refuse_unknown_keys
from .fraud import FraudConfig, parse_fraud_config
from .history import QuantityLimit, history_days
from .money import format_tnd, rate_from_percent
from .text import normalize_code

__all__ = [
    "DEFAULT_CEILINGS",
    "RECONCILIATION_CYCLES",
    "InsurerSettings",
    "history_window",
    "parse_insurer_config",
]

RECONCILIATION_CYCLES: tuple[str, ...] = ("weekly", "monthly", "quarterly")

#: Default ceilings of the eligible amount, in millimes: ``{"line"|"claim": {care type: amount}}``.
DEFAULT_CEILINGS: Mapping[str, Mapping[str, int]] = MappingProxyType(
    {
        "line": MappingProxyType(
            {"pharmacy": 1_000_000, "consultation": 500_000, "lab": 500_000, "hospitalization": 20_000_000}
        ),
        "claim": MappingProxyType(
            {"pharmacy": 2_000_000, "consultation": 1_000_000, "lab": 1_500_000, "hospitalization": 50_000_000}
        ),
    }
)
MAX_CEILING = 1_000_000_000


@dataclass(frozen=True, slots=True)
class InsurerSettings:
    """A checked insurer ``config_json`` (rates in basis points)."""

    bareme_version: str | None = None
    bareme: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    fraud: FraudConfig = field(default_factory=FraudConfig)
    hospitalization_auto_approve: bool = False
    retention_rate_bp: int = 0
    reconciliation_cycle: str = "monthly"
    line_ceilings: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_CEILINGS["line"]))
    claim_ceilings: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_CEILINGS["claim"]))
    quantity_limits: Mapping[str, QuantityLimit] = field(default_factory=dict)
    refill_threshold: int = 75
    max_care_age_days: int = 30


def _bounded(key: str, value: object, low: int, high: int, unit: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"Configuration assureur : « {key} » doit être un entier de {low} à {high}{unit}.")
    return value


def _ceilings(raw: object) -> tuple[dict[str, int], dict[str, int]]:
    if raw is None:
        return dict(DEFAULT_CEILINGS["line"]), dict(DEFAULT_CEILINGS["claim"])
    if not isinstance(raw, Mapping):
        raise ConfigError('Configuration assureur : « ceilings » doit être un objet {"line": ..., "claim": ...}.')
    refuse_unknown_keys("Configuration assureur, plafonds", raw, ("line", "claim"))
    out = []
    for kind, name in (("line", "par ligne"), ("claim", "par demande")):
        value = raw.get(kind)
        merged = dict(DEFAULT_CEILINGS[kind])
        where = f"Plafond {name}"
        bounds = f"un montant en millimes de 1 à {MAX_CEILING} ({format_tnd(MAX_CEILING)})"
        if value is None:
            pass
        elif isinstance(value, int) and not isinstance(value, bool):
            if not 1 <= value <= MAX_CEILING:
                raise ConfigError(f"{where} : {bounds} est attendu.")
            merged = dict.fromkeys(CARE_TYPES, value)
        elif isinstance(value, Mapping):
            default = value.get("default")
            if default is not None:
                if isinstance(default, bool) or not isinstance(default, int) or not 1 <= default <= MAX_CEILING:
                    raise ConfigError(f"{where}, par défaut : {bounds} est attendu.")
                merged = dict.fromkeys(CARE_TYPES, default)
            for care_type, amount in value.items():
                if care_type == "default":
                    continue
                if care_type not in CARE_TYPES:
                    raise ConfigError(f"{where} : type de soin inconnu « {care_type} ».")
                if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= MAX_CEILING:
                    raise ConfigError(f"{where}, {CARE_TYPE_LABELS[care_type].lower()} : {bounds} est attendu.")
                merged[care_type] = amount
        else:
            raise ConfigError(f"{where} : un montant ou un objet {{type de soin: montant}} est attendu.")
        out.append(merged)
    return out[0], out[1]


def _quantity_limits(raw: object) -> dict[str, QuantityLimit]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(
            'Configuration assureur : « quantity_limits » doit être un objet {"CODE": {"quantity": n, "days": j}}.'
        )
    limits: dict[str, QuantityLimit] = {}
    for code, entry in raw.items():
        if not isinstance(code, str) or not code.strip() or len(code.strip()) > MAX_CODE_LENGTH:
            raise ConfigError("Limites de quantité : code vide ou trop long.")
        if not isinstance(entry, Mapping) or set(entry) != {"quantity", "days"}:
            raise ConfigError(
                f"Limites de quantité, code « {code} » : un objet {{\"quantity\": n, \"days\": j}} est attendu."
            )
        limits[normalize_code(code)] = QuantityLimit(
            _bounded(f"quantity_limits.{code}.quantity", entry["quantity"], 0, 999),
            _bounded(f"quantity_limits.{code}.days", entry["days"], 1, 365, " jours"),
        )
    return limits


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
    line_ceilings, claim_ceilings = _ceilings(config.get("ceilings"))
    return InsurerSettings(
        line_ceilings=line_ceilings,
        claim_ceilings=claim_ceilings,
        quantity_limits=_quantity_limits(config.get("quantity_limits")),
        refill_threshold=_bounded("refill_threshold", config.get("refill_threshold", 75), 1, 100, " (%)"),
        max_care_age_days=_bounded("max_care_age_days", config.get("max_care_age_days", 30), 1, 365, " jours"),
        bareme_version=version.strip() if version else None,
        bareme=parse_bareme(config.get("bareme") or {}),
        fraud=parse_fraud_config(config.get("fraud")),
        hospitalization_auto_approve=auto,
        retention_rate_bp=retention_bp,
        reconciliation_cycle=cycle,
    )


def history_window(config: Mapping[str, Any] | None, care_type: str) -> int:
    """Days either side of the care date whose claims of the member the engine must see
    (:func:`.history.history_days`), read from the settings it depends on only (cheap: the
    barème is not parsed). Raises :class:`ConfigError` like :func:`parse_insurer_config`."""
    config = config if isinstance(config, Mapping) else {}
    fraud = parse_fraud_config(config.get("fraud"))
    return history_days(care_type, fraud.duplicate_window_days, _quantity_limits(config.get("quantity_limits")))
