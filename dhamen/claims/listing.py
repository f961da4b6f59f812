"""Lists of claims that stay fast at millions of rows: keyset pages, capped counts.

Used by the provider history (``/pharmacie/demandes`` and the other portals),
the counter home's latest claims and ``GET /api/v1/claims``.

- Newest first: ``ORDER BY created_at DESC, id DESC``, walked with a cursor
  (:mod:`dhamen.core.pagination`) over the indexes ``(provider_id | insurer_id,
  [status,] created_at, id)``: a page reads ``per_page + 1`` index entries
  whatever its depth, and claims entered meanwhile neither repeat nor hide a row.
- Filtered by care date (``du`` / ``au``): ordered by care date, newest care
  first (``care_date DESC, id DESC``), over ``(org, care_date, id)``: a care-date
  range is an index range instead of a scan of every claim entered since.
- Filtered by member name: the members whose name matches are found first (at
  most :data:`MEMBER_CAP`: beyond, the counter is asked to type more of the name),
  then their claims at the provider through ``(provider_id, adherent_id,
  created_at, id)`` — what those members had here, never a walk of the
  provider's history; still newest first.
- No ``COUNT(*)`` of the whole set: :func:`count` stops at :data:`COUNT_CAP`
  ("plus de 1 000").

Every statement is scoped to the user's organisation (``tenancy.scoped``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import contains_eager, load_only

from dhamen.access.tenancy import scoped
from dhamen.claims.where import narrowed
from dhamen.core import crypto
from dhamen.core.pagination import Keyset, Page, capped_count, paginate
from dhamen.domain import reference as claim_reference
from dhamen.domain.labels import STATUS_LABELS
from dhamen.domain.money import group_digits
from dhamen.domain.text import parse_date
from dhamen.extensions import db
from dhamen.models import Adherent, Claim, Contract

NEWEST = Keyset("claims.newest", (Claim.created_at, Claim.id))
BY_CARE_DATE = Keyset("claims.care_date", (Claim.care_date, Claim.id))
COUNT_CAP = 1000
MEMBER_CAP = 100  # members matched by a name filter
_CIN = re.compile(r"^[0-9]{8}$")


@dataclass
class ClaimFilters:
    date_from: date | None = None  # care date
    date_to: date | None = None
    status: str | None = None
    member: str | None = None  # a name (or a CIN, matched through its keyed hash)
    care_type: str | None = None
    reference: str | None = None  # a claim's short reference, normalised
    matched: list[str] | None = None  # the ids of the members ``member`` matches (found once)

    @property
    def keyset(self) -> Keyset:
        return BY_CARE_DATE if self.date_from or self.date_to else NEWEST


def parse_filters(args) -> tuple[ClaimFilters, list[str]]:
    """The history page's query string (``du``, ``au``, ``statut``, ``adherent``); French errors."""
    errors = []
    filters = ClaimFilters()
    for name, attr in (("du", "date_from"), ("au", "date_to")):
        raw = (args.get(name) or "").strip()
        if raw:
            try:
                setattr(filters, attr, parse_date(raw))
            except ValueError:
                errors.append(f"Date « {raw[:20]} » invalide (format jj/mm/aaaa).")
    if filters.date_from and filters.date_to and filters.date_to < filters.date_from:
        errors.append("La date de fin précède la date de début : période ignorée.")
        filters.date_from = filters.date_to = None
    status = (args.get("statut") or "").strip()
    if status:
        if status in STATUS_LABELS:
            filters.status = status
        else:
            errors.append("Statut inconnu.")
    member = (args.get("adherent") or "").strip()[:100]
    filters.member = member or None
    if filters.member:
        try:
            filters.matched = member_ids(filters.member)
        except TooManyMembers:
            errors.append(too_many_members_message(filters.member) + " Filtre ignoré.")
            filters.member = None
    ref = (args.get("demande") or "").strip()[:40]
    if ref:
        filters.reference = claim_reference.normalise(ref)
        if filters.reference is None:
            errors.append(f"N° de demande « {ref} » invalide : il s'écrit comme PH-26-4K7Q-9MXC "
                          "(vérifiez chaque caractère, le dernier est une clé de contrôle).")
    return filters, errors


