"""CSV export of a filtered list of the insurer's claims, streamed.

Fast and flat at a million rows:

- one Core statement of plain columns (no ORM entity, nothing to decrypt: the names
  are clear text), read through a server-side cursor in chunks of
  :data:`CHUNK_ROWS` (``stream_results``): memory holds one chunk, whatever the count;
- PostgreSQL plans it for the whole result (``cursor_tuple_fraction = 1``: hash joins
  with the small provider / member / contract tables and one pass over the claims'
  index), not for its first rows (nested loops, three index probes per claim);
- the database formats the timestamps and dates as text, and sends the fraud flags
  only for claims with a score (the others have none with points): no per-row
  datetime or JSON conversion for most rows;
- each chunk is written by one ``csv.writer.writerows`` call and yielded as one string.

French spreadsheet conventions: ``;`` separator, decimal comma, UTF-8 with BOM.  A cell
starting with ``=``, ``+``, ``-`` or ``@`` is prefixed with ``'`` so that a spreadsheet
never runs it as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlalchemy import String, case, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from dhamen.access.tenancy import scoped
from dhamen.domain.labels import CARE_TYPE_LABELS, STATUS_LABELS
from dhamen.domain.money import MILLIMES_PER_TND, THOUSANDS_SEPARATOR
from dhamen.domain.reasons import label as reason_label
from dhamen.extensions import db
from dhamen.insurer.queue import ReviewFilters, filtered
from dhamen.models import Adherent, Claim, Contract, Provider

HEADER = ("N° demande", "Reçue le (UTC)", "Date des soins", "Type de soin", "Statut", "Prestataire",
          "Adhérent", "N° contrat", "Montant total (TND)", "Pris en charge (TND)", "Part adhérent (TND)",
          "Score de risque", "Signaux", "Motif")
CHUNK_ROWS = 10_000
_FORMULA = ("=", "+", "-", "@")


def _safe(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in _FORMULA else text


def tnd(millimes: int) -> str:
    """``format_tnd(millimes, with_unit=False)``, for the hot loop (tested equal to it)."""
    if millimes < 0:
        return "-" + tnd(-millimes)
    dinars, rest = divmod(millimes, MILLIMES_PER_TND)
    if dinars < 1000:
        return f"{dinars},{rest:03d}"
    return f"{dinars:,}".replace(",", THOUSANDS_SEPARATOR) + f",{rest:03d}"


def _as_text(column, postgres: bool, with_time: bool) -> ColumnElement:
    """A timestamp (UTC) or a date as the CSV shows it, formatted by the database."""
    if postgres:
        if with_time:
            return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24:MI:SS")
        return func.to_char(column, "YYYY-MM-DD")
    if with_time:
        return func.strftime("%Y-%m-%d %H:%M:%S", column)
    return cast(column, String)


def statement(user, filters: ReviewFilters):
    postgres = db.engine.dialect.name == "postgresql"
    flags = case((Claim.fraud_score > 0, Claim.fraud_flags_json), else_=None)
    columns = (Claim.id, _as_text(Claim.created_at, postgres, True), _as_text(Claim.care_date, postgres, False),
               Claim.type, Claim.status, Provider.name, Adherent.first_name, Adherent.last_name,
               Contract.contract_number, Claim.total_amount, Claim.covered_amount, Claim.copay_amount,
               Claim.fraud_score, flags, Claim.status_reason)
    stmt = (select(*columns).join(Provider, Provider.id == Claim.provider_id)
            .join(Adherent, Adherent.id == Claim.adherent_id).join(Contract, Contract.id == Claim.contract_id))
    return scoped(filtered(stmt, filters), Claim, user).order_by(Claim.created_at, Claim.id)


def _flags(flags) -> str:
    if not flags:
        return ""
    return ", ".join(reason_label(f.get("code", "")) for f in flags if f.get("points", 0) > 0)


def rows(user, filters: ReviewFilters, chunk_rows: int = CHUNK_ROWS) -> Iterator[str]:
    """The CSV text, chunk by chunk (header first)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    yield "\ufeff" + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        # Plan for the whole result, not its first rows (the default of a cursor).
        conn.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1")
    result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(statement(user, filters))
    care, status, safe = CARE_TYPE_LABELS.get, STATUS_LABELS.get, _safe
    try:
        for chunk in result.partitions():
            writer.writerows(
                (claim_id, created, cared, care(kind, kind), status(state, state), safe(provider),
                 safe(f"{first} {last}"), safe(contract), tnd(total), tnd(covered), tnd(copay), score,
                 _flags(flags), safe(reason) if reason else "")
                for (claim_id, created, cared, kind, state, provider, first, last, contract, total, covered, copay,
                     score, flags, reason) in chunk)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    finally:
        result.close()
