"""Keyset lists in a real browser: the history walks with « Plus anciennes » / « Plus récentes »,
a bad cursor is explained; the counter home and the insurer dashboard show their figures.

``DHAMEN_SCREENSHOTS=<folder>`` keeps screenshots (1280 px wide) of the pages there.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from auth_helpers import fast_web_session

from dhamen.core.sqltypes import new_id
from dhamen.extensions import db
from dhamen.models import Claim

pytestmark = pytest.mark.browser
SCREENSHOTS = os.environ.get("DHAMEN_SCREENSHOTS")


def _shot(pg, name: str) -> None:
    if SCREENSHOTS:
        pg.set_viewport_size({"width": 1280, "height": 900})
        pg.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


@pytest.fixture
def claims(shop):
    now = datetime.now(UTC)
    c = shop.contracts["active"]
    for n in range(40):
        at = now - timedelta(hours=n * 7)
        db.session.add(Claim(id=new_id(), type="pharmacy", contract_id=c.id, provider_id=shop.providers["pharmacist"].id,
                             adherent_id=c.adherent_id, insurer_id=c.insurer_id, care_date=at.date(),
                             total_amount=10_000 + n, covered_amount=8_000, copay_amount=2_000 + n,
                             status=("pending_review" if n % 9 == 0 else "approved"), created_at=at, updated_at=at))
    db.session.commit()
    return shop


def _ids(pg) -> list[str]:
    return re.findall(r'/pharmacie/demandes/([0-9A-Z]{26})"', pg.content())


def test_history_walks_back_and_forth_and_pages_show_figures(app, claims, page, live_server):
    page.goto("/connexion")
    client = app.test_client()
    fast_web_session(client, claims.users["pharmacist"])
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server}])

    page.goto("/pharmacie/")
    assert "Aujourd'hui" in page.locator("#figures-title").locator("xpath=../following-sibling::div[1]").inner_text()
    _shot(page, "keyset-counter-home")

    page.goto("/pharmacie/demandes")
    first = _ids(page)
    assert len(first) == 25 and "40 demandes." in page.content()
    _shot(page, "keyset-history-first")
    with page.expect_navigation():
        page.get_by_role("link", name="Plus anciennes →").click()
    second = _ids(page)
    assert len(second) == 15 and not set(first) & set(second)
    assert page.get_by_role("link", name="Plus anciennes →").count() == 0
    _shot(page, "keyset-history-second")
    with page.expect_navigation():
        page.get_by_role("link", name="← Plus récentes").click()
    assert _ids(page) == first

    page.goto("/pharmacie/demandes?avant=pas-un-curseur")
    assert "Position de pagination invalide ou périmée" in page.locator("[role=alert]").inner_text()
    assert len(_ids(page)) == 25
    _shot(page, "keyset-history-bad-cursor")
    since = (date.today() - timedelta(days=3)).isoformat()
    page.goto(f"/pharmacie/demandes?du={since}")
    assert "Classées par date de soins" in page.content()
    assert [p for p in page.csp_problems if "Content Security Policy" in p or "Error" in p] == []

    agent = app.test_client()
    fast_web_session(agent, claims.users["agentA"])
    cookie = agent.get_cookie(app.config["SESSION_COOKIE_NAME"])
    page.context.clear_cookies()
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server}])
    page.goto("/assureur/")
    text = " ".join(page.locator("main").inner_text().split())
    assert "Demandes aujourd'hui" in text and "pending_review" not in text
    _shot(page, "keyset-insurer-dashboard")
