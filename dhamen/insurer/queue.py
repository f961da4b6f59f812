"""The review queue: an insurer's claims waiting for a decision, filtered, sorted, keyset-paged.

The page, the CSV export and ``GET /api/v1/review`` read the same filters
(:func:`parse_filters`, from a query string) and run the same statement
(:func:`review_statement`), scoped to the user's insurer by ``tenancy``.

Filters (query-string names, French as the rest of the portal's URLs):

``statut`` (``pending_review`` / ``blocked``; both by default), ``type``
(care type), ``prestataire`` (provider id), ``adherent`` (member id: a
national ID is never in a URL, it is posted and turned into this id),
``contrat`` (contract number), ``du`` / ``au`` (care dates), ``montant_min``
/ ``montant_max`` (claim total, in TND as typed: ``120,500``),
``score_min`` / ``score_max`` (fraud score 0-100), ``signal`` (a fraud flag
code), ``tri`` (see :data:`SORTS`), ``apres`` / ``avant`` (keyset cursors:
next / previous page).

Paging is by keyset (``dhamen.core.pagination``): the page after the row
``(v, id)`` is the rows whose ``(sort value, id)`` comes after it, so page
400 costs what page 1 does; cursors are signed and bound to their order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal, literal_column, select
from sqlalchemy.dialects.postgresql import JSONB

from dhamen.access.tenancy import scoped
from dhamen.claims.where import narrowed
from dhamen.core.pagination import CursorError, Keyset, Page, capped_count, paginate
from dhamen.domain.errors import MoneyError
from dhamen.domain.labels import CARE_TYPE_LABELS
from dhamen.domain.money import format_tnd, parse_tnd
from dhamen.domain.reasons import REASONS
from dhamen.domain.transitions import CLAIM_STATUSES
from dhamen.extensions import db
from dhamen.models import Adherent, Claim, ClaimDayTotal, Contract, Convention, Provider

REVIEW_STATUSES: tuple[str, ...] = ("pending_review", "blocked")
ALL_STATUSES = "tous"
REVIEW_STATUS_LABELS = {"pending_review": "En attente de validation", "blocked": "Bloquée"}
FLAG_CODES: tuple[str, ...] = ("DUPLICATE", "HIGH_FREQUENCY", "UNUSUAL_AMOUNT", "HIGH_QUANTITY", "FAR_PROVIDER")
FLAG_LABELS = {code: REASONS[code] for code in FLAG_CODES}
PAGE_SIZE = 25
MAX_PAGE_SIZE = 100

#: tri → (label, column name, ascending)
SORTS: dict[str, tuple[str, str, bool]] = {
    "anciennes": ("Les plus anciennes d'abord", "created_at", True),
    "recentes": ("Les plus récentes d'abord", "created_at", False),
    "montant": ("Montant décroissant", "total_amount", False),
    "score": ("Score de risque décroissant", "fraud_score", False),
    "soins": ("Date des soins croissante", "care_date", True),
}
DEFAULT_SORT = "anciennes"


class FilterError(ValueError):
    """Bad filter values: every French message, with the parameter at fault."""

    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__(errors[0][1])
        self.errors = errors


@dataclass(frozen=True)
class ReviewFilters:
    statut: str | None = None
    type: str | None = None
    prestataire: str | None = None
    adherent: str | None = None
    contrat: str | None = None
    du: date | None = None
    au: date | None = None
    montant_min: int | None = None  # millimes
    montant_max: int | None = None
    score_min: int | None = None
    score_max: int | None = None
    signal: str | None = None
    tri: str = DEFAULT_SORT
    extra: dict = field(default_factory=dict, compare=False)

    def query_args(self, **override) -> dict[str, str]:
        """The filters as query-string arguments (amounts as typed in TND), empty ones left out."""
        out: dict[str, str] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = override.get(f.name, getattr(self, f.name))
            if value is None or value == "" or (f.name == "tri" and value == DEFAULT_SORT):
                continue
            if f.name in ("montant_min", "montant_max"):
                value = format_tnd(value, with_unit=False)
            elif isinstance(value, date):
                value = value.isoformat()
            out[f.name] = str(value)
        return out

    def args_with(self, name: str, value: str) -> dict[str, str]:
        """The filters' arguments plus one more (a page cursor)."""
        return {**self.query_args(), name: value}

    @property
    def active(self) -> bool:
        return bool(set(self.query_args()) - {"tri"})

    def without(self, name: str) -> ReviewFilters:
        return replace(self, **{name: None})


def _text(args: Mapping[str, str], name: str, limit: int = 64) -> str | None:
    value = (args.get(name) or "").strip()
    return value[:limit] or None


