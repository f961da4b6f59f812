"""Conventions of every insurer (ADMIN): list, create, edit, end.

The insurer admin manages its own in the insurer portal; the platform admin does the
same for any insurer through the same operations (``dhamen.insurer.conventions``) and
the same form (``insurer/_convention_fields.html``), with the insurer chosen.
"""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select

from dhamen.access.rbac import require_role
from dhamen.admin.common import keyset
from dhamen.admin.views import bp
from dhamen.domain.labels import CARE_TYPE_LABELS, PROVIDER_TYPE_LABELS
from dhamen.extensions import db
from dhamen.insurer import conventions as operations
from dhamen.models import Convention, Insurer, Provider

STATES = {"en_vigueur": "En vigueur", "terminee": "Terminées"}


def _insurers() -> list[Insurer]:
    return db.session.scalars(select(Insurer).where(Insurer.is_live).order_by(Insurer.name)).all()


def _convention(convention_id: str) -> Convention:
    convention = db.session.get(Convention, convention_id) if len(convention_id) <= 26 else None
    if convention is None:
        abort(404)
    return convention


@bp.get("/conventions")
@require_role("ADMIN")
def conventions():
    conditions, chosen = [], {}
    insurer_id = request.args.get("assureur") or ""
    if insurer_id and len(insurer_id) <= 26:
        conditions.append(Convention.insurer_id == insurer_id)
        chosen["assureur"] = insurer_id
    today = date.today()
    state = request.args.get("etat") or ""
    if state == "en_vigueur":
        conditions += [Convention.is_active.is_(True), or_(Convention.end_date.is_(None), Convention.end_date >= today)]
    elif state == "terminee":
        conditions.append(or_(Convention.is_active.is_(False), Convention.end_date < today))
    if state in STATES:
        chosen["etat"] = state
    q = (request.args.get("q") or "").strip()[:100]
    if q:
        like = f"%{q.lower()}%"
        conditions.append(Convention.provider_id.in_(select(Provider.id).where(
            or_(func.lower(Provider.name).like(like), func.lower(Provider.city).like(like)))))
        chosen["q"] = q
    rows, next_cursor = keyset(select(Convention).where(*conditions), [Convention.start_date, Convention.id],
                               request.args.get("apres"), desc=True)
    total = db.session.scalar(select(func.count()).select_from(Convention).where(*conditions))
    return render_template("admin/conventions.html", rows=rows, next_cursor=next_cursor, total=total, chosen=chosen,
                           insurers=_insurers(), states=STATES, today=today, type_labels=PROVIDER_TYPE_LABELS)


def _form(convention: Convention | None, errors=None, form=None, status=200):
    values, dates = operations.form_values(convention, form)
    providers = db.session.scalars(select(Provider).where(Provider.deleted_at.is_(None), Provider.is_active.is_(True))
                                   .order_by(Provider.type, Provider.name)).all() if convention is None else []
    chosen_insurer = (form.get("insurer_id", "") if form is not None
                      else request.args.get("assureur", "") if convention is None else convention.insurer_id)
    return render_template("admin/convention_form.html", convention=convention, values=values, dates=dates,
                           providers=providers, insurers=_insurers(), chosen_insurer=chosen_insurer,
                           type_labels=PROVIDER_TYPE_LABELS, care_types=CARE_TYPE_LABELS, errors=errors or {}), status


@bp.route("/conventions/nouvelle", methods=["GET", "POST"])
@require_role("ADMIN")
def convention_new():
    if request.method == "GET":
        return _form(None)
    convention, errors = operations.create(request.form.get("insurer_id"), request.form)
    if errors:
        return _form(None, errors, request.form, 422)
    flash(f"Convention créée entre {convention.insurer.name} et {convention.provider.name}.", "success")
    return redirect(url_for("admin.conventions", assureur=convention.insurer_id), 303)


@bp.route("/conventions/<convention_id>", methods=["GET", "POST"])
@require_role("ADMIN")
def convention_edit(convention_id: str):
    convention = _convention(convention_id)
    if request.method == "GET":
        return _form(convention)
    errors = operations.update(convention, request.form)
    if errors:
        return _form(convention, errors, request.form, 422)
    flash("Convention enregistrée : elle s'applique aux nouvelles demandes.", "success")
    return redirect(url_for("admin.conventions", assureur=convention.insurer_id), 303)


@bp.post("/conventions/<convention_id>/fin")
@require_role("ADMIN")
def convention_end(convention_id: str):
    convention = _convention(convention_id)
    last, error = operations.end(convention, request.form.get("end_date"))
    if error:
        flash(error, "error")
    else:
        flash(f"Convention entre {convention.insurer.name} et {convention.provider.name} terminée le "
              f"{last.strftime('%d/%m/%Y')}.", "success")
    return redirect(url_for("admin.conventions", assureur=convention.insurer_id), 303)
