"""Every blueprint, registered in one place."""

from __future__ import annotations


def register_blueprints(app) -> None:
    from dhamen.access.auth import api as _auth_api  # noqa: F401  (routes on api_bp)
    from dhamen.access.auth.views import bp as auth_bp
    from dhamen.admin.views import bp as admin_bp
    from dhamen.claims import api as _claims_api  # noqa: F401
    from dhamen.core.api import bp as api_bp
    from dhamen.core.api import register_error_handlers
    from dhamen.core.health import health_bp
    from dhamen.core.web import bp as web_bp
    from dhamen.extensions import csrf
    from dhamen.insurer import api as _insurer_api  # noqa: F401  (routes on api_bp)
    from dhamen.insurer.views import bp as insurer_bp

    for blueprint in (web_bp, auth_bp, admin_bp, insurer_bp, health_bp):
        app.register_blueprint(blueprint)
    from dhamen.counter.portals import register as register_portals
    register_portals(app)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # the JSON API authenticates with Bearer tokens, never with cookies
    register_error_handlers(app)
