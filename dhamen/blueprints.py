"""Every blueprint, registered in one place."""

from __future__ import annotations

from dhamen.access.auth import api as auth_api
from dhamen.access.auth.views import bp as auth_bp
from dhamen.admin.views import bp as admin_bp
from dhamen.apidoc import views as apidoc_views
from dhamen.claims import api as claims_api
from dhamen.core.api import api_blueprint
from dhamen.core.health import health_bp
from dhamen.core.http import register_error_handlers
from dhamen.core.web import bp as web_bp
from dhamen.counter.portals import register as register_portals
from dhamen.extensions import csrf
from dhamen.insurer import api as insurer_api
from dhamen.insurer.views import bp as insurer_bp
from dhamen.reconciliation import api as reconciliation_api
from dhamen.reconciliation.provider_views import register as register_statements
from dhamen.reconciliation.views import bp as reconciliation_bp
from dhamen.reconciliation.views import verify_bp

#: The JSON API's route tables, one per feature.
API_ROUTES = (auth_api.ROUTES, claims_api.ROUTES, insurer_api.ROUTES, reconciliation_api.ROUTES, apidoc_views.ROUTES)


def register_blueprints(app) -> None:
    for blueprint in (web_bp, auth_bp, admin_bp, insurer_bp, health_bp):
        app.register_blueprint(blueprint)
    register_portals(app)
    for blueprint in (reconciliation_bp, verify_bp):
        app.register_blueprint(blueprint)
    register_statements(app)
    api_bp = api_blueprint(*API_ROUTES)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # the JSON API authenticates with Bearer tokens, never with cookies
    register_error_handlers(app)
