"""Tenant scoping: the one mechanism every query of an organisation's data goes through.

``scoped(select(Model), user)`` restricts a statement to what the user's
organisation may see; ``get_or_404(Model, id)`` loads one object the same
way, and another organisation's id is indistinguishable from a missing one
(404); ``scoped_static(STMT, Model)`` does what ``scoped`` does to a statement
built once at import (the claim entry hot path).  Admins see everything.  A
model without a rule here is refused to provider and insurer users: add its
rule before exposing it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy import Select, exists, false, select, true

from dhamen.core.errors import NotFoundError
from dhamen.extensions import db
from dhamen.models import (
    Adherent,
    AuditLog,
    Claim,
    ClaimDayFlag,
    ClaimDayTotal,
    ClaimItem,
    Contract,
    Convention,
    Insurer,
    Provider,
    Reconciliation,
    ReconciliationRun,
    ReconciliationStatement,
    User,
)

ALL = "all"


def _insurer_members(stmt: Select, user) -> Select:
    return stmt.where(exists().where(Contract.adherent_id == Adherent.id, Contract.insurer_id == user.insurer_id))


def _provider_reconciliations(stmt: Select, user) -> Select:
    return stmt.where(exists().where(Claim.reconciliation_id == Reconciliation.id,
                                     Claim.provider_id == user.provider_id))


def _items(kind: str) -> Callable:
    def rule(stmt: Select, user) -> Select:
        column = Claim.insurer_id if kind == "insurer" else Claim.provider_id
        org = user.insurer_id if kind == "insurer" else user.provider_id
        return stmt.where(exists().where(Claim.id == ClaimItem.claim_id, column == org))

    return rule


# model → {"insurer": column | callable | ALL | None, "provider": ...}
RULES: dict[type, dict[str, object]] = {
    Claim: {"insurer": Claim.insurer_id, "provider": Claim.provider_id},
    ClaimItem: {"insurer": _items("insurer"), "provider": _items("provider")},
    # The day roll-ups of the claims (dashboard, counter figures): the same organisation columns.
    ClaimDayTotal: {"insurer": ClaimDayTotal.insurer_id, "provider": ClaimDayTotal.provider_id},
    ClaimDayFlag: {"insurer": ClaimDayFlag.insurer_id, "provider": None},
    Reconciliation: {"insurer": Reconciliation.insurer_id, "provider": _provider_reconciliations},
    ReconciliationStatement: {"insurer": ReconciliationStatement.insurer_id,
                              "provider": ReconciliationStatement.provider_id},
    ReconciliationRun: {"insurer": ReconciliationRun.insurer_id, "provider": None},
    Contract: {"insurer": Contract.insurer_id, "provider": ALL},  # the counter checks any member's rights
    Adherent: {"insurer": _insurer_members, "provider": ALL},
    Convention: {"insurer": Convention.insurer_id, "provider": Convention.provider_id},
    Provider: {"insurer": ALL, "provider": Provider.id},
    Insurer: {"insurer": Insurer.id, "provider": ALL},
    User: {"insurer": User.insurer_id, "provider": User.provider_id},
    AuditLog: {"insurer": AuditLog.insurer_id, "provider": AuditLog.provider_id},
}


def _org_id(user, kind: str) -> str | None:
    return user.insurer_id if kind == "insurer" else user.provider_id


def _rule(model, user):
    kind = user.organisation_kind
    return (RULES.get(model, {}).get(kind) if kind else None), (_org_id(user, kind) if kind else None)


def _is_function_rule(rule) -> bool:
    return callable(rule) and not hasattr(rule, "__clause_element__")


def condition_for(model, user):
    """A SQL condition limiting ``model`` rows to the user's organisation (column rules only)."""
    if user.role == "ADMIN":
        return true()
    rule, org = _rule(model, user)
    if rule is None or org is None or _is_function_rule(rule):
        return false()
    if isinstance(rule, str):  # ALL
        return true()
    return rule == org


def scoped(stmt: Select, model, user) -> Select:
    """``stmt`` restricted to what ``user``'s organisation may see (``None``: nothing)."""
    if user is None:
        return stmt.where(false())
    if user.role == "ADMIN":
        return stmt
    rule, org = _rule(model, user)
    if org is not None and _is_function_rule(rule):
        return rule(stmt, user)
    return stmt.where(condition_for(model, user))


_SCOPED: OrderedDict = OrderedDict()
_SCOPED_MAX = 2048


def scoped_static(stmt: Select, model, user) -> Select:
    """``scoped()`` for a statement built once (module level, values as ``bindparam``).

    Building a statement and its cache key costs more than running it on the hot
    path (claim entry); this keeps the scoped form per organisation, so the same
    object, with its memoised cache key, is reused.  Same rules as ``scoped()``.
    """
    if user is None:
        return stmt.where(false())
    admin = user.role == "ADMIN"
    rule, org = (None, None) if admin else _rule(model, user)
    # A rule that lets the whole kind see everything (ALL) gives one statement for all its
    # organisations; a user without an organisation keeps its own (it sees nothing).
    if isinstance(rule, str) and org is not None:
        org = ALL
    key = (id(stmt), admin, None if admin else user.organisation_kind, org)
    found = _SCOPED.get(key)
    if found is None or found[0] is not stmt:
        found = _SCOPED[key] = (stmt, scoped(stmt, model, user))
        if len(_SCOPED) > _SCOPED_MAX:
            _SCOPED.popitem(last=False)
    return found[1]


def get_or_404(model, object_id: str, user, *, options=()):
    """One object of the user's organisation, or ``NotFoundError`` (the edge answers 404: a page
    or the ``NOT_FOUND`` envelope)."""
    obj = None
    if isinstance(object_id, str) and 0 < len(object_id) <= 64:
        stmt = scoped(select(model).where(model.id == object_id), model, user)
        if options:
            stmt = stmt.options(*options)
        obj = db.session.scalar(stmt)
    if obj is None:
        raise NotFoundError()
    return obj
