"""Bodies and query strings of the claims API, validated with pydantic v2.

Strict on purpose: extra fields are refused, amounts and quantities must be
JSON integers (``12.5``, ``"12"`` or ``true`` are refused — money is an
integer number of millimes), dates are ``AAAA-MM-JJ`` strings.

A validation failure becomes one or more ``{"field", "message"}`` entries:
``field`` is the JSON path of the value at fault (``items[2].quantity``,
array indexes from 0), ``message`` a French sentence for the counter (which
numbers lines from 1: ``Ligne 3 : …``).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_core.core_schema import ErrorType

from dhamen.core.edge import register_field_labels
from dhamen.domain.catalogue import CARE_TYPES
from dhamen.domain.coverage import (
    MAX_CATEGORY_LENGTH,
    MAX_CODE_LENGTH,
    MAX_LABEL_LENGTH,
    MAX_LINES,
    MAX_QUANTITY,
    MAX_UNIT_PRICE,
)
from dhamen.domain.history import OVERRIDE_REASONS
from dhamen.domain.limits import MAX_NOTES_LENGTH, MAX_ROOM_LENGTH, MAX_STAY_DAYS
from dhamen.domain.money import format_tnd
from dhamen.domain.transitions import CLAIM_STATUSES

OVERRIDE_CODES = tuple(OVERRIDE_REASONS)
MAX_PER_PAGE = 100

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PydanticCustomError("date_format", "date invalide (format attendu : AAAA-MM-JJ)")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ItemBody(_Body):
    code: Annotated[str, Field(min_length=1, max_length=MAX_CODE_LENGTH)]
    label: Annotated[str, Field(max_length=MAX_LABEL_LENGTH)] = ""
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
    unitPrice: Annotated[int, Field(ge=1, le=MAX_UNIT_PRICE)]
    isGeneric: bool = False
    category: Annotated[str | None, Field(max_length=MAX_CATEGORY_LENGTH)] = None

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise PydanticCustomError("blank", "ne peut pas être vide")
        return value


class ClaimBody(_Body):
    """``POST /api/v1/claims/{pharmacy,consultation,lab}``."""

    contractId: Annotated[str, Field(min_length=1, max_length=64)]
    careDate: IsoDate | None = None
    items: Annotated[list[ItemBody], Field(min_length=1, max_length=MAX_LINES)]
    notes: Annotated[str | None, Field(max_length=MAX_NOTES_LENGTH)] = None
    #: send the claim, lines the engine would not pay included (hors nomenclature, above a
    #: ceiling or a quantity limit), to the insurer's review instead of paying them 0
    submitToInsurer: bool = False
    #: early refill: why the drug is dispensed again so soon; the claim goes to the insurer's review
    overrideReason: Literal[OVERRIDE_CODES] | None = None  # type: ignore[valid-type]


class HospitalizationBody(ClaimBody):
    """``POST /api/v1/claims/hospitalization``: the stay comes with the claim.

    ``careDate`` defaults to ``admissionDate`` and must fall within the stay.
    """

    admissionDate: IsoDate
    dischargeDate: IsoDate
    room: Annotated[str | None, Field(min_length=1, max_length=MAX_ROOM_LENGTH)] = None

    @field_validator("dischargeDate")
    @classmethod
    def _stay(cls, value: date, info: ValidationInfo) -> date:
        admission = info.data.get("admissionDate")
        if admission is not None:
            if value < admission:
                raise PydanticCustomError("stay_order", "antérieure à la date d'entrée")
            if (value - admission).days > MAX_STAY_DAYS:
                raise PydanticCustomError("stay_length", f"séjour de plus de {MAX_STAY_DAYS} jours")
        return value


NationalId = Annotated[str, Field(min_length=1, max_length=32)]


class EligibilityBody(_Body):
    """``POST /api/v1/eligibility``: the only place a national ID may be sent."""

    nationalId: NationalId | None = None
    contractNumber: Annotated[str | None, Field(min_length=1, max_length=50)] = None
    memberId: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    careType: Literal[CARE_TYPES] | None = None  # type: ignore[valid-type]
    date: IsoDate | None = None


class _Query(BaseModel):
    # Query strings are text: lax conversion ("2" -> 2), unknown parameters refused.
    model_config = ConfigDict(extra="forbid", frozen=True)


class EligibilityQuery(_Query):
    """``GET /api/v1/eligibility`` (no national ID here: see SECURITY.md)."""

    contractNumber: Annotated[str | None, Field(min_length=1, max_length=50)] = None
    memberId: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    careType: Literal[CARE_TYPES] | None = None  # type: ignore[valid-type]
    date: IsoDate | None = None


class ClaimListQuery(_Query):
    """``GET /api/v1/claims``."""

    du: IsoDate | None = None
    au: IsoDate | None = None
    statut: Literal[CLAIM_STATUSES] | None = None  # type: ignore[valid-type]
    type: Literal[CARE_TYPES] | None = None  # type: ignore[valid-type]
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1  # bounded in the view: the first 1 000 claims
    perPage: Annotated[int, Field(ge=1, le=MAX_PER_PAGE)] = 25
    cursor: Annotated[str | None, Field(min_length=1, max_length=400)] = None  # a nextCursor

    @field_validator("au")
    @classmethod
    def _range(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("du")
        if value is not None and start is not None and value < start:
            raise PydanticCustomError("date_order", "antérieure à la date de début (du)")
        return value


# --- errors in French, naming the field --------------------------------------------------

FIELD_LABELS = {
    "contractId": "contrat",
    "careDate": "date de soins",
    "items": "lignes",
    "notes": "note",
    "code": "code",
    "label": "libellé",
    "quantity": "quantité",
    "unitPrice": "prix unitaire",
    "isGeneric": "indication « générique »",
    "submitToInsurer": "soumission à l'assureur (submitToInsurer)",
    "overrideReason": "motif de renouvellement anticipé (overrideReason)",
    "category": "catégorie",
    "admissionDate": "date d'entrée",
    "dischargeDate": "date de sortie",
    "room": "chambre",
    "nationalId": "numéro CIN",
    "contractNumber": "numéro de contrat",
    "memberId": "adhérent",
    "careType": "type de soin",
    "date": "date",
    "du": "date de début (du)",
    "au": "date de fin (au)",
    "statut": "statut",
    "type": "type de demande",
    "page": "page",
    "perPage": "nombre par page (perPage)",
    "email": "adresse e-mail",
    "password": "mot de passe",
    "mfaToken": "jeton de double authentification (réponse de la connexion)",
    "otpCode": "code de vérification à 6 chiffres",
    "refreshToken": "jeton de rafraîchissement",
    "periodStart": "début de la période",
    "periodEnd": "fin de la période",
}


register_field_labels(FIELD_LABELS)


def field_path(loc: tuple[Any, ...]) -> str:
    """``("items", 2, "quantity")`` → ``"items[2].quantity"``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _prefix(loc: tuple[Any, ...]) -> str:
    names = [p for p in loc if isinstance(p, str)]
    label = FIELD_LABELS.get(names[-1], names[-1]) if names else "corps de la requête"
    if len(loc) >= 2 and loc[0] == "items" and isinstance(loc[1], int):
        line = f"Ligne {loc[1] + 1}"
        return line if len(loc) == 2 else f"{line}, {label}"
    return label[:1].upper() + label[1:]