def parse_filters(args: Mapping[str, str], *, any_status: bool = False) -> ReviewFilters:
    """Read the filters of a query string; :class:`FilterError` lists every bad value.

    ``any_status`` (the CSV export): ``statut`` may be any claim status, or ``tous``."""
    errors: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    statut = _text(args, "statut")
    allowed = (*CLAIM_STATUSES, ALL_STATUSES) if any_status else REVIEW_STATUSES
    if statut and statut not in allowed:
        errors.append(("statut", "Statut inconnu : choisissez « En attente de validation » ou « Bloquée »."))
    values["statut"] = statut
    care_type = _text(args, "type")
    if care_type and care_type not in CARE_TYPE_LABELS:
        errors.append(("type", "Type de soin inconnu."))
    values["type"] = care_type
    values["prestataire"] = _text(args, "prestataire", 26)
    values["adherent"] = _text(args, "adherent", 26)
    values["contrat"] = _text(args, "contrat", 50)
    for name in ("du", "au"):
        raw = _text(args, name)
        values[name] = None
        if raw:
            try:
                values[name] = date.fromisoformat(raw)
            except ValueError:
                errors.append((name, f"Date « {raw} » invalide (format AAAA-MM-JJ)."))
    if values["du"] and values["au"] and values["du"] > values["au"]:
        errors.append(("au", "La date de fin précède la date de début."))
    for name in ("montant_min", "montant_max"):
        raw = _text(args, name, 30)
        values[name] = None
        if raw:
            try:
                values[name] = parse_tnd(raw)
            except MoneyError as exc:
                errors.append((name, str(exc)))
    if values["montant_min"] is not None and values["montant_max"] is not None \
            and values["montant_min"] > values["montant_max"]:
        errors.append(("montant_max", "Le montant maximum est inférieur au montant minimum."))
    for name in ("score_min", "score_max"):
        raw = _text(args, name, 10)
        values[name] = None
        if raw:
            if raw.isdigit() and 0 <= int(raw) <= 100:
                values[name] = int(raw)
            else:
                errors.append((name, f"Score « {raw} » invalide : un entier de 0 à 100."))
    if values["score_min"] is not None and values["score_max"] is not None \
            and values["score_min"] > values["score_max"]:
        errors.append(("score_max", "Le score maximum est inférieur au score minimum."))
    signal = _text(args, "signal")
    if signal and signal not in FLAG_CODES:
        errors.append(("signal", "Signal de fraude inconnu."))
    values["signal"] = signal
    tri = _text(args, "tri") or DEFAULT_SORT
    if tri not in SORTS:
        errors.append(("tri", "Tri inconnu."))
        tri = DEFAULT_SORT
    values["tri"] = tri
    if errors:
        raise FilterError(errors)
    return ReviewFilters(**values)


_FLAG_PATH = literal_column("'$[*] ? (@.code == $c)'::jsonpath")  # a constant; the code is a parameter ($c)


def flag_condition(code: str) -> ColumnElement:
    """Claims carrying the fraud flag ``code``.

    PostgreSQL: a JSON path test, a function call the planner prices as an ordinary filter (a
    third of the rows), so a queue page filtered by a flag walks the queue's keyset index and
    stops at 25 matches.  (``@>`` containment is priced at 0.1 %: the planner then fetched every
    waiting claim with a high score and sorted them, 35 ms at 100 000 claims, growing with the
    queue.)  A rare flag still walks the queue until it has a page: see bench/README.md."""
    if db.engine.dialect.name == "postgresql":
        return func.jsonb_path_exists(Claim.fraud_flags_json.cast(JSONB), _FLAG_PATH, func.jsonb_build_object("c", code))
    each = func.json_each(Claim.fraud_flags_json).table_valued("value")
    return select(literal(1)).select_from(each).where(
        func.json_extract(each.c.value, "$.code") == code).exists()


def filtered(stmt: Select, filters: ReviewFilters, statuses: tuple[str, ...] = REVIEW_STATUSES) -> Select:
    """Apply the filters to a statement over ``claims`` (no scoping, no ordering)."""
    if filters.statut != ALL_STATUSES:
        wanted = (filters.statut,) if filters.statut else statuses
        stmt = stmt.where(Claim.status.in_(wanted) if len(wanted) > 1 else Claim.status == wanted[0])
    stmt = narrowed(stmt, care_type=filters.type, provider_id=filters.prestataire, adherent_id=filters.adherent,
                    care_from=filters.du, care_to=filters.au, amount_min=filters.montant_min,
                    amount_max=filters.montant_max, score_min=filters.score_min, score_max=filters.score_max)
    if filters.contrat:
        stmt = stmt.where(Claim.contract_id.in_(
            select(Contract.id).where(func.upper(Contract.contract_number) == filters.contrat.upper())))
    if filters.signal:
        stmt = stmt.where(flag_condition(filters.signal))
    return stmt


# --- keyset order (dhamen.core.pagination) ---------------------------------------------------

KEYSETS: dict[str, Keyset] = {
    "anciennes": Keyset("review.oldest", (Claim.created_at, Claim.id), descending=False),
    "recentes": Keyset("review.newest", (Claim.created_at, Claim.id)),
    "montant": Keyset("review.amount", (Claim.total_amount, Claim.id)),
    "score": Keyset("review.score", (Claim.fraud_score, Claim.id)),
    "soins": Keyset("review.care", (Claim.care_date, Claim.id), descending=False),
}


# --- the queue -------------------------------------------------------------------------------

