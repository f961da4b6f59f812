"""CSV export of a filtered list of the insurer's claims, streamed.

Rows are read with a server-side cursor (``yield_per``) and written one
chunk at a time: memory stays flat whatever the number of rows.  French
spreadsheet conventions: ``;`` separator, decimal comma, UTF-8 with BOM.
A cell starting with ``=``, ``+``, ``-`` or ``@`` is prefixed with ``'`` so
that a spreadsheet never runs it as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlalchemy import select

from dhamen.access.tenancy import scoped
from dhamen.domain.labels import CARE_TYPE_LABELS, STATUS_LABELS
from dhamen.domain.money import format_tnd
from dhamen.domain.reasons import label as reason_label
from dhamen.extensions import db
from dhamen.insurer.queue import ReviewFilters, filtered
from dhamen.models import Adherent, Claim, Contract, Provider

HEADER = ("N° demande", "Reçue le (UTC)", "Date des soins", "Type de soin", "Statut", "Prestataire",
          "Adhérent", "N° contrat", "Montant total (TND)", "Pris en charge (TND)", "Part adhérent (TND)",
          "Score de risque", "Signaux", "Motif")
CHUNK_ROWS = 2000


def _safe(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def statement(user, filters: ReviewFilters):
    columns = (Claim.id, Claim.created_at, Claim.care_date, Claim.type, Claim.status, Provider.name,
               Adherent.first_name, Adherent.last_name, Contract.contract_number, Claim.total_amount,
               Claim.covered_amount, Claim.copay_amount, Claim.fraud_score, Claim.fraud_flags_json,
               Claim.status_reason)
    stmt = (select(*columns).join(Provider, Provider.id == Claim.provider_id)
            .join(Adherent, Adherent.id == Claim.adherent_id).join(Contract, Contract.id == Claim.contract_id))
    return scoped(filtered(stmt, filters), Claim, user).order_by(Claim.created_at, Claim.id)


def rows(user, filters: ReviewFilters) -> Iterator[str]:
    """The CSV text, chunk by chunk (header first)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    yield "\ufeff" + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    result = db.session.execute(statement(user, filters).execution_options(yield_per=CHUNK_ROWS))
    for n, r in enumerate(result, 1):
        flags = ", ".join(reason_label(f.get("code", "")) for f in r.fraud_flags_json or () if f.get("points", 0) > 0)
        writer.writerow((r.id, r.created_at.strftime("%Y-%m-%d %H:%M:%S"), r.care_date.isoformat(),
                         CARE_TYPE_LABELS.get(r.type, r.type), STATUS_LABELS.get(r.status, r.status),
                         _safe(r.name), _safe(f"{r.first_name} {r.last_name}"), _safe(r.contract_number),
                         format_tnd(r.total_amount, with_unit=False), format_tnd(r.covered_amount, with_unit=False),
                         format_tnd(r.copay_amount, with_unit=False), r.fraud_score, flags, _safe(r.status_reason)))
        if n % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    result.close()
    yield buffer.getvalue()
