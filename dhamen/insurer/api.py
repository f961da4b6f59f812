"""The review API for insurers' own systems, on the shared ``/api/v1`` blueprint.

``GET /api/v1/review`` (INSURER_AGENT, INSURER_ADMIN)
    The queue of the caller's insurer: the portal's filters under the same
    names (``statut``, ``type``, ``prestataire``, ``adherent``, ``contrat``,
    ``du``, ``au``, ``montant_min``/``montant_max`` in TND, ``score_min``/
    ``score_max``, ``signal``, ``tri``), ``perPage`` (≤ 100) and the keyset
    ``cursor`` (``nextCursor`` of the previous answer).  A national ID is
    never accepted in a URL (400 ``NATIONAL_ID_IN_URL``): filter by member id.
``POST /api/v1/claims/<id>/decision`` (same roles)
    ``{"decision": "approve"|"partial"|"reject"|"block", "note": "…",
    "lines": [{"line": 1, "quantity": 2, "unitPrice": 300000, "reason": "…"},
    {"line": 2, "agreedUnitPrice": 15000, "reason": "…"}, {"line": 3, "override": "refuse", "reason": "…"}]}``
    (lines numbered from 1; ``lines`` only with ``partial``; ``agreedUnitPrice``: the tariff agreed for a
    line sent hors nomenclature; ``override``: the early-refill reason of the line accepted or refused,
    required on every early-refill line of a ``partial``).  Same rules as
    the portal; 200 with the claim; 409 ``ALREADY_DECIDED`` naming who
    decided what.  ``Idempotency-Key``: a retry with the same key and body
    replays the first answer (``Idempotent-Replayed: true``), another body
    with the key is refused (422 ``IDEMPOTENCY_KEY_REUSED``), as for claims.
"""

from __future__ import annotations

from typing import Annotated, Literal

from flask import g, request
from pydantic import BaseModel, ConfigDict, Field

from dhamen.access.rbac import require_role
from dhamen.access.tenancy import get_or_404
from dhamen.claims import operations, queries, serialisation
from dhamen.claims.api import validate
from dhamen.claims.errors import ClaimError
from dhamen.core.http import ApiError, json_body, ok, status_of
from dhamen.domain.agreement import MAX_NOTE, MAX_REASON, LineAgreement
from dhamen.domain.coverage import MAX_LINES, MAX_QUANTITY, MAX_UNIT_PRICE
from dhamen.domain.labels import STATUS_LABELS
from dhamen.extensions import db
from dhamen.insurer import decisions, queue
from dhamen.models import Claim

REVIEWERS = ("INSURER_ADMIN", "INSURER_AGENT")
_NATIONAL_ID_PARAMS = {"nationalid", "national_id", "cin"}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class LineDecisionBody(_Body):
    line: Annotated[int, Field(ge=1, le=MAX_LINES)]
    quantity: Annotated[int | None, Field(ge=0, le=MAX_QUANTITY)] = None
    unitPrice: Annotated[int | None, Field(ge=1, le=MAX_UNIT_PRICE)] = None
    agreedUnitPrice: Annotated[int | None, Field(
        ge=1, le=MAX_UNIT_PRICE, description="Prix unitaire accordé (millimes, au plus le prix demandé) à une ligne "
        "envoyée hors nomenclature : il devient son tarif.")] = None
    override: Annotated[Literal["accept", "refuse"] | None, Field(
        description="Motif de renouvellement anticipé de la ligne accepté (prise en charge selon les règles) ou "
        "refusé (ligne non prise en charge) ; obligatoire sur chaque ligne concernée d'un `partial`.")] = None
    reason: Annotated[str, Field(min_length=1, max_length=MAX_REASON)]


class DecisionBody(_Body):
    decision: Literal["approve", "partial", "reject", "block"]
    note: Annotated[str | None, Field(max_length=MAX_NOTE)] = None
    lines: Annotated[list[LineDecisionBody], Field(max_length=MAX_LINES)] = []


def _row_json(r: queue.QueueRow) -> dict:
    return {"id": r.id, "type": r.type, "status": r.status, "statusLabel": STATUS_LABELS[r.status],
            "careDate": r.care_date.isoformat(), "createdAt": r.created_at.isoformat(),
            "totalAmount": r.total_amount, "coveredAmount": r.covered_amount, "fraudScore": r.fraud_score,
            "fraudFlags": r.fraud_flags, "reasonCode": r.reason_code,
            "provider": {"id": r.provider_id, "name": r.provider_name},
            "member": {"id": r.adherent_id, "name": r.member_name}, "contractNumber": r.contract_number}