@dataclass
class QueueRow:
    id: str
    type: str
    status: str
    care_date: date
    created_at: datetime
    total_amount: int
    covered_amount: int
    fraud_score: int
    fraud_flags: list
    reason_code: str | None
    provider_id: str
    provider_name: str
    adherent_id: str
    member_name: str
    contract_number: str

    @property
    def flag_labels(self) -> list[str]:
        return [FLAG_LABELS.get(f.get("code"), f.get("code")) for f in self.fraud_flags or () if f.get("points", 0) > 0]


_ROW_COLUMNS = (Claim.id, Claim.type, Claim.status, Claim.care_date, Claim.created_at, Claim.total_amount,
                Claim.covered_amount, Claim.fraud_score, Claim.fraud_flags_json, Claim.reason_code,
                Claim.provider_id, Provider.name, Claim.adherent_id,
                (Adherent.first_name + " " + Adherent.last_name), Contract.contract_number)


def review_statement(user, filters: ReviewFilters, statuses: tuple[str, ...] = REVIEW_STATUSES) -> Select:
    """Filtered claims of the user's insurer (ids and sort columns only, no joins)."""
    return scoped(filtered(select(Claim.id), filters, statuses), Claim, user)


def page(user, filters: ReviewFilters, cursor: str | None = None, *, backwards: bool = False,
         limit: int = PAGE_SIZE) -> Page:
    """One page of the queue in the chosen order; :class:`FilterError` for a bad cursor."""
    stmt = (select(*_ROW_COLUMNS)
            .join(Provider, Provider.id == Claim.provider_id)
            .join(Adherent, Adherent.id == Claim.adherent_id)
            .join(Contract, Contract.id == Claim.contract_id))
    try:
        result = paginate(scoped(filtered(stmt, filters), Claim, user), KEYSETS[filters.tri], cursor=cursor,
                          backwards=backwards, per_page=limit, scalars=False)
    except CursorError as exc:
        raise FilterError([("apres", exc.message)]) from None
    result.rows = [QueueRow(*r) for r in result.rows]
    return result


#: Filters the day roll-up (``claim_day_totals``) answers exactly: its dimensions.
ROLLUP_FILTERS = frozenset({"statut", "type", "prestataire", "tri"})
#: A member's or a contract's claims are few (their own index): counted, up to this.
MEMBER_COUNT_CAP = 1_000
#: A queue this small (the insurer's waiting claims, from the roll-up) is counted whatever the filters.
SMALL_QUEUE = 2_000


def count(user, filters: ReviewFilters, shown: Page | None = None) -> tuple[int, bool]:
    """(n, exact): how many claims the filters select, without walking the queue.

    - status / care type / provider only (or no filter): exact, from the day roll-up (a sum of
      small rows, whatever the queue's size);
    - a member or a contract: counted (their claims are few, read through their own index), up to
      :data:`MEMBER_COUNT_CAP`;
    - other filters (amounts, scores, dates, flags): counted when the insurer's whole queue has at
      most :data:`SMALL_QUEUE` claims (the count reads at most that many); beyond, exact when the page
      ``shown`` is the whole result, else ``(rows shown, False)`` — "plus de 25" — rather than a
      count that would read every waiting claim to test its filters.
    """
    if set(filters.query_args()) <= ROLLUP_FILTERS:
        return rollup_count(user, filters), True
    if filters.adherent or filters.contrat:
        return capped_count(review_statement(user, filters), MEMBER_COUNT_CAP)
    if rollup_count(user, ReviewFilters(statut=filters.statut)) <= SMALL_QUEUE:
        return capped_count(review_statement(user, filters), SMALL_QUEUE)
    if shown is None:
        return 0, False
    if not shown.has_next and not shown.has_prev:
        return len(shown.rows), True
    return len(shown.rows), False


def rollup_count(user, filters: ReviewFilters) -> int:
    """The waiting claims of the user's insurer with the filters' status, care type and provider, read
    from the day roll-up (exact: triggers keep it in each claim's transaction)."""
    t = ClaimDayTotal
    statuses = (filters.statut,) if filters.statut else REVIEW_STATUSES
    stmt = select(func.coalesce(func.sum(t.claims), 0)).where(t.status.in_(statuses))
    if filters.type:
        stmt = stmt.where(t.type == filters.type)
    if filters.prestataire:
        stmt = stmt.where(t.provider_id == filters.prestataire)
    return int(db.session.scalar(scoped(stmt, t, user)) or 0)


def providers_in_queue(user) -> list[tuple[str, str]]:
    """(id, name) of the providers under convention with the insurer (the only ones whose claims it
    receives), for the filter's list: read from the conventions, not from millions of claims."""
    inner = scoped(select(Convention.provider_id), Convention, user)
    return [tuple(r) for r in db.session.execute(
        select(Provider.id, Provider.name).where(Provider.id.in_(inner)).order_by(Provider.name)).all()]


def member_label(user, adherent_id: str | None) -> str | None:
    """The member filter's chip: name and masked national ID, only for a member of this insurer."""
    if not adherent_id:
        return None
    member = db.session.scalar(scoped(select(Adherent).where(Adherent.id == adherent_id), Adherent, user))
    return f"{member.full_name} (CIN {member.national_id_masked})" if member else None


