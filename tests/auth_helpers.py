"""Helpers and fixtures for the auth, tenancy and security tests.

Import the fixtures a test module needs explicitly, by their function name, e.g.
``from auth_helpers import world_fixture`` makes the fixture ``world`` available.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer

import pyotp
import pytest
from sqlalchemy import select

PASSWORD = "Correct-Horse-Battery-42"  # 24 chars, not a common password
STEP = 30


# --- users -------------------------------------------------------------------------------

def make_user(role: str, *, email: str | None = None, insurer=None, provider=None, mfa: bool = False,
              phone: str | None = None, password: str = PASSWORD, first_name: str = "Test",
              last_name: str | None = None, commit: bool = True):
    from dhamen.access.auth.passwords import hash_password
    from dhamen.extensions import db
    from dhamen.models import User

    email = email or f"{role.lower()}.{_seq()}@exemple.tn"
    user = User(email=email, role=role, first_name=first_name, last_name=last_name or role.title(),
                password_hash=hash_password(password), phone=phone,
                insurer_id=getattr(insurer, "id", insurer), provider_id=getattr(provider, "id", provider))
    if mfa:
        user.mfa_secret = pyotp.random_base32()
        user.mfa_enabled = True
    db.session.add(user)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return user


_counter = [0]


def _seq() -> int:
    _counter[0] += 1
    return _counter[0]


def make_insurer(code: str, name: str | None = None):
    from dhamen.extensions import db
    from dhamen.models import Insurer

    insurer = Insurer(code=code, name=name or f"Assureur {code}", config_json={})
    db.session.add(insurer)
    db.session.flush()
    return insurer


def make_provider(kind: str, name: str):
    from dhamen.extensions import db
    from dhamen.models import Provider

    provider = Provider(type=kind, name=name, license_no=f"LIC-{name}", address="1 rue de Test", city="Tunis")
    db.session.add(provider)
    db.session.flush()
    return provider


def org_for(role: str):
    """An insurer or provider suitable for ``role`` (None for ADMIN), created on the fly."""
    from dhamen.access.roles import INSURER_ROLES, ROLE_PROVIDER_TYPE

    if role in INSURER_ROLES:
        return {"insurer": make_insurer(f"I{_seq()}")}
    if role in ROLE_PROVIDER_TYPE:
        return {"provider": make_provider(ROLE_PROVIDER_TYPE[role], f"Prov{_seq()}")}
    return {}


def user_for_role(role: str, **kwargs):
    return make_user(role, **org_for(role), **kwargs)


def totp_code(user, *, now: float | None = None) -> str:
    """A valid TOTP code of a step the user has not used yet (current step ±1).

    The current step comes first, then the next one: a code of the previous step could
    expire between here and the server if a step boundary passes.
    """
    from dhamen.extensions import db

    db.session.refresh(user)
    now = time.time() if now is None else now
    current = int(now // STEP)
    for step in (current, current + 1, current - 1):
        if user.mfa_last_step is None or step > user.mfa_last_step:
            return pyotp.TOTP(user.mfa_secret).at(step * STEP)
    raise AssertionError("every TOTP step of the window is already used")


def set_mfa_required(roles) -> None:
    from dhamen.access.auth import mfa
    from dhamen.extensions import db

    mfa.set_required_roles(set(roles))
    db.session.commit()


class SmsGateway:
    """A local HTTP SMS gateway that records what it is sent."""

    def __init__(self):
        self.requests = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gateway.requests.append({"auth": self.headers.get("Authorization"), "json": json.loads(body),
                                         "type": self.headers.get("Content-Type")})
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --- HTTP helpers ------------------------------------------------------------------------

def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def page_csrf(client, path: str = "/connexion") -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def api_login(client, email: str, password: str = PASSWORD, user=None, **kw) -> dict:
    """Full API login (with the TOTP step when asked); returns the token pair."""
    r = client.post("/api/v1/auth/login", json={"email": email, "password": password}, **kw)
    assert r.status_code == 200, r.get_json()
    data = r.get_json()["data"]
    if data.get("requiresMfa"):
        assert user is not None, "MFA asked: pass the user to compute a TOTP code"
        r = client.post("/api/v1/auth/mfa/verify", json={"mfaToken": data["mfaToken"], "otpCode": totp_code(user)},
                        **kw)
        assert r.status_code == 200, r.get_json()
        data = r.get_json()["data"]
    assert {"accessToken", "refreshToken"} <= set(data)
    return data


def web_login(client, email: str, password: str = PASSWORD, user=None, **kw):
    """Full portal login (password, then TOTP when asked); returns the last response."""
    token = page_csrf(client)
    r = client.post("/connexion", data={"email": email, "password": password, "csrf_token": token}, **kw)
    if r.status_code == 302 and r.headers["Location"].endswith("/connexion/mfa"):
        assert user is not None, "MFA asked: pass the user to compute a TOTP code"
        token = page_csrf(client, "/connexion/mfa")
        r = client.post("/connexion/mfa", data={"code": totp_code(user), "csrf_token": token}, **kw)
    return r


def fast_web_session(client, user) -> str:
    """Sign a client in without going through the login pages (for matrix tests)."""
    from flask import current_app

    from dhamen.access.auth import sessions

    sid = sessions.create(user, "web", current_app.config["DHAMEN"].session_idle_minutes * 60)
    with client.session_transaction() as sess:
        sess.clear()
        sess["sid"] = sid
        sess["_user_id"] = user.id
        sess["_fresh"] = True
    return sid


def fast_api_token(user) -> str:
    from dhamen.access.auth import tokens

    return tokens.issue(user).access_token


def audit_rows(action: str | None = None):
    from dhamen.extensions import db
    from dhamen.models import AuditLog

    db.session.expire_all()
    stmt = select(AuditLog).order_by(AuditLog.created_at, AuditLog.id)
    if action:
        stmt = stmt.where(AuditLog.action == action)
    return db.session.scalars(stmt).all()


def audit_dump() -> str:
    """Every audit row as one string (to search for secrets)."""
    out = []
    for row in audit_rows():
        out.append(json.dumps({c.name: str(getattr(row, c.key)) for c in row.__table__.columns}
                              | {"changes": row.changes_json}, ensure_ascii=False, default=str))
    return "\n".join(out)


def location_path(response) -> str:
    from urllib.parse import urlsplit

    return urlsplit(response.headers.get("Location", "")).path


# --- two organisations of each kind, with data -----------------------------------------

INSURER_ROLE_NAMES = ("INSURER_ADMIN", "INSURER_AGENT")
PROVIDER_ROLE_TYPES = {"PHARMACIST": "pharmacist", "DOCTOR": "doctor", "LAB_MANAGER": "lab",
                       "CLINIC_ADMIN": "clinic"}
CLAIM_TYPE = {"pharmacist": "pharmacy", "doctor": "consultation", "lab": "lab", "clinic": "hospitalization"}


@dataclass
class World:
    """Insurers A and B; providers P1 and P2 of each type; members, contracts, claims
    (with items), reconciliations, conventions and users of every organisation.

    The signed-in users (``users[role]``) belong to insurer A or to the P1 provider of
    their type.  Every object has a unique marker in a visible text field, so a test can
    check that no foreign one appears in a page.
    """

    insurers: dict = field(default_factory=dict)  # "A"/"B" -> Insurer
    providers: dict = field(default_factory=dict)  # ("pharmacist", 1) -> Provider
    members: dict = field(default_factory=dict)  # "A"/"B"/"AB" -> Adherent
    contracts: dict = field(default_factory=dict)  # "A"/"B" -> Contract
    claims: dict = field(default_factory=dict)  # (insurer key, provider type, n) -> Claim
    items: dict = field(default_factory=dict)  # same key -> ClaimItem
    reconciliations: dict = field(default_factory=dict)  # "A"/"B" -> Reconciliation
    conventions: dict = field(default_factory=dict)  # (insurer key, provider type, n) -> Convention
    users: dict = field(default_factory=dict)  # role -> User (own organisation)
    foreign_users: dict = field(default_factory=dict)  # label -> User of another organisation
    admin: object = None
    markers: dict = field(default_factory=dict)  # object id -> marker text

    def own_org(self, role: str):
        if role in INSURER_ROLE_NAMES:
            return ("insurer", self.insurers["A"].id)
        if role in PROVIDER_ROLE_TYPES:
            return ("provider", self.providers[(PROVIDER_ROLE_TYPES[role], 1)].id)
        return (None, None)

    def foreign(self, role: str) -> dict[str, list]:
        """Objects ``role``'s organisation must never see, by kind."""
        kind, org = self.own_org(role)
        out: dict[str, list] = {k: [] for k in ("claim", "item", "contract", "member", "reconciliation", "user",
                                                "provider", "insurer", "convention")}
        if kind == "insurer":
            for key, claim in self.claims.items():
                if claim.insurer_id != org:
                    out["claim"].append(claim)
                    out["item"].append(self.items[key])
            out["contract"] = [c for c in self.contracts.values() if c.insurer_id != org]
            out["member"] = [self.members["B"]]
            out["reconciliation"] = [r for r in self.reconciliations.values() if r.insurer_id != org]
            out["insurer"] = [self.insurers["B"]]
            out["convention"] = [c for c in self.conventions.values() if c.insurer_id != org]
            out["user"] = [u for u in self.all_users() if u.insurer_id != org]
        elif kind == "provider":
            for key, claim in self.claims.items():
                if claim.provider_id != org:
                    out["claim"].append(claim)
                    out["item"].append(self.items[key])
            mine = {c.reconciliation_id for c in self.claims.values() if c.provider_id == org}
            out["reconciliation"] = [r for r in self.reconciliations.values() if r.id not in mine]
            out["provider"] = [p for p in self.providers.values() if p.id != org]
            out["convention"] = [c for c in self.conventions.values() if c.provider_id != org]
            out["user"] = [u for u in self.all_users() if u.provider_id != org]
        return out

    def all_users(self):
        return [*self.users.values(), *self.foreign_users.values(), self.admin]

    def foreign_markers(self, role: str) -> list[str]:
        """Identifiers and unique names of the foreign objects (never in a page of ``role``)."""
        out = []
        for objs in self.foreign(role).values():
            for obj in objs:
                out.append(obj.id)
                if obj.id in self.markers:
                    out.append(self.markers[obj.id])
        return out


