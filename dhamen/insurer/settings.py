"""An insurer's ``config_json`` edited through forms (never raw JSON), and its conventions' tariffs.

Each form gives a *new* configuration built from the current one; the
domain's ``parse_insurer_config`` (or ``parse_convention``) checks it before
anything is saved, the audit row keeps what changed (before → after), and
only new claims see it: a stored claim keeps the ``bareme_version`` it was
priced with, so a barème whose tariffs change must get a new version label.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from dhamen.domain.catalogue import CARE_TYPES, find
from dhamen.domain.config import DEFAULT_CEILINGS, MAX_CEILING, RECONCILIATION_CYCLES, parse_insurer_config
from dhamen.domain.coverage import MAX_CODE_LENGTH, MAX_UNIT_PRICE, parse_convention
from dhamen.domain.errors import ConfigError, MoneyError
from dhamen.domain.fraud import DEFAULT_POINTS, parse_fraud_config
from dhamen.domain.labels import CARE_TYPE_LABELS
from dhamen.domain.money import format_hundredths, format_tnd, parse_tnd, rate_from_percent
from dhamen.domain.reasons import label as reason_label
from dhamen.domain.text import normalize_code

CYCLE_LABELS = {"weekly": "Hebdomadaire", "monthly": "Mensuel", "quarterly": "Trimestriel"}
FRAUD_INTS = {  # key: (label, low, high)
    "review_threshold": ("Seuil de contrôle (score)", 0, 100),
    "block_threshold": ("Seuil de blocage (score)", 1, 100),
    "duplicate_window_days": ("Fenêtre des doublons (jours)", 0, 365),
    "max_claims_per_30_days": ("Demandes au plus sur 30 jours", 1, 1000),
    "distance_km": ("Distance inhabituelle (km)", 1, 20_000),
}
MAX_IMPORT_ROWS = 5000
MAX_VERSION = 100


class SettingsError(ValueError):
    """Form errors: ``{field: French message}`` (``"__all__"`` for the form as a whole)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(next(iter(errors.values())))
        self.errors = errors


def _percent_text(rate_bp: int) -> str:
    """``8500`` → ``85``, ``7250`` → ``72,5``: the percentage as the admin typed it (a re-saved form keeps it)."""
    return format_hundredths(rate_bp)


# --- general settings ------------------------------------------------------------------------

def general_values(config: Mapping[str, Any]) -> dict[str, str]:
    s = parse_insurer_config(config)
    return {"hospitalization_auto_approve": "1" if s.hospitalization_auto_approve else "",
            "retention_rate": _percent_text(s.retention_rate_bp), "reconciliation_cycle": s.reconciliation_cycle}


def apply_general(config: Mapping[str, Any], form: Mapping[str, str]) -> dict:
    errors: dict[str, str] = {}
    new = dict(config)
    new["hospitalization_auto_approve"] = form.get("hospitalization_auto_approve") == "1"
    raw = (form.get("retention_rate") or "").strip().replace(",", ".") or "0"
    try:
        rate_from_percent(raw)
        new["retention_rate"] = float(raw) if "." in raw else int(raw)
    except (MoneyError, ValueError) as exc:
        errors["retention_rate"] = f"Taux de retenue : {exc}"
    cycle = form.get("reconciliation_cycle", "")
    if cycle not in RECONCILIATION_CYCLES:
        errors["reconciliation_cycle"] = "Choisissez le cycle des bordereaux."
    new["reconciliation_cycle"] = cycle
    return _checked(new, errors)


def _checked(new: dict, errors: dict[str, str], parse=parse_insurer_config) -> dict:
    """``new`` once the form had no error and the domain's parser accepts it; else :class:`SettingsError`."""
    if errors:
        raise SettingsError(errors)
    try:
        parse(new)
    except ConfigError as exc:
        raise SettingsError({"__all__": str(exc)}) from None
    return new


# --- fraud -------------------------------------------------------------------------------------

def fraud_values(config: Mapping[str, Any]) -> dict[str, str]:
    f = parse_insurer_config(config).fraud
    out = {key: str(getattr(f, key)) for key in FRAUD_INTS}
    out["amount_factor"] = format_hundredths(f.amount_factor_x100)
    out |= {f"points-{code}": str(points) for code, points in f.points.items()}
    return out


