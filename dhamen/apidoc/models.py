"""The answers of ``/api/v1`` as pydantic models, for the OpenAPI document only.

The request bodies come from the models that validate them (:mod:`dhamen.claims.schemas`,
:mod:`dhamen.apidoc.models` for the auth bodies, validated by hand in
:mod:`dhamen.access.auth.api`); these describe what the serialisers return
(:mod:`dhamen.claims.serialisation`, :mod:`dhamen.reconciliation.api`).  The property-based
run (``tests/api/test_schemathesis.py``) checks every answer against them, so a serialiser
that drifts from its model fails the suite.  Amounts are integers of millimes (1 TND = 1000).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dhamen.domain.catalogue import CARE_TYPES
from dhamen.domain.transitions import CLAIM_STATUSES

Millimes = int
Day = Field(json_schema_extra={"format": "date"})


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- auth --------------------------------------------------------------------------------

class LoginBody(_Out):
    """``POST /auth/login``."""

    email: str = Field(max_length=254, examples=["pharmacien@pharmacie-lac.tn"])
    password: str = Field(max_length=1024, examples=["Dhamen-Demo-2026"])


class MfaVerifyBody(_Out):
    """``POST /auth/mfa/verify``: the ``mfaToken`` of the login answer and the 6-digit code."""

    mfaToken: str = Field(max_length=100)
    otpCode: str = Field(max_length=32, examples=["492817"], description="Code TOTP (application) ou SMS")


class MfaSmsBody(_Out):
    """``POST /auth/mfa/sms``: send the code by SMS to the user's phone."""

    mfaToken: str = Field(max_length=100)


class RefreshBody(_Out):
    refreshToken: str = Field(max_length=100)


class LogoutBody(_Out):
    refreshToken: str | None = Field(default=None, description="Révoque aussi ce jeton de rafraîchissement.")


class TokenPair(_Out):
    accessToken: str = Field(description="JWT à envoyer dans « Authorization: Bearer … »")
    refreshToken: str = Field(description="À usage unique : POST /auth/refresh en rend un nouveau.")
    tokenType: Literal["Bearer"]
    expiresIn: int = Field(description="Durée de validité du jeton d'accès, en secondes", examples=[900])


class MfaChallenge(_Out):
    requiresMfa: Literal[True]
    mfaToken: str
    smsAvailable: bool


class SmsSent(_Out):
    sent: Literal[True]
    message: str


class LoggedOut(_Out):
    loggedOut: Literal[True]


class Me(_Out):
    id: str
    email: str
    role: str = Field(examples=["PHARMACIST"])
    firstName: str
    lastName: str
    providerId: str | None
    insurerId: str | None
    mfaEnabled: bool
    mustChangePassword: bool


# --- claims ------------------------------------------------------------------------------

Status = Literal[CLAIM_STATUSES]  # type: ignore[valid-type]
CareType = Literal[CARE_TYPES]  # type: ignore[valid-type]


class ClaimLine(_Out):
    code: str
    label: str
    quantity: int
    unitPrice: Millimes
    cappedUnitPrice: Millimes | None
    lineTotal: Millimes
    coveredAmount: Millimes
    copayAmount: Millimes
    rateBp: int = Field(description="Taux de prise en charge en points de base (7000 = 70 %)")
    isGeneric: bool
    category: str | None
    reasonCodes: list[Any] | None
    ruleApplied: str | None
    adjudication: Any = None


class Claim(_Out):
    """A claim with its lines, as answered to its submission and by ``GET /claims/{id}``."""

    warnings: list[str]
    id: str
    reference: str | None = Field(examples=["PH-2026-000123"])
    type: CareType
    status: Status
    statusLabel: str = Field(examples=["Approuvée"])
    reasonCode: str | None
    reason: str | None
    careDate: str = Day
    createdAt: str
    contractId: str
    adherentId: str
    providerId: str
    insurerId: str
    totalAmount: Millimes
    coveredAmount: Millimes
    copayAmount: Millimes
    fraudScore: int | float | None
    fraudFlags: Any = None
    baremeVersion: str | None
    details: dict[str, Any]
    items: list[ClaimLine]


class MemberRef(_Out):
    id: str
    firstName: str
    lastName: str


class ClaimSummary(_Out):
    id: str
    reference: str | None
    type: CareType
    status: Status
    statusLabel: str
    reasonCode: str | None
    careDate: str = Day
    createdAt: str
    contractId: str
    contractNumber: str
    adherentId: str
    member: MemberRef
    providerId: str
    insurerId: str
    totalAmount: Millimes
    coveredAmount: Millimes
    copayAmount: Millimes
    fraudScore: int | float | None


class ClaimPage(_Out):
    items: list[ClaimSummary]
    nextCursor: str | None = Field(description="À renvoyer dans « cursor » pour la page suivante ; null à la fin")
    total: int | None = Field(description="Exact jusqu'à 1 000 demandes, sinon null (voir totalMoreThan)")
    totalMoreThan: int | None = None
    page: int | None = None
    perPage: int
    pages: int | None


class ClaimDecided(Claim):
    """The claim after an insurer's decision (``POST /claims/{claim_id}/decision``)."""

    decision: Any = None


