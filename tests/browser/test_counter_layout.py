"""The counter in Chromium: codes typed at scanner speed fill every line, no counter page scrolls
sideways at 1024, 1280 and 1440 px (nor does a table overflow its card), French dates, a favicon,
and a pending claim's page that shows the insurer's decision without a reload.

``DHAMEN_SCREENSHOTS=<folder>`` keeps a 1280 px screenshot of every page checked.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from browser_helpers import ARGS, CHROMIUM
from playwright.sync_api import expect
from test_claims_counter import find_member, log_in, path_of, problems, wait_focus

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "counter"))
from test_portal_support import claims_of  # noqa: E402

pytestmark = pytest.mark.browser
SCREENSHOTS = os.environ.get("DHAMEN_SCREENSHOTS")
WIDTHS = (1024, 1280, 1440)

# Overflow: the page wider than the window, or a table / field sticking out of its card
# (a table inside a .table-scroll box scrolls on its own: allowed).
OVERFLOW = """() => {
  const out = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth) out.push(`page ${doc.scrollWidth} > ${window.innerWidth}`);
  for (const el of document.querySelectorAll("main table, main td, main th, main input, main .amounts, main .badge")) {
    if (el.closest(".table-scroll")) continue;
    const card = el.closest(".card, .receipt, .refusal");
    if (!card) continue;
    const r = el.getBoundingClientRect(), c = card.getBoundingClientRect();
    const content = el.scrollWidth > el.clientWidth + 1 && el.tagName !== "INPUT";  // text sticking out of a cell
    if ((r.width && r.right > c.right + 1) || content) out.push(`${el.tagName.toLowerCase()}.${el.className} in ${(el.closest("table") || {}).className} `
      + `${Math.round(r.right)}/${Math.round(c.right)} content ${el.scrollWidth}>${el.clientWidth}: ${el.innerHTML.slice(0, 80)}`);
  }
  return out;
}"""


@pytest.fixture(scope="module")
def browser():
    """A French Chromium (``--lang=fr-FR``, Debian's chromium-l10n): its date fields read jj/mm/aaaa."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} absent (installez le paquet chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM,
                                     args=[*ARGS, "--lang=fr-FR"],
                                     env={**os.environ, "LANGUAGE": "fr", "LANG": "fr_FR.UTF-8"})
        yield instance
        instance.close()


def check_layout(pg, name: str) -> None:
    for width in WIDTHS:
        pg.set_viewport_size({"width": width, "height": 900})
        pg.wait_for_timeout(50)
        assert pg.evaluate(OVERFLOW) == [], f"{name} at {width} px"
        if width == 1280 and SCREENSHOTS:
            pg.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)
    pg.set_viewport_size({"width": 1280, "height": 900})


def enter_lines(pg, codes) -> None:
    """Each code typed in the next line's code field, its price awaited, then a new line."""
    for uid, code in enumerate(codes):
        wait_focus(pg, f'[name="lines-{uid}-code"]')
        pg.keyboard.type(code, delay=0)
        pg.keyboard.press("Enter")
        wait_focus(pg, f'[name="lines-{uid}-qty"]')
        expect(pg.locator(f'[name="lines-{uid}-price"]')).not_to_have_value("")
        pg.locator("[data-add-line]").click()


def test_codes_typed_at_scanner_speed_fill_every_line(shop, page):
    """The suggestions list is emptied and stays empty: only the server's resolution of the
    exact code can fill the lines, typed with no delay between keys and Entrée at once."""
    pg = page
    pg.route(lambda url: "/catalogue?" in url, lambda route: route.fulfill(
        status=200, content_type="text/html", body='<datalist id="catalogue-options"></datalist>'))
    log_in(pg, shop.users["pharmacist"].email, "/pharmacie/")
    find_member(pg, shop.national_ids["active"])
    pg.evaluate("document.getElementById('catalogue-options').innerHTML = ''")
    codes = {"PH0001": ("Amoxicilline 1 g cp B/12", "5,000"),  # convention tariff, not the 5,600 reference
             "PH0009": (None, "2,100"), "PH0041": (None, None), "PH0050": (None, None), "PH0010": (None, "1,350")}
    from dhamen.domain import catalogue

    for uid, code in enumerate(codes):
        wait_focus(pg, f'[name="lines-{uid}-code"]')
        pg.keyboard.type(code, delay=0)
        pg.keyboard.press("Enter")  # → the quantity at once, the line fills when the server answers
        wait_focus(pg, f'[name="lines-{uid}-qty"]')
        pg.locator("[data-add-line]").click()
    for uid, (code, (label, price)) in enumerate(codes.items()):
        item = catalogue.find("pharmacy", code)
        expect(pg.locator(f'[name="lines-{uid}-label"]')).to_have_value(label or item.label)
        expect(pg.locator(f'[name="lines-{uid}-price"]')).to_have_value(
            price or f"{item.unit_price // 1000},{item.unit_price % 1000:03d}")
    assert pg.locator('[name="lines-0-generic"]').is_checked()
    expect(pg.locator("#decompte .verdict")).to_be_visible()
    assert problems(pg) == []