def apply_fraud(config: Mapping[str, Any], form: Mapping[str, str]) -> dict:
    errors: dict[str, str] = {}
    fraud = dict(config.get("fraud") or {})
    for key, (label, low, high) in FRAUD_INTS.items():
        raw = (form.get(key) or "").strip()
        if not raw.isdigit() or not low <= int(raw) <= high:
            errors[key] = f"{label} : un entier de {low} à {high}."
        else:
            fraud[key] = int(raw)
    factor = (form.get("amount_factor") or "").strip().replace(",", ".")
    fraud["amount_factor"] = factor
    points = {}
    for code in DEFAULT_POINTS:
        raw = (form.get(f"points-{code}") or "").strip()
        if not raw.isdigit() or int(raw) > 100:
            errors[f"points-{code}"] = f"{reason_label(code)} : un nombre de points de 0 à 100."
        else:
            points[code] = int(raw)
    fraud["points"] = points
    if not errors:
        try:
            parse_fraud_config(fraud)
        except ConfigError as exc:
            errors["__all__"] = str(exc)
    return _checked({**config, "fraud": fraud}, errors)


# --- ceilings and quantity limits ------------------------------------------------------------

CEILING_KINDS = {"line": "Plafond par ligne", "claim": "Plafond par demande"}
LIMIT_INTS = {  # key: (label, low, high, default)
    "refill_threshold": ("Renouvellement : part du traitement écoulée (%)", 1, 100, 75),
    "max_care_age_days": ("Ancienneté maximale des soins (jours)", 1, 365, 30),
}
MAX_QUANTITY_LIMITS = 500


def _find_label(code: str) -> str:
    for care_type in CARE_TYPES:
        item = find(care_type, code)
        if item is not None:
            return f"{item.label} ({CARE_TYPE_LABELS[care_type].lower()})"
    return "Hors catalogue"


def limits_values(config: Mapping[str, Any]) -> dict[str, Any]:
    """The ceilings (TND, per kind and care type), the quantity limits' rows and the two delays, as the form shows them."""
    s = parse_insurer_config(config)
    out: dict[str, Any] = {f"ceil-{kind}-{t}": format_tnd(getattr(s, f"{kind}_ceilings")[t], with_unit=False)
                           for kind in CEILING_KINDS for t in CARE_TYPES}
    out["refill_threshold"] = str(s.refill_threshold)
    out["max_care_age_days"] = str(s.max_care_age_days)
    out["rows"] = [{"code": code, "label": _find_label(code), "quantity": str(limit.quantity), "days": str(limit.days)}
                   for code, limit in sorted(s.quantity_limits.items())]
    return out


def posted_quantity_rows(form: Mapping[str, str]) -> list[dict]:
    """The quantity limits' rows as posted (``qty-<n>-code`` / ``-quantity`` / ``-days``), blank ones left out."""
    rows = []
    for n in _row_numbers(form, "qty"):
        row = {k: (form.get(f"qty-{n}-{k}") or "").strip() for k in ("code", "quantity", "days")}
        if any(row.values()):
            rows.append(row)
    return rows


def _row_numbers(form: Mapping[str, str], prefix: str) -> list[int]:
    return sorted({int(k.split("-")[1]) for k in form if k.startswith(f"{prefix}-") and k.count("-") == 2
                   and k.split("-")[1].isdigit() and len(k.split("-")[1]) <= 4})


def _whole(raw: str, label: str, low: int, high: int, errors: dict[str, str], key: str) -> int | None:
    raw = (raw or "").strip()
    if not raw.isdigit() or len(raw) > 6 or not low <= int(raw) <= high:
        errors[key] = f"{label} : un nombre entier de {low} à {high}."
        return None
    return int(raw)


