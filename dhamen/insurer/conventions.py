"""Conventions (insurer ↔ provider agreements): create, change, end — for one given insurer.

The platform admin manages the conventions of any insurer with these operations; they
are built on the insurer portal's own form code (``settings.convention_json_or_errors``,
``convention_values``, ``convention_dates`` and ``posted_rows``), so a
convention entered by either side is read and checked the same way and leaves the same
audit rows (``convention.create`` / ``.update`` / ``.end``, with the insurer named).

Operations flush; the request commits (``core/unit.py``).  A refusal returns the errors
keyed by field (the insurer templates show them) and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import select

from dhamen.core import audit
from dhamen.domain.catalogue import CARE_TYPES
from dhamen.extensions import db
from dhamen.insurer import settings
from dhamen.models import Convention, Insurer, Provider


def form_values(convention: Convention | None, form: Mapping[str, str] | None = None) -> tuple[dict, dict]:
    """(values, dates) for the convention form: as posted (shown again with their errors) or as stored."""
    if form is not None:
        values = {"version": form.get("version", ""), "generic_rate": form.get("generic_rate", ""),
                  "rates": {t: form.get(f"rate-{t}", "") for t in CARE_TYPES}, "rows": settings.posted_rows(form)}
        dates = {"start_date": form.get("start_date", ""), "end_date": form.get("end_date", ""),
                 "provider_id": form.get("provider_id", "")}
    else:
        values = settings.convention_values(convention.bareme_json if convention else {})
        dates = {"start_date": convention.start_date.isoformat() if convention else date.today().isoformat(),
                 "end_date": convention.end_date.isoformat() if convention and convention.end_date else "",
                 "provider_id": convention.provider_id if convention else ""}
    values["rows"] = list(values["rows"]) + [{"code": "", "price": ""}] * settings.BLANK_ROWS
    return values, dates


def create(insurer_id: str | None, form: Mapping[str, str]) -> tuple[Convention | None, dict[str, str]]:
    """A new convention of ``insurer_id`` with the provider and tariffs of ``form``, or the errors."""
    bareme_json, errors = settings.convention_json_or_errors(form)
    start, end = settings.convention_dates(form, errors)
    insurer = Insurer.get_live(insurer_id)
    if insurer is None:
        errors["insurer_id"] = "Choisissez l'assureur."
    provider = Provider.get_live(form.get("provider_id"))
    if provider is None:
        errors["provider_id"] = "Choisissez le prestataire."
    elif insurer is not None and db.session.scalar(select(Convention.id).where(
            Convention.insurer_id == insurer.id, Convention.provider_id == provider.id)):
        errors["provider_id"] = "Une convention existe déjà avec ce prestataire : modifiez-la."
    if errors:
        return None, errors
    convention = Convention(insurer_id=insurer.id, provider_id=provider.id, bareme_json=bareme_json,
                            start_date=start, end_date=end, is_active=True)
    db.session.add(convention)
    db.session.flush()
    audit.record("convention.create", "convention", convention.id, {
        "provider_id": provider.id, "start_date": start.isoformat(), "end_date": end.isoformat() if end else None,
        "bareme": bareme_json}, insurer_id=insurer.id)
    return convention, {}


def update(convention: Convention, form: Mapping[str, str]) -> dict[str, str]:
    """The convention's dates and tariffs from ``form`` (audited before → after), or the errors."""
    bareme_json, errors = settings.convention_json_or_errors(form)
    start, end = settings.convention_dates(form, errors)
    if errors:
        return errors
    before = {"bareme": convention.bareme_json, "start_date": convention.start_date.isoformat(),
              "end_date": convention.end_date.isoformat() if convention.end_date else None}
    after = {"bareme": bareme_json, "start_date": start.isoformat(), "end_date": end.isoformat() if end else None}
    changed = {k: {"before": before[k], "after": after[k]} for k in before if before[k] != after[k]}
    if changed:
        convention.bareme_json, convention.start_date, convention.end_date = bareme_json, start, end
        audit.record("convention.update", "convention", convention.id, changed, insurer_id=convention.insurer_id)
    return {}


def end(convention: Convention, raw: str | None) -> tuple[date | None, str | None]:
    """End the convention on ``raw`` (ISO date; empty: today): (the date, None) or (None, the error)."""
    raw = (raw or "").strip() or date.today().isoformat()
    try:
        last = date.fromisoformat(raw)
    except ValueError:
        return None, "Date de fin invalide (AAAA-MM-JJ)."
    if last < convention.start_date:
        return None, "La date de fin précède le début de la convention."
    old = convention.end_date
    convention.end_date = last
    audit.record("convention.end", "convention", convention.id, {
        "end_date": {"before": old.isoformat() if old else None, "after": last.isoformat()}},
        insurer_id=convention.insurer_id)
    return last, None
