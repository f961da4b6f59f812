"""Counter home and insurer dashboard figures (dhamen.claims.figures): small, bounded aggregates."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from test_portal_support import login, text

from dhamen.claims import figures
from dhamen.core.sqltypes import new_id
from dhamen.extensions import db
from dhamen.models import Claim


def _add(shop, created_at, provider="pharmacist", status="approved", total=1_000, covered=800, contract="active"):
    c = shop.contracts[contract]
    db.session.add(Claim(id=new_id(), type="pharmacy", contract_id=c.id, provider_id=shop.providers[provider].id,
                         adherent_id=c.adherent_id, insurer_id=c.insurer_id, care_date=created_at.date(),
                         total_amount=total, covered_amount=covered, copay_amount=total - covered, status=status,
                         created_at=created_at, updated_at=created_at))


@pytest.fixture
def activity(shop):
    today = date(2026, 3, 17)
    midnight = datetime.combine(today, time.min).astimezone(UTC)
    _add(shop, midnight + timedelta(hours=9))                                   # today
    _add(shop, midnight + timedelta(hours=10), status="rejected", covered=0)    # today, not payable
    _add(shop, midnight + timedelta(hours=11), status="blocked", covered=700)   # today, blocked: not payable
    _add(shop, midnight - timedelta(days=3), total=5_000, covered=4_000)        # this month
    _add(shop, midnight - timedelta(days=20), total=9_000, covered=9_000)       # last month
    _add(shop, midnight + timedelta(hours=9), provider="pharmacist2", total=3_000, covered=2_000)  # another pharmacy
    _add(shop, midnight + timedelta(hours=9), status="pending_review")
    db.session.commit()
    return shop, today


def test_provider_figures_today_and_this_month(activity):
    shop, today = activity
    f = figures.period_figures(shop.users["pharmacist"], today)
    assert f.today == figures.Period(claims=4, total=4_000, covered=1_600)
    assert f.month == figures.Period(claims=5, total=9_000, covered=5_600)
    assert f.month_start == date(2026, 3, 1)


def test_insurer_figures_cover_all_its_providers(activity):
    shop, today = activity
    f = figures.period_figures(shop.users["agentA"], today)
    assert f.today.claims == 5 and f.today.covered == 3_600
    assert figures.period_figures(shop.users["agentB"], today).month.claims == 0


def test_pages_show_the_figures(app, client, shop):
    now = datetime.now(UTC)
    _add(shop, now, total=12_000, covered=10_000)
    _add(shop, now, status="pending_review")
    db.session.commit()
    login(client, shop.users["pharmacist"])
    home = " ".join(re.sub(r"<[^>]+>", "", text(client.get("/pharmacie/"))).split())
    assert "Aujourd'hui : 2 demandes" in home and "10,800 TND" in home
    # The insurer dashboard is the review portal's own (tests/insurer/test_dashboard.py).  # with the shop's own claim