def apply_limits(config: Mapping[str, Any], form: Mapping[str, str]) -> dict:
    """New configuration with the form's ceilings (TND), quantity limits and delays; checked by the domain."""
    errors: dict[str, str] = {}
    ceilings: dict[str, dict[str, int]] = {}
    for kind, name in CEILING_KINDS.items():
        ceilings[kind] = {}
        for care_type in CARE_TYPES:
            key = f"ceil-{kind}-{care_type}"
            where = f"{name}, {CARE_TYPE_LABELS[care_type].lower()}"
            raw = (form.get(key) or "").strip()
            try:
                amount = parse_tnd(raw)
            except MoneyError as exc:
                errors[key] = f"{where} : {exc}"
                continue
            if not 1 <= amount <= MAX_CEILING:
                errors[key] = f"{where} : un montant de {format_tnd(1)} à {format_tnd(MAX_CEILING)}."
                continue
            ceilings[kind][care_type] = amount
    for care_type in CARE_TYPES:
        line, claim = ceilings["line"].get(care_type), ceilings["claim"].get(care_type)
        if line is not None and claim is not None and line > claim:
            errors[f"ceil-line-{care_type}"] = (
                f"{CARE_TYPE_LABELS[care_type]} : le plafond par ligne ({format_tnd(line)}) ne peut pas dépasser "
                f"le plafond par demande ({format_tnd(claim)}).")
    new = dict(config)
    new["ceilings"] = ceilings
    for key, (label, low, high, _default) in LIMIT_INTS.items():
        value = _whole(form.get(key, ""), label, low, high, errors, key)
        if value is not None:
            new[key] = value
    limits: dict[str, dict[str, int]] = {}
    numbers = _row_numbers(form, "qty")
    for n in numbers:
        raw = {k: (form.get(f"qty-{n}-{k}") or "").strip() for k in ("code", "quantity", "days")}
        if not any(raw.values()):
            continue
        where = f"Limite {n + 1}"
        code = _code(raw["code"], where, errors, f"qty-{n}-code")
        quantity = _whole(raw["quantity"], f"{where}, quantité", 0, 999, errors, f"qty-{n}-quantity")
        days = _whole(raw["days"], f"{where}, période", 1, 365, errors, f"qty-{n}-days")
        if code and code in limits:
            errors[f"qty-{n}-code"] = f"{where} : le code {code} figure deux fois."
        elif code and quantity is not None and days is not None:
            limits[code] = {"quantity": quantity, "days": days}
    if len(limits) > MAX_QUANTITY_LIMITS:
        errors["__all__"] = f"{MAX_QUANTITY_LIMITS} limites de quantité au plus."
    new["quantity_limits"] = limits
    if not limits:
        new.pop("quantity_limits")
    return _checked(new, errors)


def default_ceilings() -> dict[str, dict[str, str]]:
    """The defaults, in TND, for the form's hints."""
    return {kind: {t: format_tnd(v) for t, v in DEFAULT_CEILINGS[kind].items()} for kind in CEILING_KINDS}


# --- barème ------------------------------------------------------------------------------------

@dataclass
class ImportReport:
    accepted: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (line, text, why)


def bareme_rows(config: Mapping[str, Any], care_type: str) -> list[dict]:
    table = parse_insurer_config(config).bareme.get(care_type, {})
    rows = []
    for code, price in sorted(table.items()):
        item = find(care_type, code)
        rows.append({"code": code, "label": item.label if item else "Hors catalogue", "price": format_tnd(price, with_unit=False)})
    return rows


def _price(raw: str, where: str, errors: dict[str, str], key: str) -> int | None:
    try:
        value = parse_tnd(raw)
    except MoneyError as exc:
        errors[key] = f"{where} : {exc}"
        return None
    if not 1 <= value <= MAX_UNIT_PRICE:
        errors[key] = f"{where} : un tarif de {format_tnd(1)} à {format_tnd(MAX_UNIT_PRICE)}."
        return None
    return value


def _code(raw: str, where: str, errors: dict[str, str], key: str) -> str | None:
    code = normalize_code(raw or "")
    if not code or len(code) > MAX_CODE_LENGTH or not all(c.isalnum() or c in "-_." for c in code):
        errors[key] = f"{where} : code invalide (lettres, chiffres, - _ . ; {MAX_CODE_LENGTH} caractères au plus)."
        return None
    return code


def read_tariff_rows(form: Mapping[str, str], prefix: str = "rows") -> tuple[dict[str, int], dict[str, str]]:
    """``rows-<n>-code`` / ``rows-<n>-price`` (TND); a row without code and price is ignored."""
    errors: dict[str, str] = {}
    table: dict[str, int] = {}
    numbers = sorted({int(k.split("-")[1]) for k in form if k.startswith(f"{prefix}-") and k.count("-") == 2
                      and k.split("-")[1].isdigit() and len(k.split("-")[1]) <= 4})
    for n in numbers:
        raw_code = (form.get(f"{prefix}-{n}-code") or "").strip()
        raw_price = (form.get(f"{prefix}-{n}-price") or "").strip()
        if not raw_code and not raw_price:
            continue
        where = f"Ligne {n + 1}"
        code = _code(raw_code, where, errors, f"{prefix}-{n}-code")
        price = _price(raw_price, where, errors, f"{prefix}-{n}-price") if raw_price else None
        if raw_price == "":
            errors[f"{prefix}-{n}-price"] = f"{where} : tarif manquant (videz aussi le code pour retirer la ligne)."
        if code and code in table:
            errors[f"{prefix}-{n}-code"] = f"{where} : le code {code} figure deux fois."
        if code and price:
            table[code] = price
    return table, errors


