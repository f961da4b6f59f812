"""The JSON API under ``/api/v1`` and its envelope.

Every answer is ``{"success": true, "data": ...}`` or
``{"success": false, "error": {"code": ..., "message": ...}}`` — also for
404, 405, 413, 500 and malformed JSON.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from dhamen.extensions import limiter

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# API limits per token (or per IP before login), configurable per environment.
# Registered once, here: the limiter is shared by every app the process creates.
limiter.limit(lambda: current_app.config["RATELIMIT_API"])(bp)

HTTP_CODES = {
    400: ("BAD_REQUEST", "Requête invalide."),
    401: ("UNAUTHORIZED", "Authentification requise."),
    403: ("FORBIDDEN", "Insufficient permissions"),
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


class ApiError(Exception):
    """Raise from an API view to answer with the error envelope."""

    def __init__(self, status: int, code: str, message: str, details: dict | list | None = None, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.details, self.headers = status, code, message, details, headers


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


def register_error_handlers(app) -> None:
    """API paths get the envelope; pages get the French error pages."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

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
        from dhamen.core.web import render_error_page

        return render_error_page(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        app.logger.exception("erreur non gérée sur %s %s", request.method, request.path)
        from dhamen.extensions import db

        db.session.rollback()
        if is_api_request():
            return error_response(500)
        from werkzeug.exceptions import InternalServerError

        from dhamen.core.web import render_error_page

        return render_error_page(InternalServerError())

