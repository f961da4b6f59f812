"""History of the provider's own claims: filters, pagination, no national ID in the URL."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
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


def _link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    return found.group(1).replace("&amp;", "&") if found else None


def test_pagination_25_per_page_and_only_own_claims(history, shop):
    first = text(history.get("/pharmacie/demandes"))
    assert "27 demandes." in first and len(rows(first)) == 25
    assert "9,999 TND" not in first  # the neighbour's claim
    assert _link(first, "prev") is None and "avant=" in _link(first, "next")
    # A claim entered meanwhile neither repeats a row on the next page nor hides one.
    add_claim(shop, "pharmacist", total=4_242)
    db.session.commit()
    second = text(history.get(_link(first, "next")))
    assert len(rows(second)) == 2 and _link(second, "next") is None
    assert not set(rows(first)) & set(rows(second))
    back = text(history.get(_link(second, "prev")))
    assert rows(back) == rows(first) and "28 demandes." in back
    assert history.get("/pharmacie/demandes?page=abc").status_code == 200


def test_a_bad_cursor_is_explained_and_the_first_page_shown(history):
    for bad in ("abc", "W10.xyz", "a" * 1000):
        page = text(history.get(f"/pharmacie/demandes?avant={bad}&statut=approved"))
        assert "Position de pagination invalide ou périmée" in page
        assert len(rows(page)) == 25 and "26 demandes." in page
    assert "Position de pagination invalide" in text(history.get("/pharmacie/demandes?apres=abc"))
    nul = history.get("/pharmacie/demandes?avant=" + "%00" * 10)  # refused at the edge, in French
    assert nul.status_code == 400 and "avant" in text(nul).lower()


def test_cursor_keeps_the_filters(history):
    first = text(history.get("/pharmacie/demandes?adherent=nomactive&statut=approved"))
    assert "18 demandes." in first and len(rows(first)) == 18 and _link(first, "next") is None
    few = text(history.get("/pharmacie/demandes?statut=approved"))
    link = _link(few, "next")
    assert "statut=approved" in link
    assert len(rows(text(history.get(link)))) == 1


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


def test_member_filter_matching_too_many_members_asks_for_more_of_the_name(history, monkeypatch):
    """The members are found first, at most MEMBER_CAP of them: a name that matches more is refused
    with a French message (no walk of the pharmacy's history), the list shown unfiltered."""
    from dhamen.claims import listing

    monkeypatch.setattr(listing, "MEMBER_CAP", 1)
    page = text(history.get("/pharmacie/demandes?adherent=nom"))  # NomActive, NomUnlimited, …
    assert "Plus de 1 adhérents correspondent à « nom » : tapez davantage du nom" in page
    assert "27 demandes." in page
    one = text(history.get("/pharmacie/demandes?adherent=nomunlimited"))
    assert "9 demandes." in one and "tapez davantage" not in one
    assert "Aucune demande ne correspond." in text(history.get("/pharmacie/demandes?adherent=personne"))


@pytest.mark.parametrize("backwards_check", [False, True], ids=["forward", "and-back"])
def test_member_filter_pages_walk_without_skipping_or_repeating_while_claims_arrive(history, shop, backwards_check):
    """The member filter's two-step page (keys from the index, then rows by id): walking 5 at a time
    while the member's claims keep arriving sees every claim that was there exactly once, in order."""
    from dhamen.claims import listing

    user = shop.users["pharmacist"]
    filters = listing.ClaimFilters(member="nomactive")
    before = [c.id for c in listing.page(user, filters, per_page=100).rows]
    assert len(before) == 18
    seen, cursor, pages = [], None, []
    while True:
        page = listing.page(user, listing.ClaimFilters(member="nomactive"), cursor=cursor, per_page=5)
        assert all(c.adherent.last_name == "NomActive" for c in page.rows)
        seen += [c.id for c in page.rows]
        pages.append(page)
        add_claim(shop, "pharmacist", "active", total=7_777)  # newer: never on a later page
        db.session.commit()
        if not page.has_next:
            break
        cursor = page.next_cursor
    assert seen == before
    if backwards_check:
        back = listing.page(user, listing.ClaimFilters(member="nomactive"), cursor=pages[-1].prev_cursor,
                            backwards=True, per_page=5)
        assert [c.id for c in back.rows] == [c.id for c in pages[-2].rows]