def build_world():
    from dhamen.access.auth.passwords import hash_password
    from dhamen.extensions import db
    from dhamen.models import Adherent, Claim, ClaimItem, Contract, Convention, Reconciliation, User

    w = World()
    pw = hash_password(PASSWORD)
    for key in ("A", "B"):
        w.insurers[key] = make_insurer(f"INS{key}", f"Assureur Zq{key}")
        w.markers[w.insurers[key].id] = f"Assureur Zq{key}"
    for ptype in PROVIDER_ROLE_TYPES.values():
        for n in (1, 2):
            name = f"Prestataire Zq{ptype}{n}"
            w.providers[(ptype, n)] = make_provider(ptype, name)
            w.markers[w.providers[(ptype, n)].id] = name
    for key in ("A", "B"):
        m = Adherent(national_id=f"{'12345678' if key == 'A' else '87654321'}", first_name="Membre",
                     last_name=f"Zqmembre{key}", date_of_birth=date(1980, 1, 1), gender="M", phone="+216 20 000 000")
        db.session.add(m)
        db.session.flush()
        w.members[key] = m
        w.markers[m.id] = f"Zqmembre{key}"
        c = Contract(insurer_id=w.insurers[key].id, adherent_id=m.id, contract_number=f"ZQCT-{key}-0001",
                     plan_type="individual", start_date=date(2020, 1, 1), end_date=date(2040, 1, 1),
                     coverage_json={t: {"rate": 80} for t in CLAIM_TYPE.values()}, exclusions_json=[])
        db.session.add(c)
        db.session.flush()
        w.contracts[key] = c
        w.markers[c.id] = f"ZQCT-{key}-0001"
        r = Reconciliation(insurer_id=w.insurers[key].id, period_start=date(2026, 1, 1), period_end=date(2026, 1, 31),
                           total_claims=0, total_amount=0, total_covered=0, total_net_payable=0, status="generated")
        db.session.add(r)
        db.session.flush()
        w.reconciliations[key] = r
    for key in ("A", "B"):
        for (ptype, n), provider in w.providers.items():
            note = f"Zqnote-{key}-{ptype}-{n}"
            # Reconciliation A holds A's claims at the P1 providers; B holds B's claims at the P2s.
            rec = w.reconciliations[key] if (key, n) in (("A", 1), ("B", 2)) else None
            claim = Claim(type=CLAIM_TYPE[ptype], contract_id=w.contracts[key].id, provider_id=provider.id,
                          adherent_id=w.members[key].id, insurer_id=w.insurers[key].id, care_date=date(2026, 1, 10),
                          total_amount=10_000, covered_amount=8_000, copay_amount=2_000, status="approved",
                          reconciliation_id=rec.id if rec else None, notes=note)
            db.session.add(claim)
            db.session.flush()
            item = ClaimItem(claim_id=claim.id, code=f"ZQ{n}", label=f"Zqitem-{key}-{ptype}-{n}", quantity=1,
                             unit_price=10_000, line_total=10_000, covered_amount=8_000, copay_amount=2_000)
            db.session.add(item)
            conv = Convention(insurer_id=w.insurers[key].id, provider_id=provider.id,
                              bareme_json={"version": f"Zqconv-{key}-{ptype}-{n}", "tariffs": {}},
                              start_date=date(2026, 1, 1))
            db.session.add(conv)
            db.session.flush()
            w.claims[(key, ptype, n)] = claim
            w.items[(key, ptype, n)] = item
            w.conventions[(key, ptype, n)] = conv
            w.markers[claim.id] = note
            w.markers[item.id] = f"Zqitem-{key}-{ptype}-{n}"

    def user(role, label, insurer=None, provider=None):
        u = User(email=f"{label.lower()}@zq.tn", role=role, first_name="Zq", last_name=f"Zquser{label}",
                 password_hash=pw, insurer_id=insurer.id if insurer else None,
                 provider_id=provider.id if provider else None)
        db.session.add(u)
        db.session.flush()
        w.markers[u.id] = f"{label.lower()}@zq.tn"
        return u

    w.admin = user("ADMIN", "admin")
    for role in INSURER_ROLE_NAMES:
        w.users[role] = user(role, f"{role}-A", insurer=w.insurers["A"])
        w.foreign_users[f"{role}-B"] = user(role, f"{role}-B", insurer=w.insurers["B"])
    for role, ptype in PROVIDER_ROLE_TYPES.items():
        w.users[role] = user(role, f"{role}-1", provider=w.providers[(ptype, 1)])
        w.foreign_users[f"{role}-2"] = user(role, f"{role}-2", provider=w.providers[(ptype, 2)])
    db.session.commit()
    return w


