"""The OpenAPI 3.1 document of ``/api/v1``, built from the pydantic models.

One source: the request bodies and query strings are the models that validate them
(:mod:`dhamen.claims.schemas`), the answers the models of :mod:`dhamen.apidoc.models`;
pydantic's JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1) is used as is.  No
generation library: ``pydantic.json_schema.models_json_schema`` already writes the
schemas, the rest (paths, security, errors) is the table :data:`OPERATIONS`, one entry per
route of the API blueprint — :func:`build` refuses a route that the table does not
describe, so a new route cannot ship undocumented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from dhamen.access.roles import role_label
from dhamen.apidoc import models as m
from dhamen.claims import schemas as s
from dhamen.insurer.api import DecisionBody

VERSION = "1.0.0"  # bump the major (and /api/vN) to remove a path, an operation or a field
PREFIX = "/api/v1"

PROVIDERS = ("PHARMACIST", "DOCTOR", "LAB_MANAGER", "CLINIC_ADMIN")
INSURERS = ("INSURER_ADMIN", "INSURER_AGENT")

#: every error code the edge and the services can return, with its French meaning
ERROR_CODES = {
    "BAD_REQUEST": "Requête invalide.",
    "INVALID_JSON": "Le corps n'est pas un objet JSON valide.",
    "UNSUPPORTED_MEDIA_TYPE": "Le corps doit être envoyé avec Content-Type: application/json.",
    "VALIDATION_ERROR": "Un champ est invalide : details.field le nomme, details.errors les liste tous.",
    "UNAUTHORIZED": "Jeton absent, expiré ou révoqué.",
    "FORBIDDEN": "Ce rôle n'a pas accès à cette opération.",
    "PASSWORD_CHANGE_REQUIRED": "Changez d'abord le mot de passe provisoire depuis le portail.",
    "NOT_FOUND": "Ressource inconnue ou d'une autre organisation.",
    "METHOD_NOT_ALLOWED": "Méthode non autorisée.",
    "PAYLOAD_TOO_LARGE": "Requête trop volumineuse.",
    "RATE_LIMITED": "Trop de requêtes : attendre le nombre de secondes de l'en-tête Retry-After.",
    "INVALID_CREDENTIALS": "E-mail ou mot de passe incorrect.",
    "MFA_ENROLMENT_REQUIRED": "Double authentification obligatoire pour ce rôle, à activer depuis le portail.",
    "INVALID_OTP": "Code de vérification incorrect ou expiré.",
    "SMS_NOT_SENT": "Le code n'a pas pu être envoyé par SMS.",
    "INVALID_REFRESH_TOKEN": "Jeton de rafraîchissement inconnu, expiré ou déjà utilisé.",
    "WRONG_CLAIM_TYPE": "Ce rôle ne saisit pas ce type de demande (le message indique la bonne route).",
    "UNKNOWN_PROVIDER": "Le compte n'est rattaché à aucun prestataire.",
    "PROVIDER_INACTIVE": "L'établissement est désactivé.",
    "UNKNOWN_CONTRACT": "Contrat inconnu (ou d'un autre assureur sans lien avec vous).",
    "NO_CONVENTION": "Pas de convention de tiers payant entre l'établissement et l'assureur du contrat.",
    "INVALID_ITEMS": "Une ligne est refusée par le moteur (details.errors : items[i].champ).",
    "INVALID_DATE": "Date de soins dans le futur ou de plus d'un an.",
    "CONFIGURATION_ERROR": "Paramétrage de l'assureur ou du contrat invalide.",
    "INVALID_IDEMPOTENCY_KEY": "En-tête Idempotency-Key invalide (1 à 255 caractères).",
    "IDEMPOTENCY_KEY_REUSED": "Clé d'idempotence déjà utilisée pour un autre corps.",
    "IDEMPOTENCY_CONFLICT": "Requête concurrente avec la même clé : réessayer.",
    "UNKNOWN_MEMBER": "Aucun adhérent ne correspond.",
    "CONTRACT_MISCONFIGURED": "Contrat mal paramétré chez l'assureur.",
    "NATIONAL_ID_IN_URL": "Un numéro CIN ne doit jamais figurer dans une URL : utiliser POST /eligibility.",
    "INSURER_CONFIG": "Configuration de l'assureur invalide.",
    "INVALID_STATE": "Action impossible dans l'état actuel.",
    "INVALID_CURSOR": "Curseur de pagination invalide : repartir de la première page.",
    "ALREADY_DECIDED": "Demande déjà décidée (le message nomme qui a décidé quoi).",
    "NOTE_REQUIRED": "Motif obligatoire pour un refus ou un blocage.",
    "INVALID_LINES": "Un accord de ligne est invalide (details.errors : lines[i].champ).",
    "NOT_ELIGIBLE": "Approbation impossible : contrat non éligible ; refuser avec un motif.",
    "NOTHING_PAYABLE": "Approbation impossible : rien ne resterait à la charge de l'assureur.",
    "PAGE_TOO_DEEP": "Pagination par numéro de page limitée aux 1 000 premières demandes : suivre nextCursor.",
    "INTERNAL_ERROR": "Erreur interne.",
    "SERVICE_UNAVAILABLE": "Une dépendance (base, cache, stockage) est en panne.",
}

_BODY = {400: ["INVALID_JSON"], 413: ["PAYLOAD_TOO_LARGE"], 415: ["UNSUPPORTED_MEDIA_TYPE"],
         422: ["VALIDATION_ERROR"]}
_AUTH = {401: ["UNAUTHORIZED"], 403: ["FORBIDDEN", "PASSWORD_CHANGE_REQUIRED"]}
_SUBMIT_ERRORS = {**_BODY, **_AUTH,
                  400: ["INVALID_JSON", "INVALID_IDEMPOTENCY_KEY"],
                  403: ["FORBIDDEN", "PASSWORD_CHANGE_REQUIRED", "WRONG_CLAIM_TYPE", "UNKNOWN_PROVIDER",
                        "PROVIDER_INACTIVE"],
                  404: ["UNKNOWN_CONTRACT"],
                  409: ["IDEMPOTENCY_CONFLICT", "CONFIGURATION_ERROR"],
                  422: ["VALIDATION_ERROR", "NO_CONVENTION", "INVALID_ITEMS", "INVALID_DATE",
                        "IDEMPOTENCY_KEY_REUSED"]}
_ELIGIBILITY_ERRORS = {**_AUTH, 404: ["UNKNOWN_MEMBER", "UNKNOWN_CONTRACT"], 409: ["CONTRACT_MISCONFIGURED"],
                       422: ["VALIDATION_ERROR"]}


@dataclass(frozen=True)
class Op:
    summary: str
    answer: type[BaseModel]
    roles: tuple[str, ...] | None = None  # None: public
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    status: int = 200
    errors: dict[int, list[str]] = field(default_factory=dict)
    idempotent: bool = False
    list_of: bool = False
    description: str = ""
    example: dict | None = None
    tag: str = "Demandes"
    raw: bool = False  # answered as is, without the envelope


PHARMACY_EXAMPLE = {
    "contractId": "01JD3Z8Q4X2M7K9P5R6T8V0W1Y",
    "careDate": "2026-11-28",
    "items": [
        {"code": "PH0001", "label": "Amoxicilline 1 g cp B/12", "quantity": 2, "unitPrice": 5600, "isGeneric": True},
        {"code": "PH0010", "label": "Paracétamol 500 mg cp B/20", "quantity": 1, "unitPrice": 1350},
    ],
    "notes": "Ordonnance du Dr Ben Salah (Sfax)",
}

_CLAIM_DOC = ("Même mécanisme pour les quatre types, configuré par rôle. 201 avec la demande, y compris "
              "refusée (contrat non éligible : statut et motif). Montants en millimes (1 TND = 1000). "
              "`Idempotency-Key` : un nouvel envoi avec la même clé et le même corps rend la première réponse "
              "(201, en-tête `Idempotent-Replayed: true`) ; la même clé avec un autre corps est refusée (422).")

OPERATIONS: dict[tuple[str, str], Op] = {
    ("post", "/auth/login"): Op(
        "Connexion (e-mail et mot de passe)", m.TokenPair, body=m.LoginBody, tag="Authentification",
        errors={**_BODY, 401: ["INVALID_CREDENTIALS"], 403: ["MFA_ENROLMENT_REQUIRED"]},
        description="Rend la paire de jetons, ou — si la double authentification est active — "
                    "`{requiresMfa: true, mfaToken}` : envoyer alors le code à `POST /auth/mfa/verify`."),
    ("post", "/auth/mfa/verify"): Op(
        "Double authentification : vérifier le code", m.TokenPair, body=m.MfaVerifyBody, tag="Authentification",
        errors={**_BODY, 401: ["INVALID_OTP"]}),
    ("post", "/auth/mfa/sms"): Op(
        "Double authentification : recevoir le code par SMS", m.SmsSent, body=m.MfaSmsBody, tag="Authentification",
        errors={**_BODY, 400: ["INVALID_JSON", "SMS_NOT_SENT"]}),
    ("post", "/auth/refresh"): Op(
        "Renouveler les jetons", m.TokenPair, body=m.RefreshBody, tag="Authentification",
        errors={**_BODY, 401: ["INVALID_REFRESH_TOKEN"]},
        description="Le jeton de rafraîchissement est à usage unique : la réponse en contient un nouveau. "
                    "Réutiliser un ancien jeton révoque toute la famille (vol présumé)."),
    ("post", "/auth/logout"): Op(
        "Déconnexion", m.LoggedOut, roles=(), body=m.LogoutBody, tag="Authentification",
        errors={**_BODY, **_AUTH}),
    ("get", "/auth/me"): Op("Utilisateur connecté", m.Me, roles=(), tag="Authentification", errors=dict(_AUTH)),
    ("post", "/claims/pharmacy"): Op(
        "Saisir une demande pharmacie", m.Claim, roles=("PHARMACIST",), body=s.ClaimBody, status=201,
        errors=_SUBMIT_ERRORS, idempotent=True, description=_CLAIM_DOC, example=PHARMACY_EXAMPLE),
    ("post", "/claims/consultation"): Op(
        "Saisir une demande de consultation", m.Claim, roles=("DOCTOR",), body=s.ClaimBody, status=201,
        errors=_SUBMIT_ERRORS, idempotent=True, description=_CLAIM_DOC,
        example={"contractId": "01JD3Z8Q4X2M7K9P5R6T8V0W1Y", "items": [
            {"code": "C1", "label": "Consultation de médecine générale", "quantity": 1, "unitPrice": 45000}]}),
    ("post", "/claims/lab"): Op(
        "Saisir une demande d'analyses", m.Claim, roles=("LAB_MANAGER",), body=s.ClaimBody, status=201,
        errors=_SUBMIT_ERRORS, idempotent=True, description=_CLAIM_DOC,
        example={"contractId": "01JD3Z8Q4X2M7K9P5R6T8V0W1Y", "items": [
            {"code": "B120", "label": "Numération formule sanguine", "quantity": 1, "unitPrice": 18000}]}),
    ("post", "/claims/hospitalization"): Op(
        "Saisir une demande d'hospitalisation", m.Claim, roles=("CLINIC_ADMIN",), body=s.HospitalizationBody,
        status=201, errors=_SUBMIT_ERRORS, idempotent=True, description=_CLAIM_DOC,
        example={"contractId": "01JD3Z8Q4X2M7K9P5R6T8V0W1Y", "admissionDate": "2026-11-20",
                 "dischargeDate": "2026-11-23", "room": "204", "items": [
                     {"code": "HOSP-J", "label": "Journée d'hospitalisation", "quantity": 3, "unitPrice": 180000}]}),
    ("get", "/claims"): Op(
        "Demandes de l'organisation", m.ClaimPage, roles=(*PROVIDERS, *INSURERS, "ADMIN"), query=s.ClaimListQuery,
        errors={**_AUTH, 400: ["INVALID_CURSOR"], 422: ["VALIDATION_ERROR", "PAGE_TOO_DEEP"]},
        description="Les plus récentes d'abord ; filtres `du`, `au` (date de soins), `statut`, `type` ; "
                    "pagination par curseur (`cursor` = `nextCursor` de la réponse précédente), ou `page` pour les "
                    "1 000 premières ; `perPage` ≤ 100."),
    ("get", "/claims/{claim_id}"): Op(
        "Une demande avec ses lignes", m.Claim, roles=(*PROVIDERS, *INSURERS, "ADMIN"),
        errors={**_AUTH, 404: ["NOT_FOUND"]}, description="L'identifiant d'une autre organisation répond 404."),
    ("get", "/eligibility"): Op(
        "Droits d'un adhérent (par contrat ou identifiant)", m.Eligibility, roles=(*PROVIDERS, *INSURERS),
        query=s.EligibilityQuery, tag="Droits",
        errors={**_ELIGIBILITY_ERRORS, 400: ["NATIONAL_ID_IN_URL"]},
        description="Modèle FHIR CoverageEligibilityResponse. Un numéro CIN dans l'URL est refusé "
                    "(400 `NATIONAL_ID_IN_URL`) : il ne voyage que dans le corps de `POST /eligibility`."),
    ("post", "/eligibility"): Op(
        "Droits d'un adhérent (par numéro CIN, contrat ou identifiant)", m.Eligibility,
        roles=(*PROVIDERS, *INSURERS), body=s.EligibilityBody, tag="Droits",
        errors={**_ELIGIBILITY_ERRORS, **{k: v for k, v in _BODY.items() if k != 422}},
        example={"nationalId": "08123456", "careType": "pharmacy"}),
    ("get", "/review"): Op(
        "File de validation de l'assureur", m.ReviewPage, roles=INSURERS, query=m.ReviewQuery, tag="Validation",
        errors={**_AUTH, 400: ["NATIONAL_ID_IN_URL", "INVALID_CURSOR"], 422: ["VALIDATION_ERROR"]},
        description="Pagination par curseur : renvoyer `nextCursor` dans `cursor`. Montants des filtres en TND."),
    ("post", "/claims/{claim_id}/decision"): Op(
        "Décider d'une demande en validation", m.ClaimDecided, roles=INSURERS, body=DecisionBody, tag="Validation",
        idempotent=True, errors={**_BODY, **_AUTH, 400: ["INVALID_JSON", "INVALID_IDEMPOTENCY_KEY"],
                                 404: ["NOT_FOUND"], 409: ["ALREADY_DECIDED", "NOT_ELIGIBLE", "NOTHING_PAYABLE",
                                                           "IDEMPOTENCY_CONFLICT", "CONFIGURATION_ERROR"],
                                 422: ["VALIDATION_ERROR", "NOTE_REQUIRED", "INVALID_LINES", "IDEMPOTENCY_KEY_REUSED"]},
        description="`approve`, `partial` (avec `lines`, numérotées à partir de 1), `reject` ou `block` (avec "
                    "`note`). Par ligne : `quantity` et/ou `unitPrice` accordés (plus bas que demandé), "
                    "`agreedUnitPrice` (prix accordé à une ligne hors nomenclature, qui devient son tarif), "
                    "`override` (`accept` ou `refuse` : motif de renouvellement anticipé accepté ou refusé, "
                    "obligatoire sur chaque ligne concernée d'un `partial` ; `approve` les accepte tous), "
                    "toujours avec `reason`. Mêmes règles que le portail ; 409 `ALREADY_DECIDED` si un autre "
                    "agent a décidé.",
        example={"decision": "partial", "note": "Quantité ramenée à la prescription",
                 "lines": [{"line": 1, "quantity": 1, "unitPrice": 5600, "reason": "Une boîte prescrite"}]}),
    ("get", "/reconciliation"): Op(
        "Bordereaux de l'assureur", m.Reconciliation, roles=INSURERS, list_of=True, tag="Bordereaux",
        errors=dict(_AUTH)),
    ("post", "/reconciliation"): Op(
        "Générer un bordereau", m.ReconciliationRun, roles=("INSURER_ADMIN",), body=m.PeriodBody, status=202,
        tag="Bordereaux", errors={**_BODY, **_AUTH, 404: ["NOT_FOUND"], 422: ["VALIDATION_ERROR", "INSURER_CONFIG"]},
        description="Génération en tâche de fond : suivre `Location` (`GET /reconciliation/runs/{run_id}`)."),
    ("get", "/reconciliation/runs/{run_id}"): Op(
        "Suivre une génération", m.ReconciliationRun, roles=INSURERS, tag="Bordereaux",
        errors={**_AUTH, 404: ["NOT_FOUND"]}),
    ("get", "/reconciliation/{reconciliation_id}"): Op(
        "Un bordereau avec ses relevés par prestataire", m.Reconciliation, roles=INSURERS, tag="Bordereaux",
        errors={**_AUTH, 404: ["NOT_FOUND"]}),
    ("get", "/openapi.json"): Op("Ce document (OpenAPI 3.1)", m.OpenApiDocument, tag="Documentation", raw=True,
                                 description="Servi brut, sans l'enveloppe."),
    ("get", "/health"): Op("État du service", m.Health, tag="Documentation", raw=True,
                           errors={503: ["SERVICE_UNAVAILABLE"]},
                           description="Sans l'enveloppe : `status` vaut `healthy` (200), `degraded` ou "
                                       "`unhealthy` (503, `failed` nomme les dépendances en panne)."),
}

_STATUS_TEXT = {400: "Requête invalide", 401: "Non authentifié", 403: "Refusé", 404: "Introuvable",
                409: "Conflit", 413: "Trop volumineux", 415: "Type de contenu non pris en charge",
                422: "Données invalides", 429: "Trop de requêtes", 500: "Erreur interne",
                503: "Service indisponible"}


#: the routes of ``/api/v1`` that are not JSON operations: the HTML page of this document
NOT_JSON = {("get", "/docs")}


class UndocumentedRoute(LookupError):
    pass


def api_operations(app: Flask) -> list[tuple[str, str]]:
    """``(method, path)`` of every ``/api/v1`` route of the app, path in OpenAPI form (``{id}``)."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule[len(PREFIX):])
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (method.lower(), path) not in NOT_JSON:
                out.append((method.lower(), path))
    return sorted(out)