@require_role(*REVIEWERS)
def review_queue():
    """The caller's insurer's claims waiting for a decision, keyset-paged."""
    if any(name.lower() in _NATIONAL_ID_PARAMS for name in request.args):
        raise ApiError(400, "NATIONAL_ID_IN_URL", "Le numéro CIN ne doit jamais figurer dans une URL : filtrez par "
                       "identifiant d'adhérent (adherent) ou numéro de contrat (contrat).", {"field": "nationalId"})
    for name in request.args:
        if len(request.args.getlist(name)) > 1:
            raise ApiError(422, "VALIDATION_ERROR", f"Paramètre « {name} » répété.", {"field": name})
    known = {*queue.ReviewFilters.__dataclass_fields__, "cursor", "perPage"} - {"extra"}
    unknown = sorted(set(request.args) - known)
    if unknown:
        raise ApiError(422, "VALIDATION_ERROR", f"Paramètre « {unknown[0]} » inconnu.", {"field": unknown[0]})
    raw_size = request.args.get("perPage", str(queue.PAGE_SIZE))
    if not raw_size.isdigit() or not 1 <= int(raw_size) <= queue.MAX_PAGE_SIZE:
        raise ApiError(422, "VALIDATION_ERROR", f"perPage : un entier de 1 à {queue.MAX_PAGE_SIZE}.",
                       {"field": "perPage"})
    try:
        filters = queue.parse_filters(request.args)
        cursor = request.args.get("cursor") or None
        page = queue.page(g.api_user, filters, cursor, limit=int(raw_size))
        count, exact = queue.count(g.api_user, filters, page)
    except queue.FilterError as exc:
        field, message = exc.errors[0]
        code = "INVALID_CURSOR" if field == "apres" else "VALIDATION_ERROR"
        status = 400 if code == "INVALID_CURSOR" else 422
        raise ApiError(status, code, message, {"field": "cursor" if field == "apres" else field,
                                               "errors": [{"field": f, "message": m} for f, m in exc.errors]}) from None
    return ok({"items": [_row_json(r) for r in page.rows], "nextCursor": page.next_cursor,
               "count": count, "countExact": exact, "perPage": int(raw_size)})


@require_role(*REVIEWERS)
def decide_claim(claim_id: str):
    """Approve, approve in part, reject or block a claim under review (same rules as the portal)."""
    user = g.api_user
    get_or_404(Claim, claim_id, user)  # another insurer's claim: 404 before anything is read of the body
    body = validate(DecisionBody, json_body())
    key = request.headers.get("Idempotency-Key")
    fingerprint = operations.request_fingerprint({"decision": claim_id, "body": body.model_dump(mode="json")})
    try:
        stored = operations.find_idempotent(user, key, fingerprint)
    except ClaimError as exc:
        db.session.rollback()
        raise ApiError(status_of(exc), exc.code, exc.message, exc.as_details() or None) from None
    if stored is not None:
        return ok(stored.response_json, 200, {"Idempotent-Replayed": "true"})
    agreements = [LineAgreement(position=line.line - 1, quantity=line.quantity, unit_price=line.unitPrice,
                                agreed_price=line.agreedUnitPrice, override=line.override, reason=line.reason)
                  for line in body.lines]
    try:
        decisions.decide(user, claim_id, body.decision, body.note, agreements, via="api")
    except decisions.DecisionError as exc:
        db.session.rollback()
        details = exc.details()
        if details and details.get("errors"):
            details["errors"] = [{"field": f"lines[{e['line'] - 1}].{_camel(e.get('field'))}"
                                  if e.get("line") else "lines", "message": e["message"]}
                                 for e in details["errors"]]
            details["field"] = details["errors"][0]["field"]
        raise ApiError(exc.status, exc.code, exc.message, details) from None
    data = serialisation.claim_json(queries.get_claim(user, claim_id))
    data["decision"] = (data.get("details") or {}).get("decision")
    if key is not None and not operations._store_idempotency_key(user, key, fingerprint, data, claim_id):  # noqa: SLF001
        db.session.rollback()
        stored = operations.find_idempotent(user, key, fingerprint)
        if stored is None:
            raise ApiError(409, "IDEMPOTENCY_CONFLICT", "Requête concurrente avec la même clé d'idempotence : "
                           "réessayez.", {"field": "Idempotency-Key"})
        return ok(stored.response_json, 200, {"Idempotent-Replayed": "true"})
    return ok(data)


def _camel(name: str | None) -> str:
    return {"unit_price": "unitPrice", "agreed_price": "agreedUnitPrice"}.get(name or "", name or "")


ROUTES = (
    ("/review", review_queue, ("GET",)),
    ("/claims/<claim_id>/decision", decide_claim, ("POST",)),
)