@pytest.fixture(name="world")
def world_fixture(ctx):
    return build_world()


# --- an app with extra probe routes (routes cannot be added to the shared app once it served) ---

def _register_probe_routes(app) -> None:
    from flask import render_template_string

    from dhamen.access.rbac import require_role
    from dhamen.core.http import ok

    @app.get("/api/v1/_probe/admin", endpoint="probe_api_admin")
    @require_role("ADMIN")
    def _api_admin():
        return ok({"probe": "admin"})

    @app.get("/api/v1/_probe/insurer", endpoint="probe_api_insurer")
    @require_role("INSURER_ADMIN", "INSURER_AGENT")
    def _api_insurer():
        return ok({"probe": "insurer"})

    @app.get("/_probe/admin", endpoint="probe_page_admin")
    @require_role("ADMIN")
    def _page_admin():
        return render_template_string("admin only")

    @app.post("/_probe/action", endpoint="probe_page_action")
    @require_role()
    def _page_action():
        return render_template_string("done")


@pytest.fixture(name="probe_app")
def probe_app_fixture(app_env):
    """A second app on the same database, with probe routes added before its first request."""
    from dhamen import create_app
    from dhamen.extensions import db

    made = []

    def factory(register=None, **overrides):
        application = create_app(dict(app_env, **overrides))
        application.config.update(TESTING=True)
        _register_probe_routes(application)
        if register is not None:
            register(application)
        made.append(application)
        return application

    yield factory
    for application in made:
        with application.app_context():
            db.session.remove()
            application.extensions["dhamen.services"].redis.flushdb()
            db.engine.dispose()


@pytest.fixture(name="app_logs")
def app_logs_fixture(caplog):
    """Capture the app's own logs.

    Alembic's ``fileConfig`` (run by the migrations in the ``app`` fixture) disables
    every logger that existed then, ``dhamen`` included: without re-enabling them a
    test of what the app logs would see nothing.
    """
    import logging

    names = [n for n in logging.root.manager.loggerDict if n == "dhamen" or n.startswith("dhamen.")]
    loggers = [logging.getLogger(n) for n in {"dhamen", "dhamen.sms", *names}]
    saved = [(lg, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.disabled = False
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="dhamen")
    yield caplog
    for lg, disabled in saved:
        lg.disabled = disabled