class TooManyMembers(ValueError):
    """More than :data:`MEMBER_CAP` members match a name filter."""


def _members_matching(text: str) -> Select:
    normalised = crypto.normalise_national_id(text)
    if _CIN.match(normalised):
        return select(Adherent.id).where(Adherent.national_id_hash == crypto.national_id_hash(normalised))
    like = f"%{text.lower().replace('%', '').replace('_', '')}%"
    return select(Adherent.id).where(or_(
        func.lower(Adherent.last_name).like(like), func.lower(Adherent.first_name).like(like),
        func.lower(Adherent.first_name + " " + Adherent.last_name).like(like)))


def member_ids(text: str) -> list[str]:
    """The ids of the members matching ``text`` (a bounded read); :class:`TooManyMembers` beyond
    :data:`MEMBER_CAP`."""
    ids = list(db.session.scalars(_members_matching(text).limit(MEMBER_CAP + 1)))
    if len(ids) > MEMBER_CAP:
        raise TooManyMembers(text)
    return ids


def too_many_members_message(text: str) -> str:
    return (f"Plus de {MEMBER_CAP} adhérents correspondent à « {text[:40]} » : tapez davantage du nom "
            "(par exemple le nom et le prénom).")


def statement(user, filters: ClaimFilters) -> Select:
    """The user's organisation's claims matching ``filters`` (not ordered), member and contract
    number joined in (one query per page, only the columns the lists show)."""
    stmt = narrowed(scoped(select(Claim), Claim, user), care_from=filters.date_from, care_to=filters.date_to,
                    status=filters.status, care_type=filters.care_type, reference=filters.reference)
    if filters.member:
        # The members first (bounded), then their claims here: (provider_id, adherent_id, created_at, id).
        if filters.matched is None:
            filters.matched = member_ids(filters.member)
        stmt = stmt.where(Claim.adherent_id.in_(filters.matched))
    return stmt


def _with_names(stmt: Select) -> Select:
    return (stmt.join(Claim.adherent).join(Claim.contract)
            .options(contains_eager(Claim.adherent).options(load_only(
                Adherent.id, Adherent.first_name, Adherent.last_name, Adherent.national_id, raiseload=True)),
                contains_eager(Claim.contract).options(load_only(
                    Contract.id, Contract.contract_number, raiseload=True))))


def page(user, filters: ClaimFilters, *, cursor: str | None = None, backwards: bool = False, per_page: int = 25,
         offset: int = 0) -> Page:
    """One page of claims (entities with ``adherent`` and ``contract`` loaded).  Raises
    :class:`~dhamen.core.pagination.CursorError` for a bad cursor."""
    if filters.member:
        # The matched members' claims here may be thousands: the page's keys first, from the index
        # (provider_id, adherent_id, created_at, id) alone, then the page's rows by primary key.
        keys = paginate(statement(user, filters).with_only_columns(*filters.keyset.columns), filters.keyset,
                        cursor=cursor, backwards=backwards, per_page=per_page, offset=offset, scalars=False)
        ids = [key.id for key in keys.rows]
        found = {c.id: c for c in db.session.scalars(_with_names(scoped(select(Claim), Claim, user)
                                                                 .where(Claim.id.in_(ids))))} if ids else {}
        keys.rows = [found[i] for i in ids if i in found]
        return keys
    return paginate(_with_names(statement(user, filters)), filters.keyset, cursor=cursor, backwards=backwards,
                    per_page=per_page, offset=offset)


def count(user, filters: ClaimFilters) -> tuple[int, bool]:
    """``(n, exact)``: the number of matching claims, or ``(COUNT_CAP, False)`` beyond it."""
    return capped_count(statement(user, filters), COUNT_CAP)


def count_label(n: int, exact: bool) -> str:
    """« 27 demandes », « 1 demande », « plus de 1 000 demandes »."""
    if not exact:
        return f"Plus de {group_digits(n)} demandes"
    return f"{group_digits(n)} demande{'s' if n != 1 else ''}"
