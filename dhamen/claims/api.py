"""The claims JSON API (issue 4), on the shared ``/api/v1`` blueprint.

Routes (Bearer token; answers in the seed's envelope):

``POST /claims/pharmacy`` (PHARMACIST), ``/claims/consultation`` (DOCTOR),
``/claims/lab`` (LAB_MANAGER), ``/claims/hospitalization`` (CLINIC_ADMIN)
    One view, configured per claim type (:data:`CLAIM_ROUTES`).  Body:
    :class:`~dhamen.claims.schemas.ClaimBody` /
    :class:`~dhamen.claims.schemas.HospitalizationBody`.  201 with the claim
    (rejected claims too: an ineligible contract is stored with its reason).
    ``Idempotency-Key`` header: a retry with the same key and body returns
    the first answer (201, same body, ``Idempotent-Replayed: true``), the
    same key with another body is refused (422 ``IDEMPOTENCY_KEY_REUSED``).
    Another provider role gets 403 ``WRONG_CLAIM_TYPE``.
``GET /claims``
    The caller's organisation's claims: filters ``du``, ``au`` (care date),
    ``statut``, ``type``; ``perPage`` (≤ 100); ``cursor`` (the answer's
    ``nextCursor``, keyset pagination) or ``page`` (the first 1 000 claims only).
``GET /claims/<id>``
    One claim with its lines; another organisation's id is a 404.
``GET /eligibility?contractNumber=…|memberId=…&careType=&date=``
``POST /eligibility`` ``{nationalId | contractNumber | memberId, careType?, date?}``
    The rights panel, modelled on FHIR ``CoverageEligibilityResponse``.
    National IDs go in the POST body only, never in a URL (SECURITY.md): a
    GET carrying one is refused (400 ``NATIONAL_ID_IN_URL``).

Errors: ``VALIDATION_ERROR`` (422) with ``details.field`` naming the field
(``items[2].quantity``) and ``details.errors`` listing every problem; the
service's refusals keep their own codes (``UNKNOWN_CONTRACT``,
``NO_CONVENTION``, ``PROVIDER_INACTIVE``…).  Nothing is stored when a
request is refused: the view rolls back before answering.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime

from flask import g, request
from pydantic import BaseModel, ValidationError

from dhamen.access.rbac import require_role
from dhamen.access.roles import INSURER_ROLES, PROVIDER_ROLES, ROLE_PROVIDER_TYPE, role_label
from dhamen.claims import listing, lookup, operations, queries
from dhamen.claims.errors import ClaimError
from dhamen.claims.schemas import (
    ClaimBody,
    ClaimListQuery,
    EligibilityBody,
    EligibilityQuery,
    HospitalizationBody,
    french_errors,
)
from dhamen.claims.serialisation import claim_json, claim_summary, rights_json
from dhamen.core import crypto
from dhamen.core.http import ApiError, json_body, ok, status_of
from dhamen.core.pagination import CursorError
from dhamen.domain.catalogue import PROVIDER_CARE_TYPE
from dhamen.domain.coverage import ItemInput
from dhamen.domain.labels import CARE_TYPE_LABELS
from dhamen.domain.money import group_digits
from dhamen.extensions import db
from dhamen.models import (
    Adherent,
    Contract,
    Provider,
)

#: care type -> (role allowed to submit it, body schema)
CLAIM_ROUTES: dict[str, tuple[str, type[ClaimBody]]] = {
    "pharmacy": ("PHARMACIST", ClaimBody),
    "consultation": ("DOCTOR", ClaimBody),
    "lab": ("LAB_MANAGER", ClaimBody),
    "hospitalization": ("CLINIC_ADMIN", HospitalizationBody),
}
READ_ROLES = (*PROVIDER_ROLES, *INSURER_ROLES, "ADMIN")
ELIGIBILITY_ROLES = (*PROVIDER_ROLES, *INSURER_ROLES)
_CAMEL = {"unit_price": "unitPrice", "is_generic": "isGeneric", "care_type": "type"}
MAX_PAGE_OFFSET = 1000  # ?page= reads OFFSET rows: beyond, the cursor
_NATIONAL_ID_PARAMS = {"nationalid", "national_id", "cin", "nationalidnumber"}


# --- helpers -----------------------------------------------------------------------------

def validate(schema: type[BaseModel], data) -> BaseModel:
    """The validated model, or a 422 ``VALIDATION_ERROR`` naming the first field at fault."""
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        errors = french_errors(exc)
        raise ApiError(422, "VALIDATION_ERROR", errors[0]["message"],
                       {"field": errors[0]["field"], "errors": errors}) from None


def _query(schema: type[BaseModel]) -> BaseModel:
    args = {}
    for name in request.args:
        values = request.args.getlist(name)
        if len(values) > 1:
            raise ApiError(422, "VALIDATION_ERROR", f"Paramètre « {name} » répété.", {"field": name})
        args[name] = values[0]
    return validate(schema, args)


def api_error(exc: ClaimError) -> ApiError:
    """A service refusal in the envelope; the engine's per-line errors name ``items[i].field``."""
    details = exc.as_details()
    if exc.errors:
        errors = []
        for err in exc.errors:
            name = _CAMEL.get(err.get("field") or "", err.get("field"))
            path = f"items[{err['line'] - 1}]" if err.get("line") else "items"
            errors.append({"field": f"{path}.{name}" if name and err.get("line") else (name or path),
                           "message": err["message"]})
        details = {"field": errors[0]["field"], "errors": errors}
    return ApiError(status_of(exc), exc.code, exc.message, details or None)


