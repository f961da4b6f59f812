"""History of the provider's own claims: filters, pagination, no national ID in the URL."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from claims_helpers import shop_fixture  # noqa: F401
from test_portal_support import add_claim, login, text

from dhamen.extensions import db


@pytest.fixture
def history(client, shop):
    """27 claims of the pharmacy (one rejected, dated 10 days ago) and one of its neighbour."""
    today = date.today()
    for n in range(27):
        rejected = n == 0
        add_claim(shop, "pharmacist", "active" if n % 3 else "unlimited", total=1_000 + n, covered=0 if rejected else 800,
                  status="rejected" if rejected else "approved",
                  care_date=today - timedelta(days=10 if rejected else 1))
    add_claim(shop, "pharmacist2", total=9_999, covered=0)
    db.session.commit()
    login(client, shop.users["pharmacist"])
    return client


def rows(page: str) -> list[str]:
    return re.findall(r'href="/pharmacie/demandes/([0-9A-Z]{26})" class="code claim-ref"', page)


def test_pagination_25_per_page_and_only_own_claims(history):
    first = text(history.get("/pharmacie/demandes"))
    assert "27 demandes." in first and len(rows(first)) == 25 and "Page 1 / 2" in first
    assert "9,999 TND" not in first  # the neighbour's claim
    second = text(history.get("/pharmacie/demandes?page=2"))
    assert len(rows(second)) == 2 and "Page 2 / 2" in second
    assert not set(rows(first)) & set(rows(second))
    assert history.get("/pharmacie/demandes?page=abc").status_code == 200


def test_filters_by_status_dates_and_name(history):
    rejected = text(history.get("/pharmacie/demandes?statut=rejected"))
    assert "1 demande." in rejected
    old = (date.today() - timedelta(days=10)).isoformat()
    assert "1 demande." in text(history.get(f"/pharmacie/demandes?du={old}&au={old}"))
    by_name = text(history.get("/pharmacie/demandes?adherent=nomunlimited"))
    assert "9 demandes." in by_name and "NomActive" not in by_name
    paged = text(history.get("/pharmacie/demandes?adherent=nomactive"))
    assert "18 demandes." in paged


def test_bad_filters_are_explained(history):
    page = text(history.get("/pharmacie/demandes?du=hier&statut=perdu"))
    assert "Date « hier » invalide (format jj/mm/aaaa)." in page and "Statut inconnu." in page
    assert "27 demandes." in page


def test_member_filter_refuses_a_national_id(history, shop):
    cin = shop.national_ids["active"]
    page = text(history.get(f"/pharmacie/demandes?adherent={cin}"))
    assert "Pour retrouver un adhérent par CIN, utilisez la recherche du comptoir" in page
    assert "27 demandes." in page  # not filtered by it
    assert f'value="{cin}"' not in page  # and not echoed back into the next URLs
    form = text(history.get("/pharmacie/demandes"))
    assert 'pattern=".*[^0-9 .\\-].*"' in form  # the browser refuses a bare number before sending it
