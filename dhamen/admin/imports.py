"""Onboarding import: an insurer's members and contracts from a CSV file.

Upload (ADMIN for any insurer, INSURER_ADMIN for its own only) → the file goes to
object storage and a job (inline on the embedded default, RQ queue ``imports``
otherwise) checks every line (``onboarding.check_file``), then compares with the
database and writes everything in one transaction, or nothing when a single line
is rejected.  Re-importing the same file changes nothing: members are matched by
the keyed hash of their national ID, contracts by (insurer, number).  Progress
and the report live in Redis (``import:<id>``); the full list of rejected lines
is a CSV in storage.  One audit row per import (``import.apply`` /
``import.rejected``) with the counts and the file's SHA-256.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from datetime import date

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import NullType

from dhamen.access.rbac import require_role
from dhamen.admin import onboarding
from dhamen.admin.views import bp
from dhamen.core import audit
from dhamen.core.jobs import with_app
from dhamen.core.services import after_commit, services
from dhamen.core.sqltypes import EncryptedText, new_id, new_ids, utcnow
from dhamen.core.web import body_limit
from dhamen.extensions import db
from dhamen.models import Adherent, Contract, Insurer, User

MAX_FILE = 32 * 1024 * 1024
RECORD_TTL = 30 * 86400
JOB_TIMEOUT = 900
SHOWN_REJECTIONS = 200
CHUNK = 5000  # keys per lookup query (SQLite takes 32 766 bound values, PostgreSQL 65 535)
WRITE_CHUNK = 5000  # rows per executemany (one multi-row INSERT per 1 000 rows on PostgreSQL)
STATUS_LABELS = {"queued": "En attente", "checking": "Vérification des lignes", "writing": "Enregistrement",
                 "done": "Terminé", "rejected": "Refusé : aucune ligne importée", "failed": "Échec technique"}


def _r():
    return services().redis


def _record(import_id: str) -> dict | None:
    if not isinstance(import_id, str) or len(import_id) > 26:
        return None
    raw = _r().hgetall(f"import:{import_id}")
    if not raw:
        return None
    return {k.decode(): v.decode() for k, v in raw.items()}


def _save(import_id: str, **fields) -> None:
    _r().hset(f"import:{import_id}", mapping={k: (v if isinstance(v, str) else json.dumps(v))
                                              for k, v in fields.items()})
    _r().expire(f"import:{import_id}", RECORD_TTL)


def _visible(record: dict | None) -> dict:
    """The import, if the current user may see it (its insurer's admin, or a platform admin)."""
    if record is None or (current_user.role != "ADMIN" and record.get("insurer_id") != current_user.insurer_id):
        abort(404)
    return record


# --- writing --------------------------------------------------------------------------

def _chunks(items: list, size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _among(column, values: list):
    """``column IN (values)``; on PostgreSQL ``= ANY(array)``, one bound value instead of thousands
    (the driver parses a 5 000-placeholder statement for 0.2 s and SQLAlchemy expands it as long)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def _bulk_insert(table: sa.Table, rows: list[dict], progress=None) -> None:
    """Write ``rows`` into ``table`` on the session's connection (same transaction), fast.

    Same values in the database as ``insert(table)`` with the model's types: each column's
    own processor (``EncryptedText``, ``UTCDateTime``, JSON, the dialect's dates) runs on
    each value, column by column, but a value that repeats across rows (the one timestamp,
    the few coverage documents, dates) is processed once; encrypted columns never share a
    result (a fresh nonce each).  The processed rows go to the driver: ``COPY … FROM
    STDIN`` on PostgreSQL, ``executemany`` on SQLite (SQLAlchemy would build a parameter
    dictionary per row and look at every value again); ``WRITE_CHUNK`` rows at a time,
    ``progress(n)`` after each.
    """
    if not rows:
        return
    dialect = db.session.get_bind().dialect
    names = list(rows[0])
    steps = []
    for name in names:
        column_type = table.c[name].type
        processor = column_type.dialect_impl(dialect).bind_processor(dialect)
        memo = None if processor is None or isinstance(column_type, EncryptedText) else {}
        steps.append((name, processor, memo))

    def column(values: list, processor, memo) -> list:
        if processor is None:
            return values
        if memo is None:
            return [None if v is None else processor(v) for v in values]
        out = []
        for v in values:
            if v is None:
                out.append(None)
                continue
            key = v if isinstance(v, (str, int, date)) else id(v)  # dicts and lists: the shared object
            if (done := memo.get(key)) is None:
                done = memo[key] = processor(v)
            out.append(done)
        return out

    def processed(chunk: list[dict]) -> list[tuple]:
        return list(zip(*(column([row[name] for row in chunk], processor, memo)
                          for name, processor, memo in steps), strict=True))

    plain = sa.Table(table.name, sa.MetaData(), *(sa.Column(name, NullType()) for name in names))
    driver = db.session.connection().connection.driver_connection
    if dialect.name == "postgresql":
        from psycopg import sql

        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(name) for name in names))
    elif dialect.name == "sqlite":
        insert_sql = str(insert(plain).compile(dialect=dialect))  # INSERT INTO t (a, b) VALUES (?, ?)
    for start in range(0, len(rows), WRITE_CHUNK):
        chunk = processed(rows[start:start + WRITE_CHUNK])
        if dialect.name == "postgresql":
            with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
                for values in chunk:
                    copy.write_row(values)
        elif dialect.name == "sqlite":
            driver.executemany(insert_sql, chunk)
        else:  # any other database: through SQLAlchemy, without its type processing
            db.session.execute(insert(plain), [dict(zip(names, values, strict=True)) for values in chunk])
        if progress is not None:
            progress(len(chunk))


def _contract_values(row: onboarding.Row) -> dict:
    return {"plan_type": row.plan_type, "start_date": row.start_date, "end_date": row.end_date,
            "carence_days": row.carence_days, "annual_limit": row.annual_limit, "coverage_json": row.coverage,
            "exclusions_json": row.exclusions}


def apply_rows(insurer_id: str, rows: list[onboarding.Row], progress=None) -> tuple[dict, list[onboarding.Rejection]]:
    """Compare with the database and write (flush, no commit). Rejections → nothing written.

    ``progress(written, to_write)`` follows the writing (rows of members and contracts).
    """
    session = db.session
    rejected: list[onboarding.Rejection] = []
    members: dict[str, tuple] = {}
    for chunk in _chunks(list({r.national_id_hash for r in rows})):
        for row in session.execute(select(Adherent.national_id_hash, Adherent.id, Adherent.last_name,
                                          Adherent.first_name, Adherent.date_of_birth)
                                   .where(_among(Adherent.national_id_hash, chunk))):
            members[row[0]] = (row[1], row[2].lower(), row[3].lower(), row[4])
    contracts: dict[str, tuple] = {}
    documents: dict[str, object] = {}  # the JSON documents as text, decoded once each (most contracts share a few)

    def decoded(text: str):
        if (found := documents.get(text)) is None:
            found = documents[text] = json.loads(text)
        return found

    for chunk in _chunks([r.contract_number for r in rows]):
        for c in session.execute(select(Contract.contract_number, Contract.id, Contract.adherent_id,
                                        Contract.plan_type, Contract.start_date, Contract.end_date,
                                        Contract.carence_days, Contract.annual_limit,
                                        sa.cast(Contract.coverage_json, sa.Text), sa.cast(Contract.exclusions_json, sa.Text))
                                 .where(Contract.insurer_id == insurer_id, _among(Contract.contract_number, chunk))):
            contracts[c[0]] = (*c[:8], decoded(c[8]), decoded(c[9]))
    new_members, new_contracts, changed = [], [], []
    created_ids: dict[str, str] = {}
    now = utcnow()
    ids = iter(new_ids(2 * len(rows)))
    unchanged = existing_members = 0
    for r in rows:
        known = members.get(r.national_id_hash)
        if known is not None:
            if (known[1], known[2], known[3]) != (r.last_name.lower(), r.first_name.lower(), r.date_of_birth):
                rejected.append(onboarding.Rejection(r.line, "cin", "ce numéro est déjà enregistré pour un adhérent "
                                                                    "d'un autre nom ou d'une autre date de naissance."))
                continue
            member_id = known[0]
            existing_members += 1
        elif r.national_id_hash in created_ids:
            member_id = created_ids[r.national_id_hash]
        else:
            member_id = created_ids[r.national_id_hash] = next(ids)
            new_members.append({"id": member_id, "national_id_encrypted": r.national_id,
                                "national_id_hash": r.national_id_hash, "first_name": r.first_name,
                                "last_name": r.last_name, "date_of_birth": r.date_of_birth, "gender": r.gender,
                                "phone_encrypted": r.phone, "email": r.email, "address": r.address, "city": r.city,
                                "created_at": now, "updated_at": now})
        values = _contract_values(r)
        current = contracts.get(r.contract_number)
        if current is None:
            status = "expired" if r.end_date < date.today() else "active"
            new_contracts.append({"id": next(ids), "insurer_id": insurer_id, "adherent_id": member_id,
                                  "contract_number": r.contract_number, "status": status, "created_at": now,
                                  "updated_at": now, **values})
        elif current[2] != member_id:
            rejected.append(onboarding.Rejection(r.line, "numero_contrat",
                                                 "ce contrat appartient déjà à un autre adhérent chez cet assureur."))
        else:
            old = dict(zip(("plan_type", "start_date", "end_date", "carence_days", "annual_limit", "coverage_json",
                            "exclusions_json"), current[3:], strict=True))
            if old == values:
                unchanged += 1
            else:
                changed.append({"b_id": current[1], "updated_at": now, **values})
    if rejected:
        return {}, rejected
    written, to_write = 0, len(new_members) + len(new_contracts) + len(changed)

    def step(n: int) -> None:
        nonlocal written
        written += n
        if progress is not None:
            progress(written, to_write)

    step(0)  # what is to be written is known: the page shows it from now on

    _bulk_insert(Adherent.__table__, new_members, step)
    _bulk_insert(Contract.__table__, new_contracts, step)
    if changed:
        table = Contract.__table__
        stmt = update(table).where(table.c.id == bindparam("b_id")).values(
            **{k: bindparam(k) for k in changed[0] if k != "b_id"})
        for chunk in _chunks(changed, WRITE_CHUNK):
            session.execute(stmt, chunk)
            step(len(chunk))
    counts = {"members_created": len(new_members), "members_existing": existing_members,
              "contracts_created": len(new_contracts), "contracts_updated": len(changed),
              "contracts_unchanged": unchanged}
    return counts, []


def _rejection_report(import_id: str, rejected: list[onboarding.Rejection]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["ligne", "colonne", "motif"])
    for rej in rejected:
        writer.writerow([rej.line, rej.column or "", rej.message])
    services().storage.put(f"imports/{import_id}-rejets.csv", ("\ufeff" + out.getvalue()).encode(), "text/csv")


@with_app
def run_import(import_id: str) -> dict:
    """The job: check, compare, write all or nothing; progress and report in ``import:<id>``."""
    record = _record(import_id)
    if record is None or record.get("status") != "queued":
        return {}
    insurer_id = record["insurer_id"]
    user = db.session.get(User, record["user_id"])
    lock = f"import-lock:{insurer_id}"
    waited = 0
    while not _r().set(lock, import_id, nx=True, ex=JOB_TIMEOUT):  # one import per insurer at a time
        if waited >= JOB_TIMEOUT // 2:
            _save(import_id, status="failed")
            return {}
        time.sleep(1)
        waited += 1
    try:
        started = time.monotonic()
        _save(import_id, status="checking", processed="0")
        data = services().storage.get(f"imports/{import_id}.csv")
        checked = onboarding.check_file(data, progress=lambda n: _save(import_id, processed=str(n)))
        _save(import_id, processed=str(checked.total), total=str(checked.total))
        rejected = checked.rejected
        counts = {}
        if not rejected:
            _save(import_id, status="writing", written="0")
            counts, rejected = apply_rows(insurer_id, checked.rows, progress=lambda n, of: _save(
                import_id, written=str(n), to_write=str(of)))
        summary = {"lines": checked.total, "rejected_lines": len({r.line for r in rejected}),
                   "seconds": round(time.monotonic() - started, 1), **counts}
        if rejected:
            db.session.rollback()
            _rejection_report(import_id, rejected)
            audit.record("import.rejected", "import", import_id, {"file": record["filename"], "sha256": record["sha256"],
                                                                  **summary}, user=user, insurer_id=insurer_id)
            db.session.commit()
            _save(import_id, status="rejected", summary=summary,
                  rejections=[str(r) for r in rejected[:SHOWN_REJECTIONS]], rejection_count=str(len(rejected)))
        else:
            audit.record("import.apply", "import", import_id, {"file": record["filename"], "sha256": record["sha256"],
                                                               **summary}, user=user, insurer_id=insurer_id)
            db.session.commit()
            _save(import_id, status="done", summary=summary)
        return summary
    except Exception:
        db.session.rollback()
        _save(import_id, status="failed")
        raise
    finally:
        _r().delete(lock)


# --- pages ----------------------------------------------------------------------------

def _insurers():
    stmt = select(Insurer).where(Insurer.is_live).order_by(Insurer.name)
    if current_user.role != "ADMIN":
        stmt = stmt.where(Insurer.id == current_user.insurer_id)
    return db.session.scalars(stmt).all()


def _recent() -> list[dict]:
    ids = [i.decode() for i in _r().lrange("imports:recent", 0, 199)]
    out = []
    for import_id in ids:
        record = _record(import_id)
        if record is None or (current_user.role != "ADMIN" and record.get("insurer_id") != current_user.insurer_id):
            continue
        record["id"] = import_id
        out.append(record)
        if len(out) >= 20:
            break
    return out


@bp.get("/imports")
@require_role("ADMIN", "INSURER_ADMIN")
def imports():
    insurers = {i.id: i.name for i in _insurers()}
    return render_template("admin/imports.html", columns=onboarding.COLUMNS, insurers=insurers, recent=_recent(),
                           status_labels=STATUS_LABELS, max_mb=MAX_FILE // (1024 * 1024), errors=[])


@bp.get("/imports/modele.csv")
@require_role("ADMIN", "INSURER_ADMIN")
def import_template():
    return Response(onboarding.template_csv(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="modele-import-adherents.csv"'})


@bp.post("/imports")
@require_role("ADMIN", "INSURER_ADMIN")
@body_limit(MAX_FILE + 64 * 1024)
def import_upload():
    errors = []
    insurer_id = request.form.get("insurer_id", "") if current_user.role == "ADMIN" else current_user.insurer_id
    insurers = {i.id: i.name for i in _insurers()}
    if insurer_id not in insurers:
        errors.append("Assureur : choisissez l'assureur dont vous importez les adhérents.")
    upload = request.files.get("fichier")
    data = upload.read(MAX_FILE + 1) if upload else b""
    if upload is None or not upload.filename:
        errors.append("Fichier : choisissez un fichier CSV.")
    elif not upload.filename.lower().endswith(".csv"):
        errors.append("Fichier : un fichier .csv est attendu.")
    elif not data.strip():
        errors.append("Fichier : le fichier est vide.")
    elif len(data) > MAX_FILE:
        errors.append(f"Fichier : {MAX_FILE // (1024 * 1024)} Mo au plus.")
    if errors:
        return render_template("admin/imports.html", columns=onboarding.COLUMNS, insurers=insurers, recent=_recent(),
                               status_labels=STATUS_LABELS, max_mb=MAX_FILE // (1024 * 1024), errors=errors), 422
    import_id = new_id()
    digest = hashlib.sha256(data).hexdigest()
    services().storage.put(f"imports/{import_id}.csv", data, "text/csv")
    name = (upload.filename or "import.csv").replace("\\", "/").rsplit("/", 1)[-1][:120]
    _save(import_id, status="queued", insurer_id=insurer_id, user_id=current_user.id, filename=name, sha256=digest,
          size=str(len(data)), created=utcnow().isoformat(), processed="0", total="0")
    _r().lpush("imports:recent", import_id)
    _r().ltrim("imports:recent", 0, 999)
    audit.record("import.upload", "import", import_id, {"file": name, "sha256": digest, "size": len(data)},
                 insurer_id=insurer_id)
    after_commit("imports", run_import, import_id, job_timeout=JOB_TIMEOUT)
    flash("Fichier reçu : vérification en cours.", "success")
    return redirect(url_for("admin.import_status", import_id=import_id), 303)


def _status_context(import_id: str) -> dict:
    record = _visible(_record(import_id))
    return {"import_id": import_id, "record": record, "status_labels": STATUS_LABELS,
            "insurer": db.session.get(Insurer, record["insurer_id"]),
            "summary": json.loads(record.get("summary", "{}")),
            "rejections": json.loads(record.get("rejections", "[]")),
            "running": record["status"] in ("queued", "checking", "writing")}


@bp.get("/imports/<import_id>")
@require_role("ADMIN", "INSURER_ADMIN")
def import_status(import_id: str):
    return render_template("admin/import_status.html", **_status_context(import_id))


@bp.get("/imports/<import_id>/etat")
@require_role("ADMIN", "INSURER_ADMIN")
def import_progress(import_id: str):
    """The progress fragment, polled by htmx while the job runs."""
    return render_template("admin/_import_progress.html", **_status_context(import_id))


@bp.get("/imports/<import_id>/rejets.csv")
@require_role("ADMIN", "INSURER_ADMIN")
def import_rejections(import_id: str):
    record = _visible(_record(import_id))
    if record["status"] != "rejected":
        abort(404)
    data = services().storage.get(f"imports/{import_id}-rejets.csv")
    return Response(data, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="rejets-{import_id}.csv"'})
