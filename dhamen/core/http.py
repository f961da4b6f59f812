"""The edge: every error becomes an HTTP answer here, and only here.

- ``ApiError`` (raised by API views: bad body, bad header) → the envelope
  ``{"success": false, "error": {"code", "message", "details"?}}``;
- a service's refusal (:class:`dhamen.core.errors.ServiceError`: a code, a French
  message and a kind) → the envelope under ``/api/v1``, a French error page elsewhere,
  with the status of its kind (``STATUS_OF_KIND``);
- a service that is unreachable (:data:`dhamen.core.outages.OUTAGE_CLASSES`: PostgreSQL,
  Redis, object storage) → 503 with ``Retry-After``, the page rendered for an anonymous
  visitor (asking who is signed in would fail again), a plain French page if even that fails;
- an ``HTTPException`` (404, 405, 413, 429, CSRF…) and any unexpected exception
  (rolled back, logged) → the same two forms.
"""

from __future__ import annotations

from flask import current_app, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from dhamen.core.errors import ServiceError
from dhamen.core.outages import FALLBACK_PAGE, OUTAGE_CLASSES, RETRY_AFTER_SECONDS, outage_of
from dhamen.extensions import db

HTTP_CODES = {
    400: ("BAD_REQUEST", "Requête invalide."),
    401: ("UNAUTHORIZED", "Authentification requise."),
    403: ("FORBIDDEN", "Droits insuffisants pour cette action."),
    404: ("NOT_FOUND", "Ressource introuvable."),
    405: ("METHOD_NOT_ALLOWED", "Méthode non autorisée pour cette ressource."),
    409: ("CONFLICT", "Conflit avec l'état actuel de la ressource."),
    413: ("PAYLOAD_TOO_LARGE", "Requête trop volumineuse."),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Le corps doit être du JSON (Content-Type: application/json)."),
    422: ("VALIDATION_ERROR", "Données invalides."),
    429: ("RATE_LIMITED", "Trop de requêtes, réessayez plus tard."),
    500: ("INTERNAL_ERROR", "Erreur interne du serveur."),
    503: ("SERVICE_UNAVAILABLE", "Service temporairement indisponible."),
}
STATUS_OF_KIND = {"invalid": 422, "bad_request": 400, "forbidden": 403, "not_found": 404, "conflict": 409}

ERROR_TITLES = {
    400: "Requête invalide",
    403: "Accès refusé",
    404: "Page introuvable",
    405: "Méthode non autorisée",
    409: "Action impossible",
    413: "Fichier ou formulaire trop volumineux",
    422: "Données invalides",
    429: "Trop de tentatives",
    500: "Erreur interne",
    503: "Service indisponible",
}
ERROR_TEXTS = {
    400: "La requête n'a pas pu être traitée. Vérifiez les données saisies puis réessayez.",
    403: "Vous n'avez pas les droits nécessaires pour accéder à cette page.",
    404: "La page demandée n'existe pas ou n'est pas accessible à votre organisation.",
    405: "Cette action n'est pas disponible de cette manière.",
    413: "Les données envoyées dépassent la taille autorisée.",
    429: "Trop de tentatives en peu de temps. Patientez avant de réessayer.",
    500: "Une erreur inattendue s'est produite. L'équipe technique a été informée.",
    503: "Un service nécessaire est momentanément indisponible. Réessayez dans un instant.",
}


class ApiError(Exception):
    """Raise from an API view to answer with the error envelope."""

    def __init__(self, status: int, code: str, message: str, details: dict | list | None = None, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.details, self.headers = status, code, message, details, headers


def status_of(exc: ServiceError) -> int:
    return STATUS_OF_KIND[exc.kind]


def ok(data=None, status: int = 200, headers=None):
    return jsonify({"success": True, "data": data}), status, headers or {}


def error_response(status: int, code: str | None = None, message: str | None = None, details=None, headers=None):
    default_code, default_message = HTTP_CODES.get(status, ("ERROR", "Erreur."))
    body = {"success": False, "error": {"code": code or default_code, "message": message or default_message}}
    if details is not None:
        body["error"]["details"] = details
    return jsonify(body), status, headers or {}


def json_body() -> dict:
    """The request's JSON object, or an ``ApiError`` in the envelope."""
    if not request.is_json:
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", HTTP_CODES[415][1])
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "INVALID_JSON", "Le corps de la requête n'est pas un JSON valide.")
    if not isinstance(data, dict):
        raise ApiError(400, "INVALID_JSON", "Le corps de la requête doit être un objet JSON.")
    return data


def is_api_request() -> bool:
    return request.path == "/api/v1" or request.path.startswith("/api/v1/")


def error_page(code: int, text: str | None = None, headers=None):
    """The French error page (or its htmx fragment) for this status."""
    template = "errors/_fragment.html" if request.headers.get("HX-Request") else "errors/error.html"
    return (render_template(template, code=code, title=ERROR_TITLES.get(code, "Erreur"),
                            text=text or ERROR_TEXTS.get(code, ERROR_TEXTS[400])), code, headers or {})


def render_error_page(exc: HTTPException):
    code = exc.code or 500
    text = ERROR_TEXTS.get(code, exc.description)
    if code == 400 and "CSRF" in (exc.description or ""):
        text = "Le formulaire a expiré ou n'est pas valide. Rechargez la page puis réessayez."
    headers = {}
    if code == 429 and exc.get_headers():
        headers = {k: v for k, v in exc.get_headers() if k == "Retry-After"}
    return error_page(code, text, headers)


def outage_response(exc: Exception):
    """503 for an unreachable service (:data:`OUTAGE_CLASSES`), page or envelope, with ``Retry-After``."""
    app = current_app
    message, name = outage_of(exc)
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the database itself may be the missing service
        db.session.remove()
    app.logger.error("%s injoignable (%s) sur %s %s", name, exc.__class__.__name__, request.method, request.path)
    g.retry_after = RETRY_AFTER_SECONDS
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if is_api_request():
        return error_response(503, "SERVICE_UNAVAILABLE", message, headers=headers)
    g._login_user = app.login_manager.anonymous_user()
    try:
        return error_page(503, headers=headers)
    except Exception:  # noqa: BLE001 - a template helper needing the missing service
        app.logger.exception("page 503 non rendue: page de secours")
        return FALLBACK_PAGE, 503, headers


def register_error_handlers(app) -> None:
    """API paths get the envelope; pages get the French error pages."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError):
        db.session.rollback()  # a refusal changes nothing
        status = status_of(exc)
        if is_api_request():
            return error_response(status, exc.code, exc.message, exc.as_details() or None)
        if status == 404:
            return error_page(404)  # another organisation's object is a missing one
        return error_page(status, exc.message)

    for cls in OUTAGE_CLASSES:
        app.register_error_handler(cls, outage_response)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if is_api_request():
            headers = dict(exc.get_headers()) if exc.code in (405, 429) else {}
            headers.pop("Content-Type", None)
            message = None
            if exc.code == 400 and "CSRF" in (exc.description or ""):
                return error_response(400, "CSRF_FAILED", "Jeton CSRF manquant ou invalide.")
            if exc.code == 429:
                message = "Trop de requêtes, réessayez plus tard."
            return error_response(exc.code or 500, message=message, headers=headers)
        return render_error_page(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        app.logger.exception("erreur non gérée sur %s %s", request.method, request.path)
        db.session.rollback()
        if is_api_request():
            return error_response(500)
        return render_error_page(InternalServerError())