def _message(error: dict) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    prefix = _prefix(loc)
    last = loc[-1] if loc else None
    if kind == "extra_forbidden":
        return f"Champ « {last} » non autorisé."
    if kind == "missing":
        return f"{prefix} : champ obligatoire."
    if last == "quantity" and kind in ("int_type", "int_parsing", "int_from_float", "greater_than_equal",
                                       "less_than_equal"):
        return f"{prefix} : un nombre entier de 1 à {MAX_QUANTITY} est attendu."
    if last == "unitPrice" and kind in ("int_type", "int_parsing", "int_from_float", "greater_than_equal",
                                        "less_than_equal"):
        return (f"{prefix} : un nombre entier de millimes de 1 à {MAX_UNIT_PRICE} est attendu "
                f"({format_tnd(1)} à {format_tnd(MAX_UNIT_PRICE)}).")
    if loc == ("items",) and kind == "too_short":
        return "Ajoutez au moins une ligne à la demande."
    if loc == ("items",) and kind == "too_long":
        return f"{MAX_LINES} lignes au maximum par demande."
    simple = {
        "int_type": "un nombre entier est attendu",
        "int_parsing": "un nombre entier est attendu",
        "int_from_float": "un nombre entier est attendu",
        "string_type": "un texte est attendu",
        "bool_type": "true ou false est attendu",
        "bool_parsing": "true ou false est attendu",
        "list_type": "une liste est attendue",
        "model_type": "un objet JSON est attendu",
        "dict_type": "un objet JSON est attendu",
        "model_attributes_type": "un objet JSON est attendu",
        "literal_error": f"valeur inconnue (attendue : {ctx.get('expected', '').replace(' or ', ', ')})",
        "date_type": "date invalide (format attendu : AAAA-MM-JJ)",
    }
    if kind in simple:
        return f"{prefix} : {simple[kind]}."
    if kind == "string_too_short":
        return f"{prefix} : ne peut pas être vide."
    if kind == "string_too_long":
        return f"{prefix} : {ctx.get('max_length')} caractères au maximum."
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = ctx.get("ge", ctx.get("gt", ctx.get("le", ctx.get("lt"))))
        word = "au moins" if kind.startswith("greater") else "au plus"
        return f"{prefix} : la valeur doit valoir {word} {bound}."
    if kind in ("too_short", "too_long"):
        return f"{prefix} : nombre d'éléments invalide."
    if kind in MORE_FRENCH:
        return f"{prefix} : {MORE_FRENCH[kind]}."
    if kind in PYDANTIC_ERROR_TYPES:  # any other pydantic message is English: never shown
        return f"{prefix} : valeur invalide."
    # Our own PydanticCustomError messages are already French.
    return f"{prefix} : {error['msg']}."


