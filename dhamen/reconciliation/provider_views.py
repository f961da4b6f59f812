"""The providers' side: "Mes relevés" in each provider portal (``/pharmacie/releves``…).

Which of the provider's claims are paid, awaiting payment (in a bordereau not
yet paid) or not yet reconciled, and its own statements (PDF) — never another
provider's.  One route per provider portal prefix, guarded by that portal's role.
"""

from __future__ import annotations

from flask import Blueprint, abort, make_response, render_template
from flask_login import current_user
from sqlalchemy import select

from dhamen.access.rbac import require_role
from dhamen.counter.portals import BY_ROLE, CONFIGS
from dhamen.extensions import db
from dhamen.models import Claim, Insurer, Reconciliation
from dhamen.reconciliation import operations as ops
from dhamen.reconciliation.document import reference
from dhamen.reconciliation.views import send_document, statement_of

bp = Blueprint("statements", __name__)
RECENT = 30


def _provider():
    provider = current_user.provider
    if provider is None or not provider.is_live:
        abort(make_response(render_template(
            "counter/unavailable.html", portal=BY_ROLE[current_user.role], provider=None,
            message="Votre compte n'est rattaché à aucun établissement : demandez à l'administrateur de le relier "
                    "à votre établissement."), 403))
    return provider


def payment_state(claim: Claim, recon_status: str | None) -> tuple[str, str]:
    if claim.status == "paid":
        return "paid", "Payée"
    if claim.reconciliation_id is None:
        return "pending", "Pas encore sur un bordereau"
    return "approved", "Sur un bordereau, en attente de paiement" if recon_status != "paid" else "Payée"


def statements():
    provider = _provider()
    config = BY_ROLE[current_user.role]
    rows = ops.provider_statements(provider.id)
    insurers = {i.id: i for i in db.session.scalars(select(Insurer).where(
        Insurer.id.in_({r.insurer_id for _s, r in rows})))} if rows else {}
    recent = db.session.execute(
        select(Claim, Reconciliation.status).outerjoin(Reconciliation, Reconciliation.id == Claim.reconciliation_id)
        .where(Claim.provider_id == provider.id, Claim.status.in_(("approved", "paid")))
        .order_by(Claim.care_date.desc(), Claim.id.desc()).limit(RECENT)).all()
    return render_template("reconciliation/provider_statements.html", portal=config, provider=provider, rows=rows,
                           insurers=insurers, by_state=ops.provider_payment_status(provider.id),
                           recent=[(c, payment_state(c, status)) for c, status in recent], ref=reference,
                           recon_status=ops.STATUS_LABELS.get, pdf_endpoint=f"statements.{config.name}_pdf")


def statement_pdf(reconciliation_id: str):
    provider = _provider()
    statement = statement_of(provider.id, reconciliation_id)
    recon = statement.reconciliation
    return send_document(statement.pdf_path, f"releve-{reference(recon)}.pdf")


for _config in CONFIGS:
    bp.add_url_rule(f"{_config.url_prefix}/releves", f"{_config.name}_list",
                    require_role(_config.role)(statements), methods=["GET"])
    bp.add_url_rule(f"{_config.url_prefix}/releves/<reconciliation_id>.pdf", f"{_config.name}_pdf",
                    require_role(_config.role)(statement_pdf), methods=["GET"])


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def register(app) -> None:
    """The blueprint, and a « Mes relevés » link added to the provider portals' navigation."""
    app.register_blueprint(bp)
    base = app.extensions.get("dhamen.provider_nav", lambda: [])

    def nav() -> list[tuple[str, str]]:
        links = base()
        config = BY_ROLE.get(getattr(current_user, "role", None))
        return [*links, ("Mes relevés", f"statements.{config.name}_list")] if config else links

    app.extensions["dhamen.provider_nav"] = nav