def _refused(exc: ClaimError) -> ApiError:
    db.session.rollback()  # nothing stored half-way
    return api_error(exc)


# --- claim submission ---------------------------------------------------------------------

def _wrong_type_guard(care_type: str, role: str):
    """Another provider role posting this claim type: 403 ``WRONG_CLAIM_TYPE`` (still audited
    as a refused authorisation by ``require_role``), instead of the generic FORBIDDEN."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            try:
                return view(*args, **kwargs)
            except ApiError as exc:
                user = g.get("api_user")
                if exc.status == 403 and exc.code == "FORBIDDEN" and user is not None \
                        and user.role in PROVIDER_ROLES and user.role != role:
                    own = PROVIDER_CARE_TYPE[ROLE_PROVIDER_TYPE[user.role]]
                    raise ApiError(403, "WRONG_CLAIM_TYPE",
                                   f"Le rôle « {role_label(user.role)} » ne peut pas saisir de demande "
                                   f"« {CARE_TYPE_LABELS[care_type]} » : utilisez "
                                   f"POST /api/v1/claims/{own}.", {"field": "type"}) from None
                raise

        return wrapper

    return decorator


def _stay(body: HospitalizationBody) -> tuple[date, dict]:
    care_date = body.careDate or body.admissionDate
    if not body.admissionDate <= care_date <= body.dischargeDate:
        raise ApiError(422, "VALIDATION_ERROR", "La date de soins doit être comprise dans le séjour "
                       "(entre la date d'entrée et la date de sortie).", {"field": "careDate"})
    # Same keys as the clinic portal's form (dhamen.claims.portal_forms), plus the number of nights.
    details = {"admissionDate": body.admissionDate.isoformat(), "dischargeDate": body.dischargeDate.isoformat(),
               "days": (body.dischargeDate - body.admissionDate).days, "room": body.room}
    return care_date, {k: v for k, v in details.items() if v is not None}


def submit_claim(care_type: str, schema: type[ClaimBody]):
    user = g.api_user
    raw = json_body()
    body = validate(schema, raw)
    details: dict = {}
    care_date, date_field = body.careDate, "careDate"
    if isinstance(body, HospitalizationBody):
        care_date, details = _stay(body)
        date_field = "careDate" if body.careDate else "admissionDate"
    key = request.headers.get("Idempotency-Key")
    try:
        care_date = operations.parse_care_date(care_date, field_name=date_field)
        items = [ItemInput(code=i.code, label=i.label, quantity=i.quantity, unit_price=i.unitPrice,
                           is_generic=i.isGeneric, category=i.category) for i in body.items]
        # The fingerprint is the validated body as sent (plus the claim type): a retry on the
        # next day without careDate is still the same request.
        fingerprint = operations.request_fingerprint({"type": care_type, "body": body.model_dump(mode="json")})
        _claim_id, data, replayed = operations.submit(
            user, body.contractId, care_type, care_date, items, details=details, notes=body.notes,
            idempotency_key=key, fingerprint=fingerprint, submitted=body.submitToInsurer,
            override_reason=body.overrideReason)
    except ClaimError as exc:
        raise _refused(exc) from None
    headers = {"Location": f"/api/v1/claims/{data['id']}"}  # before the commit expires the claim
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return ok(data, 201, headers)


def _submit_view(care_type: str, role: str, schema: type[ClaimBody]):
    def view():
        return submit_claim(care_type, schema)

    view.__name__ = view.__qualname__ = f"submit_{care_type}_claim"
    view.__doc__ = f"POST /api/v1/claims/{care_type} ({role})."
    return _wrong_type_guard(care_type, role)(require_role(role)(view))




# --- reading claims ------------------------------------------------------------------------

@require_role(*READ_ROLES)
def list_claims():
    """The caller's organisation's claims, newest first (by care date when ``du``/``au`` filter it).

    Keyset pagination: follow ``nextCursor`` (``?cursor=``); ``page`` still works for the
    first :data:`MAX_PAGE_OFFSET` claims.  ``total`` / ``pages`` are exact up to
    1 000 claims, else ``null`` with ``totalMoreThan: 1000``.
    """
    q = _query(ClaimListQuery)
    if q.cursor and q.page != 1:
        raise ApiError(422, "VALIDATION_ERROR", "Paramètres « cursor » et « page » incompatibles : suivez "
                       "nextCursor sans numéro de page.", {"field": "page"})
    offset = (q.page - 1) * q.perPage
    if offset >= MAX_PAGE_OFFSET:
        raise ApiError(422, "PAGE_TOO_DEEP", f"La pagination par numéro de page s'arrête aux "
                       f"{group_digits(MAX_PAGE_OFFSET)} premières demandes : suivez nextCursor (paramètre cursor).",
                       {"field": "page"})
    filters = listing.ClaimFilters(date_from=q.du, date_to=q.au, status=q.statut, care_type=q.type)
    try:
        found = listing.page(g.api_user, filters, cursor=q.cursor, per_page=q.perPage, offset=offset)
    except CursorError as exc:
        raise ApiError(400, exc.code, exc.message, {"field": "cursor"}) from None
    total, exact = listing.count(g.api_user, filters)
    data = {"items": [claim_summary(c) for c in found.rows], "nextCursor": found.next_cursor,
            "perPage": q.perPage, "total": total if exact else None,
            "pages": max(1, -(-total // q.perPage)) if exact else None}
    if not exact:
        data["totalMoreThan"] = total
    if not q.cursor:
        data["page"] = q.page
    return ok(data)


@require_role(*READ_ROLES)
def get_claim(claim_id: str):
    """One claim with its lines and adjudication steps (404 for another organisation)."""
    return ok(claim_json(queries.get_claim(g.api_user, claim_id)))


# --- eligibility (FHIR CoverageEligibilityResponse) -----------------------------------------

def _member_by_national_id(raw: str) -> Adherent:
    value = crypto.normalise_national_id(raw)
    if not (value.isdigit() and len(value) == 8):
        raise ApiError(422, "VALIDATION_ERROR", "Numéro CIN invalide : 8 chiffres attendus.",
                       {"field": "nationalId"})
    member = queries.member_by_national_id(g.api_user, value)
    lookup.audit_lookup(lookup.BY_NATIONAL_ID, [member.id] if member else [])
    if member is None:
        raise ApiError(404, "UNKNOWN_MEMBER", "Aucun adhérent ne correspond à ce numéro CIN.",
                       {"field": "nationalId"})
    return member


def _member_by_id(member_id: str) -> Adherent:
    try:
        member = queries.get_member(g.api_user, member_id)
    except ClaimError as exc:
        lookup.audit_lookup(lookup.BY_ID, [])
        raise api_error(exc) from None
    lookup.audit_lookup(lookup.BY_ID, [member.id])
    return member


def _contracts_by_number(number: str) -> list[Contract]:
    contracts = queries.contracts_by_number(g.api_user, number)
    lookup.audit_lookup(lookup.BY_CONTRACT, sorted({c.adherent_id for c in contracts}))
    if not contracts:
        raise ApiError(404, "UNKNOWN_CONTRACT", f"Aucun contrat n° « {number.strip()[:50]} ».",
                       {"field": "contractNumber"})
    return contracts


def eligibility_answer(q) -> dict:
    given = [name for name in ("nationalId", "contractNumber", "memberId") if getattr(q, name, None)]
    if len(given) != 1:
        raise ApiError(422, "VALIDATION_ERROR",
                       "Indiquez un et un seul identifiant : nationalId (corps d'un POST uniquement), "
                       "contractNumber ou memberId.", {"field": given[1] if len(given) > 1 else "contractNumber"})
    user = g.api_user
    provider = db.session.get(Provider, user.provider_id) if user.provider_id else None
    care_type = q.careType or (PROVIDER_CARE_TYPE.get(provider.type) if provider else None) or "pharmacy"
    on = q.date or date.today()
    only: set[str] | None = None
    if given[0] == "nationalId":
        member = _member_by_national_id(q.nationalId)
    elif given[0] == "memberId":
        member = _member_by_id(q.memberId)
    else:
        contracts = _contracts_by_number(q.contractNumber)
        member = contracts[0].adherent
        only = {c.id for c in contracts if c.adherent_id == member.id}
    try:
        panel = queries.rights(user, member, care_type, on, provider)
    except ClaimError as exc:
        raise api_error(exc) from None
    if only is not None:
        panel = [r for r in panel if r.contract.id in only]
    usable = [r for r in panel if r.usable]
    if usable:
        disposition = usable[0].eligibility.message
    elif panel and provider is not None and panel[0].eligibility.inforce:
        disposition = (f"{panel[0].eligibility.message} Mais pas de convention de tiers payant avec "
                       f"{panel[0].insurer.name} : prise en charge impossible ici.")
    elif panel:
        disposition = panel[0].eligibility.message
    else:
        disposition = "Aucun contrat pour cet adhérent."
    return {
        "resourceType": "CoverageEligibilityResponse",
        "status": "active",
        "purpose": ["validation", "benefits"],
        "outcome": "complete",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "servicedDate": on.isoformat(),
        "careType": care_type,
        "patient": {"id": member.id, "firstName": member.first_name, "lastName": member.last_name,
                    "dateOfBirth": member.date_of_birth.isoformat(), "nationalIdMasked": member.national_id_masked},
        "requestor": {"providerId": provider.id, "name": provider.name} if provider else None,
        "inforce": bool(usable),
        "disposition": disposition,
        "insurance": [rights_json(r) for r in panel],
    }


@require_role(*ELIGIBILITY_ROLES)
def eligibility_get():
    """Rights by contract number or member id (a national ID goes in ``POST /eligibility``)."""
    if any(name.lower() in _NATIONAL_ID_PARAMS for name in request.args):
        raise ApiError(400, "NATIONAL_ID_IN_URL",
                       "Le numéro CIN ne doit jamais figurer dans une URL : envoyez-le dans le corps de "
                       "POST /api/v1/eligibility.", {"field": "nationalId"})
    try:
        return ok(eligibility_answer(_query(EligibilityQuery)))
    finally:
        # The request's commit, made here: a lookup that found nobody (a 404, which the edge
        # rolls back) keeps its audit row too.
        db.session.commit()


@require_role(*ELIGIBILITY_ROLES)
def eligibility_post():
    """Rights by national ID (in the body), contract number or member id."""
    try:
        return ok(eligibility_answer(validate(EligibilityBody, json_body())))
    finally:
        # The request's commit, made here: a lookup that found nobody (a 404, which the edge
        # rolls back) keeps its audit row too.
        db.session.commit()


#: (rule, view, methods), registered on the API blueprint by ``dhamen.core.api``; one submission
#: view per claim type (``submit_<type>_claim``).
ROUTES = (
    *((f"/claims/{care_type}", _submit_view(care_type, role, schema), ("POST",))
      for care_type, (role, schema) in CLAIM_ROUTES.items()),
    ("/claims", list_claims, ("GET",)),
    ("/claims/<claim_id>", get_claim, ("GET",)),
    ("/eligibility", eligibility_get, ("GET",)),
    ("/eligibility", eligibility_post, ("POST",)),
)
