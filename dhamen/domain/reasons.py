"""Stable reason codes and their French labels.

A reason code is a short upper-case identifier stored with a claim
(``Adjudication.reason_code``), with each line (``LineResult.reason_codes``,
first = main reason) or inside a fraud flag (``flag["code"]``). Codes never
change meaning; labels may be reworded. Texts shown to users come with the
result itself (``message``, ``reason``, ``rule_applied``), built from these
labels plus the figures of the case.

Eligibility (claim level, see :mod:`.eligibility`):

``ELIGIBLE``
    Contract in force for this care type and date.
``CONTRACT_INACTIVE``
    Status is not ``active`` (``suspended``, ``cancelled``, ``expired``).
``CONTRACT_NOT_STARTED`` / ``CONTRACT_ENDED``
    Care date before ``start_date`` / after ``end_date``.
``CARENCE``
    Care date inside the waiting period (``carence_days`` after the start).
``NOT_COVERED``
    Care type absent from the contract's ``coverage_json``.
``LIMIT_REACHED``
    Annual limit already used up before this claim (claim rejected); on a
    line: the annual limit left nothing for this line.

Line pricing (see :mod:`.coverage`):

``EXCLUDED``
    Code or category listed in the contract's exclusions: covered 0.
``LIMIT_PARTIAL``
    Coverage reduced by the annual limit.
``PRICE_CAPPED``
    Unit price above the applicable tariff: the tariff was used.
``ROOM_DAY_CAP``
    Room-day price above the contract's ``room_day_cap``: the cap was used.
``CONVENTION_TARIFF`` / ``BAREME_TARIFF``
    The tariff of reference came from the provider's convention / from the
    insurer's barème (whether or not it lowered the price).
``CATALOGUE_TARIFF`` / ``AGREED_TARIFF``
    The tariff of reference was the catalogue price of the code for this
    care type / the price agreed by the insurer's agent.
``NO_TARIFF``
    *Hors nomenclature*: the code has no tariff for this care type (no
    convention tariff, no barème entry, not in the catalogue of that care
    type): covered 0. The counter may submit the claim to the insurer
    (``SUBMITTED``), whose agent may agree a price (``AGREED_TARIFF``).
``GENERIC_CORRECTED``
    The generic flag entered disagrees with the nomenclature: the
    nomenclature's value was used (the line shows it).
``QUANTITY_LIMIT``
    Quantity above what the act allows (once per claim, once a day, the
    insurer's limit per code and period): only the allowed units are paid.
``LINE_CEILING``
    Line above the insurer's ceiling per line: not paid automatically.
``REFILL_TOO_SOON``
    *Renouvellement anticipé*: the member's last dispensing of the drug is
    not ~75 % used up (see :mod:`.history`): not paid before the date
    given, unless the counter gives an override reason (``REFILL_OVERRIDE``).

Held lines (``NO_TARIFF``, ``QUANTITY_LIMIT``, ``LINE_CEILING``,
``REFILL_TOO_SOON``) are paid 0 (or the allowed part) unless the claim is
submitted to the insurer, in which case the whole claim waits for review.
``CONVENTION_RATE`` / ``GENERIC_RATE`` / ``CONTRACT_RATE``
    Which rate applied: the convention's rate for the care type, the generic
    rate (convention's, else contract's), or the contract's rate.

Claim outcome (see :mod:`.adjudication`):

``APPROVED``
    Approved in full.
``NOTHING_PAYABLE``
    Eligible, but no line leaves anything for the insurer to pay (rate 0,
    amounts too small): rejected.
``FRAUD_REVIEW`` / ``FRAUD_BLOCKED``
    Fraud score at or above the review / block threshold.
``PRIOR_APPROVAL``
    Hospitalization waiting for the insurer's agreement (*prise en charge*).
``LINES_REFUSED``
    Approved, but held lines are not paid (hors nomenclature, ceiling,
    quantity, early refill): the counter may still submit the claim.
``SUBMITTED`` / ``REFILL_OVERRIDE``
    The counter sent the claim with held lines to the insurer's review /
    with an early-refill override reason (voyage, perte ou vol, changement
    de posologie, urgence): ``pending_review``.
``CLAIM_CEILING``
    The claim's eligible amount is above the insurer's ceiling per claim:
    ``pending_review``.
``DOUBLE_COVERAGE``
    The same care (same care type, a common code, within the duplicate
    window either side) is already billed for the member under another
    contract: ``pending_review`` for whichever insurer comes second.
``LATE_CLAIM``
    Care date older than the insurer's ``max_care_age_days``:
    ``pending_review``.

Fraud flags (see :mod:`.fraud`):

``DUPLICATE``, ``HIGH_FREQUENCY``, ``UNUSUAL_AMOUNT``, ``HIGH_QUANTITY``,
``FAR_PROVIDER``, ``OVERLAPPING_STAY``.

Insurer decisions (see :mod:`.agreement`):

``AGENT_APPROVED`` / ``AGENT_PARTIAL`` / ``AGENT_REJECTED`` / ``AGENT_BLOCKED``
    The agent's decision on a claim under review (``AGENT_PARTIAL``: approved
    with agreed quantities or prices lower than asked).
``AGENT_AGREED`` / ``AGENT_LINE_REFUSED``
    On a line: quantity or unit price agreed lower than asked (or a price agreed
    for a line hors nomenclature) / line refused.
``AGENT_ACCEPTED``
    A line the engine held (above the line ceiling, beyond a quantity limit)
    that the agent accepted as submitted.
``REFILL_ACCEPTED`` / ``REFILL_REFUSED``
    The counter's early-refill reason accepted (the line is covered by the
    usual rules) / refused (the line is not covered) by the agent.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["HELD_LINE_CODES", "REASONS", "label"]

ELIGIBLE = "ELIGIBLE"
CONTRACT_INACTIVE = "CONTRACT_INACTIVE"
CONTRACT_NOT_STARTED = "CONTRACT_NOT_STARTED"
CONTRACT_ENDED = "CONTRACT_ENDED"
CARENCE = "CARENCE"
NOT_COVERED = "NOT_COVERED"
LIMIT_REACHED = "LIMIT_REACHED"
EXCLUDED = "EXCLUDED"
LIMIT_PARTIAL = "LIMIT_PARTIAL"
PRICE_CAPPED = "PRICE_CAPPED"
ROOM_DAY_CAP = "ROOM_DAY_CAP"
CONVENTION_TARIFF = "CONVENTION_TARIFF"
BAREME_TARIFF = "BAREME_TARIFF"
NO_TARIFF = "NO_TARIFF"
CONVENTION_RATE = "CONVENTION_RATE"
GENERIC_RATE = "GENERIC_RATE"
CONTRACT_RATE = "CONTRACT_RATE"
APPROVED = "APPROVED"
NOTHING_PAYABLE = "NOTHING_PAYABLE"
FRAUD_REVIEW = "FRAUD_REVIEW"
FRAUD_BLOCKED = "FRAUD_BLOCKED"
PRIOR_APPROVAL = "PRIOR_APPROVAL"
DUPLICATE = "DUPLICATE"
HIGH_FREQUENCY = "HIGH_FREQUENCY"
UNUSUAL_AMOUNT = "UNUSUAL_AMOUNT"
HIGH_QUANTITY = "HIGH_QUANTITY"
FAR_PROVIDER = "FAR_PROVIDER"
OVERLAPPING_STAY = "OVERLAPPING_STAY"
CATALOGUE_TARIFF = "CATALOGUE_TARIFF"
AGREED_TARIFF = "AGREED_TARIFF"
GENERIC_CORRECTED = "GENERIC_CORRECTED"
QUANTITY_LIMIT = "QUANTITY_LIMIT"
LINE_CEILING = "LINE_CEILING"
REFILL_TOO_SOON = "REFILL_TOO_SOON"
LINES_REFUSED = "LINES_REFUSED"
SUBMITTED = "SUBMITTED"
REFILL_OVERRIDE = "REFILL_OVERRIDE"
CLAIM_CEILING = "CLAIM_CEILING"
DOUBLE_COVERAGE = "DOUBLE_COVERAGE"
LATE_CLAIM = "LATE_CLAIM"

#: Lines the engine does not pay (in full) unless the claim is submitted to the insurer.
HELD_LINE_CODES: tuple[str, ...] = (NO_TARIFF, QUANTITY_LIMIT, LINE_CEILING, REFILL_TOO_SOON)
# Insurer decisions (see :mod:`.agreement`)
AGENT_APPROVED = "AGENT_APPROVED"
AGENT_PARTIAL = "AGENT_PARTIAL"
AGENT_REJECTED = "AGENT_REJECTED"
AGENT_BLOCKED = "AGENT_BLOCKED"
AGENT_AGREED = "AGENT_AGREED"
AGENT_LINE_REFUSED = "AGENT_LINE_REFUSED"
AGENT_ACCEPTED = "AGENT_ACCEPTED"
REFILL_ACCEPTED = "REFILL_ACCEPTED"
REFILL_REFUSED = "REFILL_REFUSED"

REASONS: Mapping[str, str] = MappingProxyType(
    {
        ELIGIBLE: "Contrat en vigueur",
        CONTRACT_INACTIVE: "Contrat inactif (suspendu, résilié ou expiré)",
        CONTRACT_NOT_STARTED: "Contrat pas encore en vigueur",
        CONTRACT_ENDED: "Contrat arrivé à échéance",
        CARENCE: "Période de carence en cours",
        NOT_COVERED: "Type de soin non couvert par le contrat",
        LIMIT_REACHED: "Plafond annuel atteint",
        EXCLUDED: "Acte ou produit exclu par le contrat",
        LIMIT_PARTIAL: "Prise en charge réduite par le plafond annuel",
        PRICE_CAPPED: "Prix plafonné au tarif de référence",
        ROOM_DAY_CAP: "Prix de la chambre plafonné par le contrat",
        CONVENTION_TARIFF: "Tarif conventionnel",
        BAREME_TARIFF: "Tarif du barème de l'assureur",
        NO_TARIFF: "Hors nomenclature : non pris en charge sans accord de l'assureur",
        CATALOGUE_TARIFF: "Prix de référence de la nomenclature",
        AGREED_TARIFF: "Prix accordé par l'assureur",
        GENERIC_CORRECTED: "Indication « générique » corrigée selon la nomenclature",
        QUANTITY_LIMIT: "Quantité au-delà de la limite de l'acte",
        LINE_CEILING: "Ligne au-delà du plafond par ligne",
        REFILL_TOO_SOON: "Renouvellement anticipé",
        LINES_REFUSED: "Prise en charge partielle : lignes non prises en charge",
        SUBMITTED: "Soumise à l'assureur",
        REFILL_OVERRIDE: "Renouvellement anticipé justifié, à valider par l'assureur",
        CLAIM_CEILING: "Demande au-delà du plafond par demande",
        DOUBLE_COVERAGE: "Soins déjà facturés sur un autre contrat",
        LATE_CLAIM: "Date de soins ancienne : contrôle de l'assureur",
        OVERLAPPING_STAY: "Séjours hospitaliers qui se chevauchent",
        CONVENTION_RATE: "Taux conventionnel",
        GENERIC_RATE: "Taux générique",
        CONTRACT_RATE: "Taux du contrat",
        APPROVED: "Prise en charge accordée",
        NOTHING_PAYABLE: "Aucun montant à la charge de l'assureur",
        FRAUD_REVIEW: "Contrôle de l'assureur requis (score de risque)",
        FRAUD_BLOCKED: "Demande bloquée (score de risque)",
        PRIOR_APPROVAL: "Accord préalable de l'assureur requis",
        DUPLICATE: "Doublon probable",
        HIGH_FREQUENCY: "Fréquence de soins inhabituelle",
        UNUSUAL_AMOUNT: "Montant inhabituel",
        HIGH_QUANTITY: "Quantité anormalement élevée",
        FAR_PROVIDER: "Prestataire éloigné du domicile",
        AGENT_APPROVED: "Approuvée par l'assureur",
        AGENT_PARTIAL: "Approuvée en partie par l'assureur",
        AGENT_REJECTED: "Refusée par l'assureur",
        AGENT_BLOCKED: "Bloquée par l'assureur",
        AGENT_AGREED: "Quantité ou prix accordé par l'assureur",
        AGENT_LINE_REFUSED: "Ligne refusée par l'assureur",
        AGENT_ACCEPTED: "Ligne acceptée par l'assureur",
        REFILL_ACCEPTED: "Renouvellement anticipé accepté par l'assureur",
        REFILL_REFUSED: "Renouvellement anticipé refusé par l'assureur",
    }
)


def label(code: str) -> str:
    """French label of a reason code; the code itself if unknown."""
    return REASONS.get(code, code)
