"""The audit log viewer (ADMIN): filters, keyset pages, streamed CSV export.

Read-only by construction: no route here (nor anywhere in the application)
updates or deletes an audit row.  Values were redacted when written
(``core.audit.redact``); they are redacted again on display, so a row written
by older code never shows a secret either.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta

from flask import Response, render_template, request, stream_with_context, url_for
from sqlalchemy import func, select

from dhamen.access.rbac import require_role
from dhamen.access.roles import ROLE_LABELS
from dhamen.admin.common import keyset, org_filter
from dhamen.admin.views import _organisations, bp
from dhamen.core.audit import redact
from dhamen.domain import labels
from dhamen.domain.text import TUNIS
from dhamen.extensions import db
from dhamen.models import AuditLog, User

EXPORT_BATCH = 2000
ENTITY_LABELS = {"user": "Utilisateur", "insurer": "Assureur", "provider": "Prestataire", "adherent": "Adhérent",
                 "contract": "Contrat", "claim": "Demande", "reconciliation": "Bordereau", "setting": "Paramètre",
                 "route": "Page", "import": "Import", "convention": "Convention"}

_VERBS = {"create": "création", "update": "modification", "delete": "suppression", "restore": "restauration"}
ACTION_LABELS = {
    "auth.login": "Connexion", "auth.login_failed": "Connexion refusée", "auth.login_throttled": "Connexion bloquée",
    "auth.logout": "Déconnexion", "auth.mfa_enabled": "Double authentification activée",
    "auth.mfa_enrolment_failed": "Activation de la double authentification échouée",
    "auth.mfa_enrolment_required": "Double authentification à activer", "auth.mfa_failed": "Code incorrect",
    "auth.mfa_sms_failed": "Envoi du SMS échoué", "auth.mfa_sms_sent": "Code envoyé par SMS",
    "auth.mfa_verified": "Code vérifié", "auth.password_change": "Mot de passe changé",
    "auth.password_change_failed": "Changement de mot de passe refusé",
    "auth.password_ok_mfa_pending": "Mot de passe correct, code attendu",
    "auth.password_reset_requested": "Lien « mot de passe oublié » demandé",
    "auth.password_reset_throttled": "Demande de lien limitée",
    "auth.password_reset_by_email": "Mot de passe réinitialisé par e-mail",
    "auth.recovery_codes_regenerated": "Codes de secours régénérés", "auth.refresh_reuse": "Jeton réutilisé",
    "authz.denied": "Accès refusé", "claim.create": "Demande saisie",
    "contract.suspend": "Contrat suspendu", "contract.reactivate": "Contrat réactivé",
    "contract.end": "Contrat résilié", "contract.expire": "Contrat expiré",
    "contract.payer_rank": "Ordre de prise en charge modifié",
    "convention.create": "Convention : création", "convention.update": "Convention : modification",
    "convention.end": "Convention terminée",
    "import.upload": "Fichier d'import reçu", "import.apply": "Import enregistré", "import.rejected": "Import refusé",
    "settings.mfa_required_roles": "Rôles soumis à la double authentification",
    "user.deactivate": "Compte désactivé", "user.reactivate": "Compte réactivé",
    "user.mfa_reset": "Double authentification réinitialisée", "user.role_change": "Rôle modifié",
    "user.password_reset": "Mot de passe temporaire défini",
    **{f"{kind}.{verb}": f"{label} : {word}" for kind, label in (("user", "Utilisateur"), ("insurer", "Assureur"),
       ("provider", "Prestataire"), ("member", "Adhérent"), ("contract", "Contrat")) for verb, word in _VERBS.items()},
}


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _filters(args) -> tuple[list, dict, list[str]]:
    conditions, chosen, errors = [], {}, []
    who = (args.get("utilisateur") or "").strip()[:254]
    if who:
        ids = select(User.id).where(func.lower(User.email).like(f"%{who.lower()}%"))
        conditions.append(AuditLog.user_id.in_(ids))
        chosen["utilisateur"] = who
    org_filter(args, AuditLog, conditions, chosen)
    action = (args.get("action") or "").strip()[:64]
    if action:
        conditions.append(AuditLog.action.like(action.replace("%", "").replace("_", r"\_") + "%", escape="\\"))
        chosen["action"] = action
    entity = (args.get("entite") or "").strip()[:40]
    if entity:
        conditions.append(AuditLog.entity_type == entity)
        chosen["entite"] = entity
    entity_id = (args.get("entite_id") or "").strip()[:64]
    if entity_id:
        conditions.append(AuditLog.entity_id == entity_id)
        chosen["entite_id"] = entity_id
    start, end = _day(args.get("du")), _day(args.get("au"))
    if args.get("du") and start is None:
        errors.append("Du : date invalide.")
    if args.get("au") and end is None:
        errors.append("Au : date invalide.")
    if start and end and end < start:
        errors.append("Au : la date de fin précède la date de début.")
    if start:
        conditions.append(AuditLog.created_at >= datetime.combine(start, time.min, TUNIS))
        chosen["du"] = start.isoformat()
    if end:
        conditions.append(AuditLog.created_at < datetime.combine(end + timedelta(days=1), time.min, TUNIS))
        chosen["au"] = end.isoformat()
    return conditions, chosen, errors


def _value_labels() -> dict[str, str]:
    out: dict[str, str] = {}
    for table in (labels.RECONCILIATION_STATUS_LABELS, labels.STATUS_LABELS, labels.CONTRACT_STATUS_LABELS,
                  labels.PLAN_LABELS, labels.PROVIDER_TYPE_LABELS, labels.CARE_TYPE_LABELS, ROLE_LABELS):
        out.update(table)
    return out


VALUE_LABELS = _value_labels()


def _humanise(value):
    """Internal values (statuses, roles, care types…) as the French words the pages use."""
    if isinstance(value, str):
        return VALUE_LABELS.get(value, value)
    if isinstance(value, dict):
        return {VALUE_LABELS.get(k, k): _humanise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_humanise(v) for v in value]
    return value


def describe(changes) -> list[tuple[str, str]]:
    """(field, "before → after" or value) pairs for a row's ``changes_json``, secrets masked."""
    changes = _humanise(redact(changes))
    if changes is None:
        return []
    if not isinstance(changes, dict):
        return [("", _text(changes))]
    if set(changes) == {"before", "after"}:
        return [("", f"{_text(changes['before'])} → {_text(changes['after'])}")]
    out = []
    for key, value in changes.items():
        if isinstance(value, list) and len(value) == 2 and not isinstance(value[0], dict | list):
            out.append((key, f"{_text(value[0])} → {_text(value[1])}"))
        else:
            out.append((key, _text(value)))
    return out