def _version(form: Mapping[str, str], current: str | None, changed: bool, errors: dict[str, str]) -> str | None:
    version = (form.get("version") or "").strip()
    if not version:
        errors["version"] = "Indiquez la version du barème (par exemple STAR-2026.2)."
    elif len(version) > MAX_VERSION:
        errors["version"] = f"Version : {MAX_VERSION} caractères au plus."
    elif changed and version == (current or ""):
        errors["version"] = (f"Les tarifs changent : donnez une nouvelle version au barème (actuelle : {current}). "
                             "Les demandes déjà saisies gardent la version avec laquelle elles ont été calculées.")
    return version or None


def apply_bareme(config: Mapping[str, Any], care_type: str, form: Mapping[str, str]) -> dict:
    table, errors = read_tariff_rows(form)
    bareme = {k: dict(v) for k, v in (config.get("bareme") or {}).items()}
    changed = parse_insurer_config(config).bareme.get(care_type, {}) != table
    version = _version(form, config.get("bareme_version"), changed, errors)
    bareme[care_type] = table
    if not table:
        bareme.pop(care_type)
    return _checked({**config, "bareme": bareme, "bareme_version": version}, errors)


def import_bareme(config: Mapping[str, Any], data: bytes, form: Mapping[str, str]) -> tuple[dict | None, ImportReport]:
    """A CSV ``type;code;tarif`` (TND; ``,`` also accepted as separator; header optional): every row is
    checked and reported; nothing is imported unless every row is accepted."""
    report = ImportReport()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        report.rejected.append((0, "", "Le fichier n'est pas un texte UTF-8."))
        return None, report
    lines = text.splitlines()
    if len(lines) > MAX_IMPORT_ROWS + 1:
        report.rejected.append((0, "", f"{MAX_IMPORT_ROWS} lignes au plus par import."))
        return None, report
    dialect = csv.excel
    sample = "\n".join(lines[:5])
    delimiter = ";" if sample.count(";") >= sample.count(",") else ","
    bareme = {k: dict(v) for k, v in parse_insurer_config(config).bareme.items()}
    labels = {v.lower(): k for k, v in CARE_TYPE_LABELS.items()}
    seen: set[tuple[str, str]] = set()
    for number, row in enumerate(csv.reader(io.StringIO(text), dialect, delimiter=delimiter), 1):
        raw = delimiter.join(row)
        if not any(cell.strip() for cell in row):
            continue
        if number == 1 and row and row[0].strip().lower() in ("type", "type de soin", "care_type"):
            continue
        if len(row) != 3:
            report.rejected.append((number, raw, "3 colonnes attendues : type de soin ; code ; tarif (TND)."))
            continue
        care_type = row[0].strip()
        care_type = labels.get(care_type.lower(), care_type.lower())
        if care_type not in CARE_TYPES:
            report.rejected.append((number, raw, f"Type de soin inconnu « {row[0].strip()} »."))
            continue
        errors: dict[str, str] = {}
        code = _code(row[1], "Code", errors, "code")
        price = _price(row[2].strip(), "Tarif", errors, "price")
        if errors:
            report.rejected.append((number, raw, " ".join(errors.values())))
            continue
        if (care_type, code) in seen:
            report.rejected.append((number, raw, f"Le code {code} figure deux fois pour ce type de soin."))
            continue
        seen.add((care_type, code))
        bareme.setdefault(care_type, {})[code] = price
        report.accepted += 1
    if not report.accepted and not report.rejected:
        report.rejected.append((0, "", "Le fichier ne contient aucune ligne."))
    if report.rejected:
        return None, report
    errors: dict[str, str] = {}
    version = _version(form, config.get("bareme_version"), True, errors)
    if errors:
        report.rejected.append((0, "", errors["version"]))
        return None, report
    try:
        return _checked({**config, "bareme": bareme, "bareme_version": version}, {}), report
    except SettingsError as exc:
        report.rejected.append((0, "", str(exc)))
        return None, report


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict:
    """What changed, for the audit row: top-level keys before → after; the barème as changed codes."""
    out: dict[str, Any] = {}
    for key in sorted(set(before) | set(after)):
        if key == "bareme":
            old = parse_insurer_config({"bareme": before.get("bareme") or {}}).bareme
            new = parse_insurer_config({"bareme": after.get("bareme") or {}}).bareme
            diff = []
            for care_type in sorted(set(old) | set(new)):
                a, b = old.get(care_type, {}), new.get(care_type, {})
                diff += [{"type": care_type, "code": c, "before": a.get(c), "after": b.get(c)}
                         for c in sorted(set(a) | set(b)) if a.get(c) != b.get(c)]
            if diff:
                out["bareme"] = diff
        elif before.get(key) != after.get(key):
            out[key] = {"before": before.get(key), "after": after.get(key)}
    return out


