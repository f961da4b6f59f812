"""No page shows an internal value: every page of every role, rendered with the demo data
and generated claims, is read as a person reads it (text, and the attributes a screen
reader or a tooltip shows) and fails on a raw status, care type, role, provider type,
plan or reconciliation status.

Pages are found in the URL map, not listed here: a new page is checked as soon as it is
registered.  A URL argument ``<thing_id>`` is filled with a row of that model the user's
organisation can see; a new argument name needs a line in ``ARGUMENT_MODELS``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from auth_helpers import fast_web_session
from flask import url_for
from sqlalchemy import select

from dhamen.access.roles import ROLES
from dhamen.access.tenancy import scoped
from dhamen.domain import labels
from dhamen.domain.catalogue import CARE_TYPES, PROVIDER_CARE_TYPE
from dhamen.domain.eligibility import CONTRACT_STATUSES
from dhamen.domain.transitions import CLAIM_STATUSES, RECONCILIATION_STATUSES
from dhamen.extensions import db
from dhamen.models import (
    Adherent,
    Claim,
    Contract,
    Convention,
    Insurer,
    Provider,
    Reconciliation,
    ReconciliationRun,
    User,
)
from dhamen.seed.bulk import generate_claims
from dhamen.seed.demo import DEMO_USERS, seed_demo

#: Internal values that are also ordinary French words (a label may be the same word).
FRENCH_WORDS = {"active", "consultation"}
RAW_VALUES = ({*CLAIM_STATUSES, *RECONCILIATION_STATUSES, *CARE_TYPES, *PROVIDER_CARE_TYPE, *ROLES,
               *CONTRACT_STATUSES, *labels.PLAN_LABELS} - FRENCH_WORDS)
VISIBLE_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt", "aria-description"}
ARGUMENT_MODELS = {
    "claim_id": Claim, "contract_id": Contract, "adherent_id": Adherent, "member_id": Adherent,
    "user_id": User, "provider_id": Provider, "insurer_id": Insurer, "convention_id": Convention,
    "reconciliation_id": Reconciliation, "run_id": ReconciliationRun,
}
SKIPPED_PREFIXES = ("/api/", "/static/", "/health", "/deconnexion", "/logout")
#: Route arguments that are not database rows (an import's id lives in Redis, a reset link's
#: token is random): those pages are covered by their own tests.
NOT_ROWS = {"import_id", "token"}
_WORD = re.compile(r"[A-Za-z_]+")


class _VisibleText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self._hidden += 1
        for name, value in attrs:
            if name in VISIBLE_ATTRIBUTES and value:
                self.chunks.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.chunks.append(data)


def raw_values_in(html: str) -> set[str]:
    parser = _VisibleText()
    parser.feed(html)
    return {word for chunk in parser.chunks for word in _WORD.findall(chunk) if word in RAW_VALUES}


def test_the_scanner_sees_raw_values_in_text_and_titles_only():
    assert raw_values_in('<td><span class="badge pending_review">pending_review</span></td>') == {"pending_review"}
    assert raw_values_in('<abbr title="pharmacy">Ph.</abbr> (PHARMACIST)') == {"pharmacy", "PHARMACIST"}
    assert raw_values_in('<span class="badge pending_review" data-status="blocked">En attente</span>'
                         '<script>var s = "approved";</script>') == set()


def _pages(app):
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(SKIPPED_PREFIXES) or rule.endpoint == "static":
            continue
        yield rule


def _arguments(rule, user) -> dict | None:
    values = {}
    for name in rule.arguments:
        if name in NOT_ROWS:
            return None
        model = ARGUMENT_MODELS.get(name)
        if model is None:
            pytest.fail(f"{rule.rule}: argument « {name} » sans modèle dans ARGUMENT_MODELS")
        row = db.session.scalar(scoped(select(model), model, user).order_by(model.id).limit(1))
        if row is None:
            return None
        values[name] = row.id
    return values


@pytest.fixture
def seeded(ctx):
    seed_demo(members=30)
    generate_claims(400, progress=lambda _msg: None, seed=8)
    db.session.commit()


def test_no_page_of_any_role_shows_an_internal_value(app, seeded):
    seen: dict[str, int] = {}
    problems = []
    emails = {role: email for email, role, *_ in DEMO_USERS}
    for role, email in emails.items():
        user = db.session.scalar(select(User).where(User.email == email))
        client = app.test_client()
        fast_web_session(client, user)
        seen[role] = 0
        for rule in _pages(app):
            values = _arguments(rule, user)
            if values is None:
                continue
            with app.test_request_context():
                url = url_for(rule.endpoint, **values)
            response = client.get(url)
            if response.status_code != 200 or not response.mimetype.startswith("text/html"):
                continue
            seen[role] += 1
            found = raw_values_in(response.get_data(as_text=True))
            if found:
                problems.append(f"{role} {url}: {sorted(found)}")
    assert not problems, "\n".join(problems)
    # Every role saw its portal (not only the public pages and its account).
    assert all(count >= 4 for count in seen.values()), seen
