"""Every route declares who may use it (SECURITY.md: access control)."""

from dhamen.access.rbac import access_of


def test_every_endpoint_declares_its_audience(app):
    undeclared = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        if access_of(view) is None:
            undeclared.append(f"{rule.rule} ({rule.endpoint})")
    assert undeclared == [], "routes sans déclaration d'accès: " + ", ".join(undeclared)


def test_no_state_change_on_get(app):
    """GET routes are read-only by convention: none is named like an action."""
    suspicious = [r.rule for r in app.url_map.iter_rules()
                  if "GET" in r.methods and any(w in r.rule for w in ("/delete", "/approve", "/reject", "/logout"))]
    assert suspicious == []