# pydantic's own error types (its messages are English); ours (PydanticCustomError) are not among them.
PYDANTIC_ERROR_TYPES = frozenset(get_args(ErrorType))
MORE_FRENCH = {
    "string_unicode": "texte invalide",
    "string_pattern_mismatch": "format invalide",
    "string_sub_type": "un texte est attendu",
    "float_type": "un nombre est attendu",
    "float_parsing": "un nombre est attendu",
    "finite_number": "un nombre fini est attendu",
    "int_parsing_size": "nombre trop grand",
    "date_parsing": "date invalide (format attendu : AAAA-MM-JJ)",
    "date_from_datetime_parsing": "date invalide (format attendu : AAAA-MM-JJ)",
    "date_from_datetime_inexact": "date invalide (format attendu : AAAA-MM-JJ)",
    "datetime_type": "date et heure invalides",
    "datetime_parsing": "date et heure invalides",
    "enum": "valeur inconnue",
    "none_required": "aucune valeur n'est attendue (null)",
    "json_invalid": "JSON invalide",
    "json_type": "JSON attendu",
    "list_type": "une liste est attendue",
    "tuple_type": "une liste est attendue",
    "set_type": "une liste est attendue",
    "bytes_type": "un texte est attendu",
    "frozen_field": "ne peut pas être modifié",
    "frozen_instance": "ne peut pas être modifié",
    "union_tag_invalid": "type d'objet inconnu",
    "union_tag_not_found": "type d'objet manquant",
    "value_error": "valeur invalide",
    "assertion_error": "valeur invalide",
    "decimal_type": "un nombre est attendu",
    "decimal_parsing": "un nombre est attendu",
    "uuid_type": "identifiant invalide",
    "uuid_parsing": "identifiant invalide",
    "url_type": "adresse invalide",
    "url_parsing": "adresse invalide",
}


def french_errors(exc: ValidationError) -> list[dict]:
    """``[{"field": "items[2].quantity", "message": "Ligne 3, quantité : …"}]``."""
    out = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = tuple(error["loc"])
        out.append({"field": field_path(loc) or "body", "code": error["type"], "message": _message(error)})
    return out
