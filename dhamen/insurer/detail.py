"""What an agent reads before deciding a claim: member and contract, lines, flags, history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from dhamen.access.roles import role_label
from dhamen.access.tenancy import get_or_404, scoped
from dhamen.claims.queries import NOT_PAYABLE, terms_of, used_in_contract_year
from dhamen.domain import eligibility as elig
from dhamen.domain.errors import ConfigError
from dhamen.domain.money import format_tnd
from dhamen.domain.reasons import label as reason_label
from dhamen.extensions import db
from dhamen.models import AuditLog, Claim, ClaimDayTotal, Provider, User

MEMBER_WINDOW_DAYS = 90
PROVIDER_WINDOW_DAYS = 365
PROVIDER_SAMPLE = 1000  # the provider's latest claims of the type: a bounded read at any volume
INSURER_WINDOW_DAYS = 90  # the insurer's mean of the type, from the day roll-up
ACTION_LABELS = {
    "claim.create": "Demande saisie",
    "claim.decision": "Décision de l'assureur",
    "claim.reconcile": "Ajoutée à un bordereau",
}
DECISION_WORDS = {"approve": "approuvée", "partial": "approuvée en partie", "reject": "refusée", "block": "bloquée"}


@dataclass
class HistoryEntry:
    at: object
    who: str
    what: str
    detail: str | None = None


@dataclass
class ProviderFigures:
    claims: int
    average: int | None
    maximum: int | None
    flagged: int
    insurer_average: int | None


@dataclass
class ClaimFile:
    claim: Claim
    rights: elig.Eligibility | None
    rights_error: str | None
    used_by_others: int
    flags: list[dict]
    member_claims: list
    provider: ProviderFigures
    history: list[HistoryEntry] = field(default_factory=list)
    decision: dict | None = None


def load(user, claim_id: str) -> ClaimFile:
    claim = get_or_404(Claim, claim_id, user, options=(
        selectinload(Claim.items), selectinload(Claim.adherent), selectinload(Claim.contract),
        selectinload(Claim.provider), selectinload(Claim.insurer)))
    contract = claim.contract
    used = used_in_contract_year(contract, claim.care_date) if contract.start_date <= claim.care_date \
        <= contract.end_date else 0
    if claim.status not in NOT_PAYABLE:
        used = max(0, used - claim.covered_amount)
    rights, rights_error = None, None
    try:
        rights = elig.check(terms_of(contract), claim.type, claim.care_date, used)
    except ConfigError as exc:
        rights_error = f"Contrat mal paramétré : {exc}"
    flags = [{"code": f.get("code"), "label": reason_label(f.get("code", "")), "message": f.get("message"),
              "points": f.get("points", 0)} for f in claim.fraud_flags_json or ()]
    return ClaimFile(claim=claim, rights=rights, rights_error=rights_error, used_by_others=used, flags=flags,
                     member_claims=member_claims(user, claim), provider=provider_figures(user, claim),
                     history=history(claim), decision=(claim.details_json or {}).get("decision"))


def member_claims(user, claim: Claim) -> list:
    """The member's other claims with this insurer over the last 90 days, at any provider."""
    since = claim.care_date - timedelta(days=MEMBER_WINDOW_DAYS)
    stmt = (select(Claim.id, Claim.care_date, Claim.type, Claim.status, Claim.total_amount, Claim.covered_amount,
                   Provider.name.label("provider_name"))
            .join(Provider, Provider.id == Claim.provider_id)
            .where(Claim.adherent_id == claim.adherent_id, Claim.id != claim.id, Claim.care_date >= since,
                   Claim.care_date <= claim.care_date + timedelta(days=MEMBER_WINDOW_DAYS))
            .order_by(Claim.care_date.desc(), Claim.created_at.desc()).limit(50))
    return db.session.execute(scoped(stmt, Claim, user)).all()


