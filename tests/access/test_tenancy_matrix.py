"""Every role against every object-level route, with another organisation's ids.

The routes are found by walking ``app.url_map``, so routes added later are
covered without touching this file.  For each rule with an id-style argument,
each foreign object that fits the argument's name (``claim_id`` → another
organisation's claims, ``user_id`` → its users…; an unrecognised name gets every
kind) is substituted, and each role's signed-in client (a browser session for
pages, a Bearer token for ``/api``) sends GET and the rule's other methods
(a CSRF-valid form for pages, JSON for the API).  The answer must be 403 or
404 (or, for pages, a redirect to the login page) and must not contain any
foreign identifier or name.  Argument-less GET routes (lists, dashboards) are
also fetched and must not show a foreign object.

ADMIN has no organisation (it manages all of them) and is not in the matrix.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from auth_helpers import (
    INSURER_ROLE_NAMES,
    PROVIDER_ROLE_TYPES,
    bearer,
    build_world,
    csrf_from,
    fast_api_token,
    fast_web_session,
    probe_app_fixture,  # noqa: F401
)
from werkzeug.routing import PathConverter, UnicodeConverter

ROLES = (*INSURER_ROLE_NAMES, *PROVIDER_ROLE_TYPES)
KINDS = ("claim", "item", "contract", "member", "reconciliation", "user", "provider", "insurer", "convention")
# Argument name fragment → kind of object (first match wins; "claim_item_id" is an item).
NAME_KINDS = (
    ("item", "item"), ("line", "item"), ("ligne", "item"),
    ("claim", "claim"), ("demande", "claim"), ("prise", "claim"),
    ("contract", "contract"), ("contrat", "contract"),
    ("member", "member"), ("adherent", "member"), ("adhérent", "member"),
    ("reconciliation", "reconciliation"), ("bordereau", "reconciliation"),
    ("user", "user"), ("utilisateur", "user"),
    ("provider", "provider"), ("prestataire", "provider"),
    ("insurer", "insurer"), ("assureur", "insurer"),
    ("convention", "convention"),
)
PER_KIND = 3  # foreign objects tried per argument kind (the first: same type, other organisation)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def kind_of(argument: str) -> str | None:
    name = argument.lower()
    for fragment, kind in NAME_KINDS:
        if fragment in name:
            return kind
    return None


def object_rules(app):
    """Rules with arguments that take an id (string-like converters)."""
    out, skipped = [], []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or not rule.arguments:
            continue
        converters = rule._converters  # noqa: SLF001
        if all(isinstance(converters[a], UnicodeConverter | PathConverter) for a in rule.arguments):
            out.append(rule)
        else:
            skipped.append(rule.rule)
    return out, skipped


def _spread(objs: list, n: int) -> list:
    if len(objs) <= n:
        return list(objs)
    step = len(objs) / n
    return [objs[int(i * step)] for i in range(n)]


def candidates(world, role: str, argument: str) -> list[str]:
    foreign = world.foreign(role)
    kind = kind_of(argument)
    if kind is not None:
        return [o.id for o in _spread(foreign[kind], PER_KIND)]
    out = []
    for k in KINDS:
        out += [o.id for o in _spread(foreign[k], 1)]
    return out


@dataclass
class Actor:
    role: str
    page: object  # test client with a browser session
    token: str  # API access token
    csrf: str


def make_actor(app, world, role) -> Actor:
    user = world.users[role]
    page = app.test_client()
    fast_web_session(page, user)
    r = page.get("/compte")
    assert r.status_code == 200, f"{role}: the session does not work"
    return Actor(role, page, fast_api_token(user), csrf_from(r.get_data(as_text=True)))


def _refusal_ok(path: str, r) -> bool:
    if r.status_code in (403, 404):
        if path.startswith("/api/"):
            body = r.get_json(silent=True)
            return isinstance(body, dict) and body.get("success") is False
        return True
    if not path.startswith("/api/") and r.status_code in (301, 302, 303):
        return urlsplit(r.headers.get("Location", "")).path == "/connexion"
    return False


def send(actor: Actor, path: str, method: str):
    if path.startswith("/api/"):
        kwargs = {"headers": bearer(actor.token)}
        if method != "GET":
            kwargs["json"] = {}
        return actor.page.open(path, method=method, **kwargs)
    kwargs = {"headers": {"X-CSRFToken": actor.csrf}}
    if method != "GET":
        kwargs["data"] = {"csrf_token": actor.csrf}
    return actor.page.open(path, method=method, **kwargs)


def probe_object_routes(app, world, actors, only=None) -> tuple[list[str], int, set[str]]:
    """Every (role, rule, foreign id, method); returns the problems, the number of requests and
    the rules exercised (``only``: a predicate on the rule's path, to probe a subset)."""
    rules, _skipped = object_rules(app)
    rules = [r for r in rules if only is None or only(r.rule)]
    problems, sent, exercised = [], 0, set()
    for actor in actors:
        markers = world.foreign_markers(actor.role)
        for rule in rules:
            cands = {a: candidates(world, actor.role, a) for a in sorted(rule.arguments)}
            if any(not c for c in cands.values()):
                continue  # no foreign object of that kind for this role (e.g. members at the counter)
            methods = [m for m in METHODS if m in (rule.methods or ())]
            for i in range(max(len(c) for c in cands.values())):
                values = {a: c[i % len(c)] for a, c in cands.items()}
                path = rule.build(values, append_unknown=False)[1]
                for method in methods:
                    r = send(actor, path, method)
                    sent += 1
                    exercised.add(rule.rule)
                    body = r.get_data(as_text=True)
                    leaked = [m for m in markers if m in body]
                    if not _refusal_ok(path, r) or leaked:
                        problems.append(f"{actor.role} {method} {path} -> {r.status_code}"
                                        + (f" leaks {leaked[:3]}" if leaked else ""))
    return problems, sent, exercised


def probe_lists(app, world, actors, only=None) -> tuple[list[str], int]:
    """Argument-less GET routes (lists, dashboards, searches without query) show nothing foreign.

    A page that crashes (5xx) shows nothing either; it is reported as a warning (its
    owner's tests catch it), since this test is about leaks.
    """
    problems, sent = [], 0
    rules = [r for r in app.url_map.iter_rules()
             if not r.arguments and "GET" in (r.methods or ()) and r.endpoint not in ("static",)
             and (only is None or only(r.rule))]
    for actor in actors:
        markers = world.foreign_markers(actor.role)
        for rule in rules:
            r = send(actor, rule.rule, "GET")
            sent += 1
            body = r.get_data(as_text=True)
            leaked = [m for m in markers if m in body]
            if leaked:
                problems.append(f"{actor.role} GET {rule.rule} -> {r.status_code} leaks {leaked[:3]}")
            elif r.status_code >= 500:
                warnings.warn(f"{actor.role} GET {rule.rule} -> {r.status_code}: not checked for leaks",
                              stacklevel=1)
    return problems, sent


@pytest.fixture
def matrix(app, ctx):
    world = build_world()
    actors = [make_actor(app, world, role) for role in ROLES]
    return world, actors


def test_kind_of_argument_names():
    assert kind_of("claim_id") == "claim"
    assert kind_of("claim_item_id") == "item"
    assert kind_of("user_id") == "user"
    assert kind_of("reconciliation_id") == "reconciliation"
    assert kind_of("adherent_id") == kind_of("member_id") == "member"
    assert kind_of("id") is None


def test_foreign_sets_are_what_the_fixture_promises(matrix):
    world, _actors = matrix
    for role in ROLES:
        foreign = world.foreign(role)
        assert foreign["claim"] and foreign["user"] and foreign["reconciliation"] and foreign["convention"], role
    for role in INSURER_ROLE_NAMES:
        assert world.foreign(role)["member"] and world.foreign(role)["contract"]
        assert len(world.foreign(role)["claim"]) == 8
    for role in PROVIDER_ROLE_TYPES:
        assert len(world.foreign(role)["claim"]) == 14  # 16 claims, 2 at the user's provider
        assert world.foreign(role)["provider"]


def test_every_role_is_refused_every_foreign_object(app, matrix):
    world, actors = matrix
    rules, skipped = object_rules(app)
    assert any(r.endpoint == "admin.deactivate" for r in rules), "the matrix must see the routes"
    assert skipped == [], f"routes with non-id converters, not covered: {skipped}"
    problems, sent, exercised = probe_object_routes(app, world, actors)
    assert exercised == {r.rule for r in rules}, "every object route is tried by at least one role"
    assert sent >= len(ROLES) * len(rules)
    assert problems == [], "\n".join(problems)
    for actor in actors:
        assert actor.page.get("/compte").status_code == 200, f"{actor.role} lost its session during the matrix"


def test_lists_never_show_foreign_objects(app, matrix):
    world, actors = matrix
    problems, sent = probe_lists(app, world, actors)
    assert sent > 0
    assert problems == [], "\n".join(problems)


# --- the matrix can fail: a leaky route is caught ------------------------------------------------

def _leaky_routes(application):
    from flask import jsonify

    from dhamen.access.rbac import require_role
    from dhamen.extensions import db
    from dhamen.models import Claim, User

    @application.get("/api/v1/_leak/claims/<claim_id>", endpoint="leak_api_claim")
    @require_role()
    def _api_claim(claim_id):
        claim = db.session.get(Claim, claim_id)  # no tenant scoping: the bug the matrix must catch
        return jsonify({"success": True, "data": {"id": claim.id, "notes": claim.notes}})

    @application.get("/_leak/users/<user_id>", endpoint="leak_page_user")
    @require_role()
    def _page_user(user_id):
        return db.session.get(User, user_id).email

    @application.get("/_leak/list", endpoint="leak_list")
    @require_role()
    def _list():
        return ", ".join(c.notes for c in db.session.query(Claim).all())


def test_the_matrix_catches_a_route_without_scoping(probe_app, ctx):
    application = probe_app(register=_leaky_routes)
    with application.app_context():
        world = build_world()
        actors = [make_actor(application, world, role) for role in ("INSURER_AGENT", "PHARMACIST")]
        subset = lambda path: "_leak" in path or path.startswith("/admin/")  # noqa: E731
        problems, _, _ = probe_object_routes(application, world, actors, only=subset)
        list_problems, _ = probe_lists(application, world, actors, only=subset)
    assert any("/api/v1/_leak/claims/" in p and "-> 200" in p for p in problems)
    assert any("/_leak/users/" in p and "leaks" in p for p in problems)
    assert any("/_leak/list" in p and "leaks" in p for p in list_problems)
    assert not any("/admin/" in p for p in problems)



# --- no state change on GET ---------------------------------------------------------------------------

def _snapshot():
    import sqlalchemy as sa

    from dhamen.extensions import db
    from dhamen.models import AuditLog, User

    db.session.expire_all()
    counts = {t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t))
              for t in db.metadata.sorted_tables if t.name != "audit_logs"}
    users = {u.id: (u.is_active, u.session_version, u.mfa_enabled, u.role, u.password_hash)
             for u in db.session.scalars(sa.select(User))}
    # Audited reads: refusals, and member lookups (loi 2004-63: who looked up whom).
    actions = sorted(a for a in db.session.scalars(sa.select(AuditLog.action))
                     if a not in ("authz.denied", "member.lookup"))
    return counts, users, actions


def test_get_changes_nothing(app, matrix):
    """Every GET route, for every role (ADMIN too), with own and foreign ids: no row written."""
    world, actors = matrix
    actors = [*actors, make_actor_admin(app, world)]
    ids = {k: [o.id for o in objs][:1] for k, objs in world.foreign("INSURER_AGENT").items()}
    ids.update({"provider": [world.providers[("pharmacist", 1)].id], "member": [world.members["A"].id]})
    before = _snapshot()
    sent = 0
    for actor in actors:
        for rule in app.url_map.iter_rules():
            if rule.endpoint == "static" or "GET" not in (rule.methods or ()):
                continue
            values = {}
            for a in rule.arguments:
                kind = kind_of(a)
                values[a] = (ids.get(kind) or [world.claims[("A", "pharmacist", 1)].id])[0]
            path = rule.build(values, append_unknown=False)[1] if rule.arguments else rule.rule
            send(actor, path, "GET")
            sent += 1
    assert sent > len(actors)
    assert _snapshot() == before


def make_actor_admin(app, world) -> Actor:
    world.users.setdefault("ADMIN", world.admin)
    return make_actor(app, world, "ADMIN")
