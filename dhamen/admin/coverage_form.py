"""The structured coverage form ⇄ ``coverage_json`` / ``exclusions_json`` (no Flask).

The form has, per care type of :data:`~dhamen.domain.catalogue.CARE_TYPES`, a
"covered" box, a rate and an optional generic rate (percent, ``72,5`` accepted),
and for hospitalization an optional room-day cap in TND.  :func:`coverage_from_form`
builds exactly the JSON :func:`~dhamen.domain.eligibility.parse_coverage` accepts
and runs it through that parser, so the contract saved is the contract the engine
reads; every error names the care type and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dhamen.domain.catalogue import CARE_TYPE_LABELS, CARE_TYPES
from dhamen.domain.eligibility import parse_coverage, parse_exclusions
from dhamen.domain.errors import ConfigError, MoneyError
from dhamen.domain.money import format_tnd, parse_tnd, rate_from_percent

ROOM_CAP_CARE_TYPES = ("hospitalization",)


def _percent_json(text: str) -> int | str:
    """A typed percentage as stored: an int when whole (``80``), else a dotted string (``"72.5"``)."""
    bp = rate_from_percent(text)
    return bp // 100 if bp % 100 == 0 else f"{bp // 100}.{bp % 100:02d}".rstrip("0")


def _percent_text(value: Any) -> str:
    if value is None:
        return ""
    bp = rate_from_percent(value)
    whole, rest = divmod(bp, 100)
    return str(whole) if rest == 0 else f"{whole},{rest:02d}".rstrip("0")


def coverage_from_form(form: Mapping[str, str]) -> tuple[dict, list[str]]:
    """(coverage_json, French errors) from the posted fields ``<care>_covered``, ``<care>_rate``…"""
    coverage: dict[str, dict] = {}
    errors: list[str] = []
    for care in CARE_TYPES:
        label = CARE_TYPE_LABELS[care]
        if not form.get(f"{care}_covered"):
            continue
        entry: dict[str, Any] = {}
        rate = (form.get(f"{care}_rate") or "").strip()
        if not rate:
            errors.append(f"Couverture {label}, taux : obligatoire pour un type de soin couvert.")
        else:
            try:
                entry["rate"] = _percent_json(rate)
            except MoneyError as exc:
                errors.append(f"Couverture {label}, taux : {exc}")
        generic = (form.get(f"{care}_generic_rate") or "").strip()
        if generic:
            try:
                entry["generic_rate"] = _percent_json(generic)
            except MoneyError as exc:
                errors.append(f"Couverture {label}, taux générique : {exc}")
        cap = (form.get(f"{care}_room_day_cap") or "").strip() if care in ROOM_CAP_CARE_TYPES else ""
        if cap:
            try:
                millimes = parse_tnd(cap)
            except MoneyError as exc:
                errors.append(f"Couverture {label}, plafond journalier de chambre : {exc}")
            else:
                if millimes <= 0:
                    errors.append(f"Couverture {label}, plafond journalier de chambre : un montant strictement "
                                  "positif est attendu.")
                else:
                    entry["room_day_cap"] = millimes
        coverage[care] = entry
    if not coverage and not errors:
        errors.append("Couverture : cochez au moins un type de soin couvert.")
    if not errors:
        try:
            parse_coverage(coverage)
        except ConfigError as exc:
            errors.append(str(exc))
    return coverage, errors


def exclusions_from_text(text: str) -> tuple[list[str], list[str]]:
    """(exclusions_json, errors) from one entry per line (or separated by commas / semicolons)."""
    entries = [part.strip() for line in (text or "").splitlines() for part in line.replace(";", ",").split(",")]
    entries = [e for e in entries if e]
    if len(entries) > 200:
        return [], ["Exclusions : 200 au plus."]
    too_long = [e for e in entries if len(e) > 64]
    if too_long:
        return [], [f"Exclusions : « {too_long[0][:20]}… » dépasse 64 caractères."]
    try:
        return list(parse_exclusions(entries)), []
    except ConfigError as exc:
        return [], [f"Exclusions : {exc}"]


def form_from_coverage(coverage: Mapping[str, Any] | None) -> dict[str, str]:
    """The form's initial values for a stored ``coverage_json``."""
    values: dict[str, str] = {}
    for care, entry in (coverage or {}).items():
        if care not in CARE_TYPES or not isinstance(entry, Mapping):
            continue
        values[f"{care}_covered"] = "on"
        values[f"{care}_rate"] = _percent_text(entry.get("rate"))
        values[f"{care}_generic_rate"] = _percent_text(entry.get("generic_rate"))
        if entry.get("room_day_cap"):
            values[f"{care}_room_day_cap"] = format_tnd(entry["room_day_cap"], with_unit=False)
    return values


def coverage_rows(values: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per care type for the template (labels, field names, values)."""
    return [{"care": care, "label": CARE_TYPE_LABELS[care], "covered": bool(values.get(f"{care}_covered")),
             "rate": values.get(f"{care}_rate", ""), "generic_rate": values.get(f"{care}_generic_rate", ""),
             "room_day_cap": values.get(f"{care}_room_day_cap", ""), "has_room_cap": care in ROOM_CAP_CARE_TYPES}
            for care in CARE_TYPES]