def _schemas() -> tuple[dict, dict]:
    models = {op.answer for op in OPERATIONS.values()} | {m.ErrorEnvelope}
    models |= {op.body for op in OPERATIONS.values() if op.body} | {op.query for op in OPERATIONS.values() if op.query}
    models |= {m.MfaChallenge}
    pairs = [(model, "validation" if model in {op.body for op in OPERATIONS.values()} else "serialization")
             for model in sorted(models, key=lambda x: x.__name__)]
    refs, top = models_json_schema(pairs, ref_template="#/components/schemas/{model}")
    return {model: refs[(model, mode)] for model, mode in pairs}, top.get("$defs", {})


def _error_response(status: int, codes: list[str], raw: type[BaseModel] | None = None) -> dict:
    lines = "\n".join(f"- `{code}` : {ERROR_CODES[code]}" for code in codes)
    first = codes[0]
    response = {
        "description": f"{_STATUS_TEXT.get(status, 'Erreur')}. Codes possibles :\n{lines}",
        "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ErrorEnvelope"},
            "example": {"success": False, "error": {"code": first, "message": ERROR_CODES[first]}}}},
    }
    if raw is not None:  # the health check answers 503 with its own body
        response["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{raw.__name__}"}}}
    if status == 429:
        response["headers"] = {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
    return response


def _query_parameters(model: type[BaseModel], refs: dict, defs: dict) -> list[dict]:
    schema = defs.get(refs[model]["$ref"].rsplit("/", 1)[-1], refs[model]) if "$ref" in refs[model] else refs[model]
    required = set(schema.get("required", ()))
    return [{"name": name, "in": "query", "required": name in required, "schema": prop,
             "description": s.FIELD_LABELS.get(name, name)} for name, prop in schema["properties"].items()]


def _operation(method: str, path: str, op: Op, refs: dict, defs: dict) -> dict:
    answer = refs[op.answer]
    data = {"type": "array", "items": answer} if op.list_of else answer
    body_schema = answer if op.raw else {
        "type": "object", "required": ["success", "data"], "additionalProperties": False,
        "properties": {"success": {"const": True}, "data": data}}
    if op is OPERATIONS[("post", "/auth/login")]:
        body_schema["properties"]["data"] = {"oneOf": [refs[m.TokenPair], refs[m.MfaChallenge]]}
    success = {"description": "Succès", "content": {"application/json": {"schema": body_schema}}}
    if op.status == 201:
        success["headers"] = {"Location": {"description": "URL de la demande créée", "schema": {"type": "string"}},
                              "Idempotent-Replayed": {"description": "`true` quand la réponse est rejouée",
                                                      "schema": {"type": "string", "enum": ["true"]}}}
    responses = {str(op.status): success}
    errors = {k: list(v) for k, v in op.errors.items()}
    errors.setdefault(429, ["RATE_LIMITED"])
    for status in sorted(errors):
        responses[str(status)] = _error_response(status, errors[status], op.answer if op.raw and status == 503 else None)
    roles = op.roles
    who = ("Public (sans jeton)." if roles is None else
           "Tout utilisateur connecté." if not roles else
           "Rôles : " + ", ".join(f"{role_label(r)} (`{r}`)" for r in roles) + ".")
    out = {
        "operationId": f"{method}_{path.strip('/').replace('/', '_').replace('{', '').replace('}', '').replace('.', '_')}",
        "summary": op.summary,
        "description": f"{op.description}\n\n{who}".strip(),
        "tags": [op.tag],
        "responses": responses,
        "security": [] if roles is None else [{"bearerAuth": []}],
        "x-roles": list(roles or ()),
    }
    params = []
    for name in re.findall(r"{([^}]+)}", path):
        params.append({"name": name, "in": "path", "required": True,
                       "schema": {"type": "string", "minLength": 1, "maxLength": 64}})
    if op.query:
        params += _query_parameters(op.query, refs, defs)
    if op.idempotent:
        params.append({"$ref": "#/components/parameters/IdempotencyKey"})
    if params:
        out["parameters"] = params
    if op.body:
        content = {"schema": refs[op.body]}
        if op.example:
            op.body.model_validate(op.example)  # the examples are checked like a request
            content["example"] = op.example
        out["requestBody"] = {"required": op.body is not m.LogoutBody, "content": {"application/json": content}}
    return out


def build(app: Flask, version: str = "v1") -> dict:
    """The document for this app; :class:`UndocumentedRoute` if a route of ``/api/v1`` has no entry."""
    refs, defs = _schemas()
    paths: dict[str, dict] = {}
    missing = [f"{meth.upper()} {path}" for meth, path in api_operations(app) if (meth, path) not in OPERATIONS]
    if missing:
        raise UndocumentedRoute("routes /api/v1 sans description OpenAPI : " + ", ".join(missing))
    for method, path in api_operations(app):
        paths.setdefault(path, {})[method] = _operation(method, path, OPERATIONS[(method, path)], refs, defs)
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "Dhamen — API de tiers payant",
            "version": VERSION,
            "x-api-version": version,
            "summary": "Demandes de prise en charge, droits des adhérents et bordereaux, pour les logiciels "
                       "de pharmacie, de cabinet, de laboratoire et de clinique.",
            "description": (
                "Toutes les réponses JSON sont dans une enveloppe : `{\"success\": true, \"data\": …}` ou "
                "`{\"success\": false, \"error\": {\"code\", \"message\", \"details\"?}}` ; `message` est en "
                "français et peut être montré tel quel, `code` est stable.\n\n"
                "**Authentification** : `POST /auth/login` rend un jeton d'accès (JWT, 15 min) et un jeton de "
                "rafraîchissement (usage unique). Si la double authentification est active, la réponse est "
                "`{requiresMfa: true, mfaToken}` : envoyer `{mfaToken, otpCode}` à `POST /auth/mfa/verify`. "
                "Envoyer ensuite `Authorization: Bearer <accessToken>` ; renouveler par `POST /auth/refresh`.\n\n"
                "**Limites de débit** : par jeton (ou par adresse avant connexion) ; au-delà, `429 RATE_LIMITED` "
                "et l'en-tête `Retry-After` (secondes).\n\n"
                "**Montants** : entiers en millimes (1 TND = 1000 millimes ; 7,850 TND = 7850)."),
        },
        "servers": [{"url": PREFIX, "description": f"API {version}"}],
        "tags": [{"name": n} for n in ("Authentification", "Droits", "Demandes", "Validation", "Bordereaux",
                                                 "Documentation")],
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "Jeton d'accès de POST /auth/login (ou /auth/mfa/verify, /auth/refresh)."}},
            "parameters": {"IdempotencyKey": {
                "name": "Idempotency-Key", "in": "header", "required": False,
                "description": "Clé choisie par le client (1 à 255 caractères, par exemple un UUID) : un nouvel "
                               "envoi après une coupure réseau ne crée pas de seconde demande.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                "example": "pharmacie-lac-2026-11-28-000042"}},
            "headers": {"Retry-After": {"description": "Secondes à attendre avant de réessayer",
                                        "schema": {"type": "integer", "minimum": 0}}},
        },
    }
