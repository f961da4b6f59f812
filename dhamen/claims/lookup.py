"""Finding a member, within the frame of the Tunisian law on personal data (loi organique
n° 2004-63): a counter sees the member in front of it, nobody else.

- By national ID (through its keyed hash) or by contract number: the identifier designates
  one person.
- By name: only with the date of birth, and only exact matches (the full name in either
  order, or the last name alone; case and accents ignored).  A name alone never lists
  people: "Ben Ali" gives nobody, not fifteen members with their dates of birth.
- Every lookup is audited (``member.lookup``): who (the user, its organisation: the audit
  row's ``user_id`` / ``provider_id`` / ``insurer_id``), whom (one row per member found, or
  one row saying nobody was found), when (``created_at``), how (national ID, contract
  number, name + date of birth) and from where (IP address, browser).  The identifier
  typed is not stored (a national ID is personal data itself).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from dhamen.access.tenancy import scoped
from dhamen.claims.queries import contracts_by_number, member_by_national_id
from dhamen.core import audit, crypto
from dhamen.domain.text import fold, parse_date
from dhamen.extensions import db
from dhamen.models import Adherent, Contract

BY_NATIONAL_ID, BY_CONTRACT, BY_NAME, BY_ID = "national_id", "contract_number", "name_and_birth_date", "member_id"
MAX_RESULTS = 10
_CIN = re.compile(r"^[0-9]{8}$")


@dataclass
class MemberMatch:
    adherent: Adherent
    contracts: list[Contract] = field(default_factory=list)
    matched_by: str = BY_NATIONAL_ID


class MemberQueryError(ValueError):
    """A query that cannot be answered as typed: the French message says what to add."""


def parse_birth_date(raw: str | None) -> date | None:
    """A date of birth typed at the counter (``AAAA-MM-JJ`` from a date field, or ``JJ/MM/AAAA``)."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        value = parse_date(raw)
    except ValueError:
        value = None
    if value is None or not date(1900, 1, 1) <= value <= date.today():
        raise MemberQueryError("Date de naissance invalide (jj/mm/aaaa).")
    return value


def _words(text: str) -> tuple[str, ...]:
    return tuple(fold(text).replace("-", " ").split())


def find_members(user, query: str, birth_date: date | None = None) -> tuple[str, list[MemberMatch]]:
    """``(how, matches)`` for what the counter typed; raises :class:`MemberQueryError` when a
    name comes without a date of birth.  Audits the lookup (see the module docstring)."""
    query = (query or "").strip()
    normalised = crypto.normalise_national_id(query)
    results: dict[str, MemberMatch] = {}
    if _CIN.match(normalised):
        how = BY_NATIONAL_ID
        member = member_by_national_id(user, normalised)
        if member is not None:
            results[member.id] = MemberMatch(member, [], how)
    else:
        how = BY_CONTRACT
        for contract in contracts_by_number(user, query):
            results.setdefault(contract.adherent_id, MemberMatch(contract.adherent, [], how))
        if not results and not any(ch.isdigit() for ch in query):  # a name has no digit
            if birth_date is None:
                raise MemberQueryError("Pour chercher par nom, indiquez aussi la date de naissance : seul l'adhérent "
                                   "qui porte exactement ce nom et est né ce jour-là sera trouvé.")
            how = BY_NAME
            typed = _words(query)
            for member in db.session.scalars(scoped(select(Adherent).where(
                    Adherent.date_of_birth == birth_date, Adherent.is_live), Adherent, user)):
                first, last = _words(member.first_name), _words(member.last_name)
                if typed in (first + last, last + first, last):
                    results[member.id] = MemberMatch(member, [], how)
    matches = list(results.values())[:MAX_RESULTS]
    _attach_contracts(user, matches)
    audit_lookup(how, [m.adherent.id for m in matches])
    return how, matches


def _attach_contracts(user, matches: list[MemberMatch]) -> None:
    if not matches:
        return
    contracts = db.session.scalars(scoped(select(Contract).where(
        Contract.adherent_id.in_([m.adherent.id for m in matches])).options(selectinload(Contract.insurer))
        .order_by(Contract.start_date.desc()), Contract, user)).all()
    by_member: dict[str, list[Contract]] = {}
    for c in contracts:
        by_member.setdefault(c.adherent_id, []).append(c)
    for m in matches:
        m.contracts = by_member.get(m.adherent.id, [])


def audit_lookup(how: str, member_ids: list[str]) -> None:
    """One ``member.lookup`` audit row per member found, or one saying nobody was found (the
    request's user and organisation, see :func:`dhamen.core.audit.record`)."""
    if not member_ids:
        audit.record("member.lookup", "adherent", "-", {"by": how, "found": 0})
    for member_id in member_ids:
        audit.record("member.lookup", "adherent", member_id, {"by": how, "found": len(member_ids)})
