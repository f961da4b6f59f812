"""What the counter does next, for every refusal and hold reason of the money rules.

The engine says *why* (``dhamen.domain.reasons``: a stable code and its French label); the
counter also needs to know *what to do now* with the person in front of it: what to
collect, what to check, what to change.  One sentence per reason code, shown under the
verdict of the décompte, on the claim's page and under a line the rules changed.

Codes that only say how a line was priced (tariff or rate source) or that name one
fraud signal (summed up by ``FRAUD_REVIEW`` / ``FRAUD_BLOCKED``) need no step: they are
listed in :data:`INFORMATIONAL`.  A test checks that every other reason code has a step.
"""

from __future__ import annotations

from dhamen.domain import reasons as r

INFORMATIONAL = frozenset({
    r.ELIGIBLE, r.APPROVED, r.CONVENTION_TARIFF, r.BAREME_TARIFF, r.CONVENTION_RATE, r.GENERIC_RATE,
    r.CONTRACT_RATE, r.DUPLICATE, r.HIGH_FREQUENCY, r.UNUSUAL_AMOUNT, r.HIGH_QUANTITY, r.FAR_PROVIDER,
    r.CATALOGUE_TARIFF, r.AGREED_TARIFF, r.OVERLAPPING_STAY, r.AGENT_APPROVED, r.AGENT_AGREED,
})

_SUBMIT = "cochez « Soumettre à l'assureur » avant de valider : il décidera de ces lignes"

_PAYS_ALL = "L'adhérent règle la totalité"

NEXT_STEPS: dict[str, str] = {
    r.CONTRACT_INACTIVE: f"{_PAYS_ALL} ; il peut voir avec son assureur pourquoi son contrat n'est pas actif.",
    r.CONTRACT_NOT_STARTED: f"{_PAYS_ALL} : le contrat ne couvre pas encore ces soins.",
    r.CONTRACT_ENDED: f"Vérifiez la date des soins ; si elle est juste, {_PAYS_ALL[0].lower()}{_PAYS_ALL[1:]}.",
    r.CARENCE: f"{_PAYS_ALL} : ces soins tombent pendant la période de carence du contrat.",
    r.NOT_COVERED: f"{_PAYS_ALL} : son contrat ne couvre pas ce type de soins.",
    r.LIMIT_REACHED: f"{_PAYS_ALL} : son plafond annuel est épuisé.",
    r.EXCLUDED: "Retirez les lignes exclues de la demande, ou encaissez-les en totalité auprès de l'adhérent.",
    r.NOTHING_PAYABLE: f"{_PAYS_ALL} : rien n'est à la charge de l'assureur.",
    r.LIMIT_PARTIAL: "Encaissez la part de l'adhérent affichée : elle comprend ce que le plafond ne couvre plus.",
    r.PRICE_CAPPED: "Le prix dépasse le tarif : la différence est à la charge de l'adhérent, ou facturez au tarif.",
    r.ROOM_DAY_CAP: "La chambre dépasse le plafond journalier du contrat : la différence est à la charge de "
                    "l'adhérent.",
    r.NO_TARIFF: f"Code hors nomenclature : vérifiez le code ; sinon la ligne est à la charge de l'adhérent, ou {_SUBMIT}.",
    r.GENERIC_CORRECTED: "La nomenclature dit si le produit est un générique : la case cochée n'est pas retenue.",
    r.QUANTITY_LIMIT: f"La quantité au-delà de la limite de l'acte est à la charge de l'adhérent, ou {_SUBMIT}.",
    r.LINE_CEILING: f"Vérifiez la quantité et le prix ; la ligne dépasse le plafond de l'assureur : {_SUBMIT}.",
    r.REFILL_TOO_SOON: "Délivrez à partir de la date indiquée, ou choisissez le motif du renouvellement anticipé "
                       "(voyage, perte ou vol, changement de posologie, urgence) : l'assureur décidera.",
    r.LINES_REFUSED: f"Encaissez la part de l'adhérent, qui comprend les lignes non prises en charge, ou {_SUBMIT}.",
    r.SUBMITTED: "Validez : l'assureur décidera des lignes soumises. Sa page dira quoi encaisser en attendant.",
    r.REFILL_OVERRIDE: "Validez : l'assureur examinera le motif du renouvellement anticipé. Sa page dira quoi "
                       "encaisser en attendant.",
    r.CLAIM_CEILING: "Vérifiez quantités et prix ; validée, la demande attend l'accord de l'assureur (plafond par "
                     "demande).",
    r.DOUBLE_COVERAGE: "Ces soins sont déjà facturés sur un autre contrat de l'adhérent : facturez au contrat qui "
                       "paie en premier, ou validez pour que l'assureur vérifie sa part.",
    r.LATE_CLAIM: "Vérifiez la date des soins ; validée, la demande ancienne attend le contrôle de l'assureur.",
    r.FRAUD_REVIEW: "Validez : l'assureur examinera la demande. Sa page dira quoi encaisser en attendant sa décision.",
    r.FRAUD_BLOCKED: "Vérifiez l'identité de l'adhérent et l'ordonnance. Validée, la demande attend la décision de "
                     "l'assureur : en attendant, l'adhérent règle le prix total.",
    r.AGENT_PARTIAL: "L'assureur a accordé une partie : encaissez la part de l'adhérent affichée, qui comprend "
                     "ce que l'assureur n'a pas accordé.",
    r.AGENT_LINE_REFUSED: "L'assureur a refusé cette ligne : elle est à la charge de l'adhérent.",
    r.REFILL_REFUSED: "L'assureur a refusé le renouvellement anticipé : cette ligne est à la charge de l'adhérent.",
    r.REFILL_ACCEPTED: "L'assureur a accepté le renouvellement anticipé : encaissez la part de l'adhérent affichée.",
    r.AGENT_ACCEPTED: "L'assureur a accepté cette ligne : encaissez la part de l'adhérent affichée.",
    r.AGENT_REJECTED: f"{_PAYS_ALL} : l'assureur a refusé la demande (voir sa note).",
    r.AGENT_BLOCKED: f"{_PAYS_ALL} : l'assureur a bloqué la demande (voir sa note) ; il peut le contacter.",
    r.PRIOR_APPROVAL: "Validez : l'assureur doit donner son accord. Sa page dira quoi encaisser en attendant.",
}


def next_step(code: str | None) -> str | None:
    """The sentence for a reason code, or ``None`` (informational code, or none)."""
    return NEXT_STEPS.get(code) if code else None


def line_step(codes) -> str | None:
    """The step of a claim line: that of its first reason code that has one."""
    for code in codes or ():
        if code in NEXT_STEPS:
            return NEXT_STEPS[code]
    return None
