"""Claims and rights as the JSON API shows them, and the claim events' payload.

Rows are read by column name: ``render_claim`` takes a claim and its lines as
``claim_rows`` makes them (the answer to a submission) or as stored (``claim_json``).
"""

from __future__ import annotations

from collections.abc import Mapping

from dhamen.claims.queries import ContractRights
from dhamen.domain import reasons
from dhamen.domain.labels import STATUS_LABELS
from dhamen.models import Claim, ClaimItem

_CLAIM_COLUMNS = tuple(c.key for c in Claim.__table__.c)
_ITEM_COLUMNS = tuple(c.key for c in ClaimItem.__table__.c)


def claim_json(claim: Claim) -> dict:
    """The API's view of a stored claim: the same as the answer to its submission."""
    return render_claim({k: getattr(claim, k) for k in _CLAIM_COLUMNS},
                        [{k: getattr(i, k) for k in _ITEM_COLUMNS} for i in claim.items])


def claim_warnings(items: list[Mapping]) -> list[str]:
    """What the engine corrected in what was sent (French), e.g. a generic flag the nomenclature contradicts."""
    warnings = []
    for number, i in enumerate(sorted(items, key=lambda i: i["position"]), start=1):
        if reasons.GENERIC_CORRECTED in (i["reason_codes_json"] or ()):
            what = "un générique" if i["is_generic"] else "un princeps (non générique)"
            warnings.append(f"Ligne {number} ({i['code']}) : {what} selon la nomenclature ; l'indication "
                            f"« générique » envoyée n'est pas retenue.")
    return warnings


def render_claim(claim: Mapping, items: list[Mapping]) -> dict:
    """A claim and its lines (rows as ``claim_rows`` makes them) as the API shows them, with the
    engine's ``warnings`` on what was sent."""
    return {
        "warnings": claim_warnings(items),
        "id": claim["id"], "reference": claim["reference"], "type": claim["type"], "status": claim["status"],
        "statusLabel": STATUS_LABELS[claim["status"]], "reasonCode": claim["reason_code"],
        "reason": claim["status_reason"], "careDate": claim["care_date"].isoformat(),
        "createdAt": claim["created_at"].isoformat(), "contractId": claim["contract_id"],
        "adherentId": claim["adherent_id"], "providerId": claim["provider_id"], "insurerId": claim["insurer_id"],
        "totalAmount": claim["total_amount"], "coveredAmount": claim["covered_amount"],
        "copayAmount": claim["copay_amount"], "fraudScore": claim["fraud_score"],
        "fraudFlags": claim["fraud_flags_json"], "baremeVersion": claim["bareme_version"],
        "details": claim["details_json"] or {},
        "items": [{
            "code": i["code"], "label": i["label"], "quantity": i["quantity"], "unitPrice": i["unit_price"],
            "cappedUnitPrice": i["capped_unit_price"], "lineTotal": i["line_total"],
            "coveredAmount": i["covered_amount"], "copayAmount": i["copay_amount"],
            "rateBp": int(round((i["reimbursement_rate"] or 0) * 10000)), "isGeneric": i["is_generic"],
            "category": i["category"], "reasonCodes": i["reason_codes_json"], "ruleApplied": i["rule_applied"],
            "adjudication": i["adjudication_json"]} for i in sorted(items, key=lambda i: i["position"])],
    }


def claim_summary(claim: Claim) -> dict:
    """One line of the API's claim list (the claim with its member and contract loaded)."""
    member = claim.adherent
    return {
        "id": claim.id, "reference": claim.reference, "type": claim.type, "status": claim.status,
        "statusLabel": STATUS_LABELS[claim.status], "reasonCode": claim.reason_code,
        "careDate": claim.care_date.isoformat(), "createdAt": claim.created_at.isoformat(),
        "contractId": claim.contract_id, "contractNumber": claim.contract.contract_number,
        "adherentId": claim.adherent_id,
        "member": {"id": member.id, "firstName": member.first_name, "lastName": member.last_name},
        "providerId": claim.provider_id, "insurerId": claim.insurer_id,
        "totalAmount": claim.total_amount, "coveredAmount": claim.covered_amount,
        "copayAmount": claim.copay_amount, "fraudScore": claim.fraud_score,
    }


def rights_json(r: ContractRights) -> dict:
    """One contract of the rights panel (FHIR ``CoverageEligibilityResponse.insurance``)."""
    e = r.eligibility
    return {
        "contractId": r.contract.id,
        "contractNumber": r.contract.contract_number,
        "insurer": {"id": r.insurer.id, "code": r.insurer.code, "name": r.insurer.name},
        "planType": r.contract.plan_type,
        "status": r.contract.status,
        "payerRank": r.contract.payer_rank,
        "inforce": e.inforce,
        "reasonCode": e.reason_code,
        "message": e.message,
        "carenceUntil": e.carence_until.isoformat() if e.carence_until else None,
        "benefitPeriod": {"start": e.benefit_period[0].isoformat(), "end": e.benefit_period[1].isoformat()}
        if e.benefit_period else None,
        "annualLimit": e.annual_limit,
        "used": e.used,
        "remaining": e.remaining,
        "benefits": [{"careType": b.care_type, "label": b.label, "covered": b.covered, "rateBp": b.rate_bp,
                      "genericRateBp": b.generic_rate_bp, "roomDayCap": b.room_day_cap}
                     for b in e.benefits.values()],
        "exclusions": list(r.excluded),
        "conventionWithProvider": r.has_convention,
    }


def claim_event_payload(claim: Mapping, kind: str, previous: str | None = None) -> dict:
    """The event of a claim (its row: a ``claim_rows`` dict or the stored columns)."""
    return {"type": kind, "claimId": claim["id"], "insurerId": claim["insurer_id"], "providerId": claim["provider_id"],
            "careType": claim["type"], "status": claim["status"], "previousStatus": previous,
            "totalAmount": claim["total_amount"], "coveredAmount": claim["covered_amount"]}
