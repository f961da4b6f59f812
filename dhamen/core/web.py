"""Public pages shared by every role: home, error pages."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from dhamen.access.rbac import public

bp = Blueprint("web", __name__)

ERROR_TITLES = {
    400: "Requête invalide",
    403: "Accès refusé",
    404: "Page introuvable",
    405: "Méthode non autorisée",
    413: "Fichier ou formulaire trop volumineux",
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


def render_error_page(exc: HTTPException):
    code = exc.code or 500
    text = ERROR_TEXTS.get(code, exc.description)
    if code == 400 and "CSRF" in (exc.description or ""):
        text = "Le formulaire a expiré ou n'est pas valide. Rechargez la page puis réessayez."
    headers = {}
    if code == 429 and exc.get_headers():
        headers = {k: v for k, v in exc.get_headers() if k == "Retry-After"}
    template = "errors/_fragment.html" if request.headers.get("HX-Request") else "errors/error.html"
    return render_template(template, code=code, title=ERROR_TITLES.get(code, "Erreur"), text=text), code, headers


@bp.get("/")
@public
def index():
    if getattr(current_user, "is_authenticated", False):
        from dhamen.access.roles import home_endpoint

        return redirect(url_for(home_endpoint(current_user.role)))
    return render_template("index.html")


def body_limit(max_bytes: int):
    """Let one view accept a request body larger than ``MAX_CONTENT_LENGTH`` (e.g. a CSV upload)."""

    def decorator(view):
        view.max_content_length = max_bytes
        return view

    return decorator


def url_for_safe(endpoint: str, **values) -> str | None:
    """``url_for`` that answers None for an endpoint that is not registered."""
    from werkzeug.routing import BuildError

    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def register_template_helpers(app) -> None:
    from dhamen.access.roles import role_label
    from dhamen.domain.money import format_tnd

    app.add_template_global(url_for_safe, "url_for_safe")
    app.add_template_global(role_label, "role_label")
    app.add_template_global(lambda: app.extensions.get("dhamen.provider_nav", lambda: [])(), "provider_nav")
    app.add_template_filter(format_tnd, "tnd")

    @app.template_filter("date_fr")
    def _date_fr(value):
        return value.strftime("%d/%m/%Y") if value else ""

    @app.template_filter("datetime_fr")
    def _datetime_fr(value):
        if not value:
            return ""
        from zoneinfo import ZoneInfo

        return value.astimezone(ZoneInfo("Africa/Tunis")).strftime("%d/%m/%Y %H:%M")