def provider_figures(user, claim: Claim) -> ProviderFigures:
    """The provider's usual claims of this care type with this insurer: its latest
    :data:`PROVIDER_SAMPLE` of the last 12 months (one backward walk of the provider's
    ``(provider_id, created_at, id)`` index, stopped there), and the insurer's mean amount of
    the type over :data:`INSURER_WINDOW_DAYS` days read from the day roll-up — neither reads
    the provider's or the insurer's whole history."""
    since = date.today() - timedelta(days=PROVIDER_WINDOW_DAYS)
    latest = scoped(select(Claim.total_amount, Claim.fraud_score).where(
        Claim.provider_id == claim.provider_id, Claim.type == claim.type, Claim.care_date >= since,
        Claim.id != claim.id), Claim, user).order_by(Claim.created_at.desc(), Claim.id.desc()) \
        .limit(PROVIDER_SAMPLE).subquery()
    n, avg, mx, flagged = db.session.execute(select(
        func.count(), func.avg(latest.c.total_amount), func.max(latest.c.total_amount),
        func.count().filter(latest.c.fraud_score > 0))).one()
    days = scoped(select(func.sum(ClaimDayTotal.total_amount), func.sum(ClaimDayTotal.claims)).where(
        ClaimDayTotal.type == claim.type,
        ClaimDayTotal.day >= date.today() - timedelta(days=INSURER_WINDOW_DAYS)), ClaimDayTotal, user)
    amount, count = db.session.execute(days).one()
    insurer_avg = int(amount) // int(count) if count else None
    return ProviderFigures(int(n or 0), int(avg) if avg is not None else None, int(mx) if mx is not None else None,
                           int(flagged or 0), insurer_avg)


def history(claim: Claim) -> list[HistoryEntry]:
    """The claim's audit rows (the claim itself is already authorised), who did what when."""
    rows = db.session.execute(
        select(AuditLog.created_at, AuditLog.action, AuditLog.changes_json, User.first_name, User.last_name,
               User.role)
        .outerjoin(User, User.id == AuditLog.user_id)
        .where(AuditLog.entity_type == "claim", AuditLog.entity_id == claim.id,
               AuditLog.action.not_like("event.%"))
        .order_by(AuditLog.created_at, AuditLog.id)).all()
    out = []
    for r in rows:
        who = f"{r.first_name} {r.last_name} ({role_label(r.role)})" if r.first_name else "Système"
        changes = r.changes_json or {}
        detail = None
        if r.action == "claim.decision":
            detail = DECISION_WORDS.get(changes.get("action"), changes.get("action"))
            if changes.get("note"):
                detail += f" — « {changes['note']} »"
            words = [_line_words(line) for line in changes.get("lines") or () if isinstance(line, dict)]
            if words:
                detail += " ; " + " ; ".join(w for w in words if w)
            before, after = changes.get("before") or {}, changes.get("after") or {}
            if before.get("covered") != after.get("covered") and after.get("covered") is not None:
                detail += f" ; prise en charge {format_tnd(before.get('covered') or 0)} → {format_tnd(after['covered'])}"
        elif r.action == "claim.create":
            statuses = changes.get("status") or []
            detail = reason_label(changes.get("reason_code") or "") if changes.get("reason_code") else None
            if statuses:
                detail = (detail + " · " if detail else "") + f"score de risque {changes.get('fraud_score', 0)}"
        out.append(HistoryEntry(r.created_at, who, ACTION_LABELS.get(r.action, r.action), detail))
    return out


def _line_words(line: dict) -> str:
    """One line of a decision, in words: ``ligne 2 : quantité 1, prix accordé 15,000 TND (motif)``."""
    words = []
    if line.get("quantity") is not None:
        words.append("refusée" if line["quantity"] == 0 else f"quantité {line['quantity']}")
    if line.get("unitPrice") is not None:
        words.append(f"prix unitaire {format_tnd(line['unitPrice'])}")
    if line.get("agreedUnitPrice") is not None:
        words.append(f"prix accordé hors nomenclature {format_tnd(line['agreedUnitPrice'])}")
    if line.get("override") in ("accept", "refuse"):
        words.append(f"renouvellement anticipé {'accepté' if line['override'] == 'accept' else 'refusé'}")
    if not words or not isinstance(line.get("position"), int):
        return ""
    return f"ligne {line['position'] + 1} : {', '.join(words)} ({line.get('reason') or ''})"