def _text(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)[:500]
    return str(value)[:500]


def _emails(user_ids) -> dict[str, str]:
    ids = {u for u in user_ids if u}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())


@bp.get("/journal")
@require_role("ADMIN")
def audit_log():
    conditions, chosen, errors = _filters(request.args)
    if errors:
        conditions = [AuditLog.id.is_(None)]
    rows, next_cursor = keyset(select(AuditLog).where(*conditions), [AuditLog.created_at, AuditLog.id],
                               request.args.get("apres"), desc=True)
    entities = sorted(set(ENTITY_LABELS) | set(db.session.scalars(select(AuditLog.entity_type).distinct().limit(100))))
    return render_template("admin/audit_log.html", rows=rows, next_cursor=next_cursor, chosen=chosen, errors=errors,
                           emails=_emails(r.user_id for r in rows), describe=describe, organisations=_organisations(),
                           entities=entities, entity_labels=ENTITY_LABELS, action_labels=ACTION_LABELS,
                           export_url=url_for("admin.audit_log_csv", **chosen)), (422 if errors else 200)


@bp.get("/journal.csv")
@require_role("ADMIN")
def audit_log_csv():
    conditions, chosen, errors = _filters(request.args)
    if errors:
        return Response("; ".join(errors), status=422, mimetype="text/plain")
    base = select(AuditLog).where(*conditions)

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";")
        buffer.write("\ufeff")  # Excel opens UTF-8 with a BOM
        writer.writerow(["date", "utilisateur", "action", "entité", "identifiant", "assureur", "prestataire",
                         "modifications", "adresse IP"])
        cursor = None
        while True:
            rows, cursor = keyset(base, [AuditLog.created_at, AuditLog.id], cursor, desc=True, per_page=EXPORT_BATCH)
            emails = _emails(r.user_id for r in rows)
            for r in rows:
                writer.writerow([r.created_at.astimezone(TUNIS).strftime("%d/%m/%Y %H:%M:%S"),
                                 emails.get(r.user_id, r.user_id or ""), ACTION_LABELS.get(r.action, r.action),
                                 ENTITY_LABELS.get(r.entity_type, r.entity_type), r.entity_id,
                                 r.insurer_id or "", r.provider_id or "",
                                 " ; ".join(f"{k}: {v}" if k else v for k, v in describe(r.changes_json)),
                                 r.ip_address or ""])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            db.session.expunge_all()
            if cursor is None:
                break

    stamp = datetime.now(TUNIS).strftime("%Y%m%d-%H%M")
    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="journal-audit-{stamp}.csv"'})