class ReviewQuery(BaseModel):
    """``GET /review``: the review portal's filters (text, as in its URLs)."""

    model_config = ConfigDict(extra="forbid")
    statut: str | None = None
    type: str | None = None
    prestataire: str | None = Field(default=None, description="identifiant du prestataire")
    adherent: str | None = Field(default=None, description="identifiant de l'adhérent (jamais le numéro CIN)")
    contrat: str | None = Field(default=None, description="numéro de contrat")
    du: str | None = Field(default=None, description="date de soins, à partir de (AAAA-MM-JJ)")
    au: str | None = Field(default=None, description="date de soins, jusqu'à (AAAA-MM-JJ)")
    montant_min: str | None = Field(default=None, description="montant minimal en TND")
    montant_max: str | None = Field(default=None, description="montant maximal en TND")
    score_min: str | None = None
    score_max: str | None = None
    signal: str | None = Field(default=None, description="signal de fraude")
    tri: str | None = Field(default=None, description="ordre de la file")
    perPage: str | None = Field(default=None, description="taille de page, 1 à 100")
    cursor: str | None = Field(default=None, description="nextCursor de la réponse précédente")


class NamedRef(_Out):
    id: str
    name: str


class ReviewRow(_Out):
    id: str
    type: CareType
    status: Status
    statusLabel: str
    careDate: str = Day
    createdAt: str
    totalAmount: Millimes
    coveredAmount: Millimes
    fraudScore: int | float | None
    fraudFlags: Any = None
    reasonCode: str | None
    provider: NamedRef
    member: NamedRef
    contractNumber: str


class ReviewPage(_Out):
    items: list[ReviewRow]
    nextCursor: str | None
    count: int
    countExact: bool
    perPage: int


# --- eligibility (FHIR CoverageEligibilityResponse) --------------------------------------

class Benefit(_Out):
    careType: str
    label: str
    covered: bool
    rateBp: int | None
    genericRateBp: int | None
    roomDayCap: int | None


class InsurerRef(_Out):
    id: str
    code: str
    name: str


class Period(_Out):
    start: str = Day
    end: str = Day


class ContractRights(_Out):
    contractId: str
    contractNumber: str
    insurer: InsurerRef
    planType: str | None
    status: str
    payerRank: int | None
    inforce: bool
    reasonCode: str | None
    message: str
    carenceUntil: str | None
    benefitPeriod: Period | None
    annualLimit: Millimes | None
    used: Millimes | None
    remaining: Millimes | None
    benefits: list[Benefit]
    exclusions: list[Any]
    conventionWithProvider: bool


class Patient(_Out):
    id: str
    firstName: str
    lastName: str
    dateOfBirth: str = Day
    nationalIdMasked: str | None = Field(examples=["****5678"])


class Requestor(_Out):
    providerId: str
    name: str


class Eligibility(_Out):
    resourceType: Literal["CoverageEligibilityResponse"]
    status: Literal["active"]
    purpose: list[str]
    outcome: Literal["complete"]
    created: str
    servicedDate: str = Day
    careType: CareType
    patient: Patient
    requestor: Requestor | None
    inforce: bool = Field(description="Au moins un contrat utilisable ici, à cette date, pour ce soin")
    disposition: str = Field(examples=["Droits ouverts."])
    insurance: list[ContractRights]


# --- reconciliation ----------------------------------------------------------------------

class PeriodBody(_Out):
    """``POST /reconciliation``: the period to reconcile (at most a year)."""

    periodStart: str = Field(json_schema_extra={"format": "date"}, examples=["2026-10-01"])
    periodEnd: str = Field(json_schema_extra={"format": "date"}, examples=["2026-10-31"])


class ProviderStatement(_Out):
    providerId: str
    providerName: str
    licenseNo: str | None
    claimCount: int
    totalAmount: Millimes
    totalCovered: Millimes
    retention: Millimes
    netPayable: Millimes


class Reconciliation(_Out):
    id: str
    reference: str
    insurerId: str
    periodStart: str = Day
    periodEnd: str = Day
    status: str
    statusLabel: str
    totalClaims: int
    totalAmount: Millimes
    totalCovered: Millimes
    totalRetentions: Millimes
    totalNetPayable: Millimes
    retentionRateBp: int | None
    pdfAvailable: bool
    pageCount: int | None
    contentSha256: str | None
    pdfSha256: str | None
    pdfUrl: str | None
    createdAt: str
    sentAt: str | None
    paidAt: str | None
    paymentDate: str | None
    paymentReference: str | None
    providers: list[ProviderStatement] | None = None


class ReconciliationRun(_Out):
    id: str
    state: str
    stateLabel: str
    step: str | None
    done: int | None
    total: int | None
    error: str | None
    periodStart: str = Day
    periodEnd: str = Day
    reconciliationId: str | None
    createdAt: str


# --- envelope ----------------------------------------------------------------------------

class FieldError(BaseModel):
    field: str = Field(examples=["items[2].quantity"])
    message: str = Field(examples=["Ligne 3, quantité : un nombre entier de 1 à 999 est attendu."])
    code: str | None = None


class ErrorDetails(BaseModel):
    model_config = ConfigDict(extra="allow")
    field: str | None = Field(default=None, description="Chemin JSON du champ en cause")
    errors: list[FieldError] | None = None
    retryAfter: int | None = None


class Error(_Out):
    code: str = Field(description="Code stable, à tester par le logiciel client", examples=["NO_CONVENTION"])
    message: str = Field(description="Message en français, à montrer tel quel au comptoir")
    details: ErrorDetails | list[Any] | None = None


class ErrorEnvelope(_Out):
    success: Literal[False]
    error: Error


class OpenApiDocument(BaseModel):
    model_config = ConfigDict(extra="allow")
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]


class Check(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: Literal["ok", "error"]
    latencyMs: int
    error: str | None = None


class Health(BaseModel):
    """``GET /health`` (not in the envelope: polled by load balancers)."""

    model_config = ConfigDict(extra="allow")
    status: Literal["healthy", "degraded", "unhealthy"]
    version: str
    environment: str
    checks: dict[str, Check]
    uptime: str
    failed: list[str] | None = None