def test_unknown_code_is_left_for_the_counter_to_price(shop, page):
    pg = page
    log_in(pg, shop.users["pharmacist"].email, "/pharmacie/")
    find_member(pg, shop.national_ids["active"])
    pg.keyboard.type("ZZ999", delay=0)
    pg.keyboard.press("Enter")
    wait_focus(pg, '[name="lines-0-qty"]')
    pg.wait_for_timeout(300)
    assert pg.locator('[name="lines-0-label"]').input_value() == ""
    assert pg.locator('[name="lines-0-price"]').input_value() == ""


def test_no_counter_page_scrolls_sideways(shop, page):
    """Every counter page of the pharmacy (with a long recent-claims list, a pending claim, a
    decompte of several lines) and the entry page of the other portals, at 1024, 1280, 1440 px."""
    from datetime import date, timedelta

    from test_portal_support import add_claim

    from dhamen.extensions import db

    for n in range(6):  # the member's recent claims, here and elsewhere
        add_claim(shop, "pharmacist2" if n % 2 else "pharmacist", total=123_456_789 // (n + 1), covered=1_000,
                  care_date=date.today() - timedelta(days=n))
    db.session.commit()
    pg = page
    pg.set_viewport_size({"width": 1280, "height": 900})
    log_in(pg, shop.users["pharmacist"].email, "/pharmacie/")
    assert pg.evaluate("document.documentElement.lang") == "fr"
    assert pg.evaluate("new Intl.DateTimeFormat().resolvedOptions().locale").startswith("fr")
    assert pg.evaluate("new Date(2026, 2, 12).toLocaleDateString()") == "12/03/2026"  # what date fields show
    assert pg.locator("#naissance").get_attribute("type") == "date"
    assert pg.locator('link[rel="icon"]').get_attribute("href").endswith("favicon.svg")
    assert pg.request.get(pg.locator('link[rel="icon"]').get_attribute("href")).ok
    check_layout(pg, "comptoir-accueil")
    pg.fill("#q", "NomActive")
    pg.fill("#naissance", "1980-01-01")
    pg.keyboard.press("Enter")
    expect(pg.locator("#results .member-card")).to_have_count(1)
    check_layout(pg, "comptoir-recherche")
    pg.goto(f"/pharmacie/adherents/{shop.members['active'].id}/droits")
    check_layout(pg, "comptoir-droits")
    pg.goto(f"/pharmacie/saisie/{shop.contracts['active'].id}")
    enter_lines(pg, ("PH0001", "PH0009", "PH0057", "PH0010"))
    pg.keyboard.press("Control+Enter")
    wait_focus(pg, "#submit-claim")
    check_layout(pg, "comptoir-saisie")
    with pg.expect_navigation():
        pg.keyboard.press("Enter")
    check_layout(pg, "comptoir-demande")
    claim_path = path_of(pg)
    pg.goto(f"{claim_path}/recu")
    check_layout(pg, "comptoir-recu")
    pg.goto("/pharmacie/demandes")
    check_layout(pg, "comptoir-historique")
    assert problems(pg) == []

    for user, prefix in (("doctor", "/medecin/"), ("lab", "/laboratoire/"), ("clinic", "/clinique/")):
        pg.context.clear_cookies()
        log_in(pg, shop.users[user].email, prefix)
        pg.goto(f"{prefix}saisie/{shop.contracts['active'].id}")
        check_layout(pg, f"comptoir-saisie-{user}")


def test_pending_claim_page_shows_the_decision_without_reload(shop, page, monkeypatch):
    from dhamen.counter import portals
    from dhamen.domain.transitions import check_claim
    from dhamen.extensions import db

    monkeypatch.setattr(portals, "POLL_SECONDS", 1)
    pg = page
    log_in(pg, shop.users["clinic"].email, "/clinique/")
    find_member(pg, shop.national_ids["active"])
    pg.fill("#room", "214")
    pg.focus('[name="lines-0-code"]')
    enter_lines(pg, ("CH-J", "BLOC"))
    pg.keyboard.press("Control+Enter")
    wait_focus(pg, "#submit-claim")
    with pg.expect_navigation():
        pg.keyboard.press("Enter")
    expect(pg.locator(".next-steps")).to_contain_text("En attente de la décision de l'assureur")
    check_layout(pg, "comptoir-demande-en-attente")
    pg.evaluate("window.__notReloaded = true")
    [claim] = claims_of(shop.providers["clinic"])
    check_claim(claim.status, "approved", "agent")
    claim.status = "approved"
    db.session.commit()
    expect(pg.locator("#claim-result")).to_contain_text("L'assureur a décidé : approuvée", timeout=10_000)
    expect(pg.locator(".next-steps")).to_have_count(0)
    assert pg.evaluate("window.__notReloaded") is True
    assert problems(pg) == []