# --- conventions -------------------------------------------------------------------------------

def convention_values(bareme_json: Mapping[str, Any] | None) -> dict[str, Any]:
    c = parse_convention(bareme_json or {})
    return {"version": c.version or "",
            "rates": {t: _percent_text(c.rates_bp[t]) if t in c.rates_bp else "" for t in CARE_TYPES},
            "generic_rate": _percent_text(c.generic_rate_bp) if c.generic_rate_bp is not None else "",
            "rows": [{"code": k, "price": format_tnd(v, with_unit=False)} for k, v in sorted(c.tariffs.items())]}


def convention_json(form: Mapping[str, str]) -> dict:
    """The convention's ``bareme_json`` from its form, checked by ``parse_convention``."""
    table, errors = read_tariff_rows(form)
    out: dict[str, Any] = {"tariffs": table}
    version = (form.get("version") or "").strip()
    if len(version) > MAX_VERSION:
        errors["version"] = f"Version : {MAX_VERSION} caractères au plus."
    if version:
        out["version"] = version
    rates = {}
    for care_type in CARE_TYPES:
        raw = (form.get(f"rate-{care_type}") or "").strip().replace(",", ".")
        if raw:
            try:
                rate_from_percent(raw)
                rates[care_type] = raw
            except MoneyError as exc:
                errors[f"rate-{care_type}"] = f"Taux {CARE_TYPE_LABELS[care_type].lower()} : {exc}"
    if rates:
        out["rates"] = rates
    generic = (form.get("generic_rate") or "").strip().replace(",", ".")
    if generic:
        try:
            rate_from_percent(generic)
            out["generic_rate"] = generic
        except MoneyError as exc:
            errors["generic_rate"] = f"Taux générique : {exc}"
    return _checked(out, errors, parse_convention)


# --- form helpers shared by the insurer's and the platform admin's convention pages -------------

BLANK_ROWS = 5  # empty rows offered under the tariff and limit rows of a form


def posted_rows(form) -> list[dict]:
    """The tariff rows as posted (to show them again with their errors)."""
    numbers = sorted({int(k.split("-")[1]) for k in form if k.startswith("rows-") and k.count("-") == 2
                      and k.split("-")[1].isdigit() and len(k.split("-")[1]) <= 4})
    rows = [{"code": form.get(f"rows-{n}-code", ""), "price": form.get(f"rows-{n}-price", "")} for n in numbers]
    return [r for r in rows if r["code"] or r["price"]]


def convention_dates(form, errors) -> tuple[date | None, date | None]:
    out = []
    for name, label in (("start_date", "Date de début"), ("end_date", "Date de fin")):
        raw = (form.get(name) or "").strip()
        value = None
        if raw:
            try:
                value = date.fromisoformat(raw)
            except ValueError:
                errors[name] = f"{label} invalide (AAAA-MM-JJ)."
        elif name == "start_date":
            errors[name] = "Date de début obligatoire."
        out.append(value)
    if out[0] and out[1] and out[1] < out[0]:
        errors["end_date"] = "La date de fin précède la date de début."
    return out[0], out[1]


def convention_json_or_errors(form) -> tuple[dict | None, dict]:
    errors: dict[str, str] = {}
    try:
        return convention_json(form), errors
    except SettingsError as exc:
        return None, exc.errors
