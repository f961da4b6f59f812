"""The admin portal in a real browser (Debian's Chromium through Playwright).

The admin creates a pharmacy and a pharmacist user for it and makes MFA required for
pharmacists; the user logs in with the temporary password, enrols MFA, must change the
password before anything else, logs in again and enters a claim at the counter; the admin deactivates the account and the user's
open session stops working at the next click.  Screenshots at 1280 px when
``DHAMEN_SCREENSHOTS`` names a folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
import test_browser_login
from auth_helpers import make_user
from claims_helpers import shop_fixture  # noqa: F401

pytestmark = pytest.mark.browser
browser, live_server = test_browser_login.browser, test_browser_login.live_server
SCREENSHOTS = os.environ.get("DHAMEN_SCREENSHOTS")
ADMIN_PASSWORD = "Admin-Mot-De-Passe-Solide-31"
TEMPORARY = "Temporaire-Choisi-Par-Admin-7"
CHOSEN = "Mon-Propre-Mot-De-Passe-2026"


def _context(browser, live_server):
    context = browser.new_context(base_url=live_server, locale="fr-FR", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    pg = context.new_page()
    pg.problems = []
    # As in the counter's browser tests: CSP violations and script errors (htmx logs a 422
    # preview answer as a console error; that is the counter's live validation at work).
    pg.on("console", lambda msg: pg.problems.append(msg.text)
          if "Content Security Policy" in msg.text or "Error" in msg.text else None)
    pg.on("response", lambda r: pg.problems.append(f"{r.status} {r.url}")
          if r.status >= 500 or (r.status == 404 and not r.url.endswith("/favicon.ico")) else None)
    pg.on("pageerror", lambda exc: pg.problems.append(str(exc)))
    return context, pg


def _path(pg) -> str:
    return urlsplit(pg.url).path


def _shot(pg, name: str) -> None:
    if SCREENSHOTS:
        pg.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def _submit(pg, selector="main form:not(.inline) button[type=submit]"):
    with pg.expect_navigation():
        pg.locator(selector).first.click()


def _login(pg, email, password):
    pg.goto("/connexion")
    pg.fill("input[name=email]", email)
    pg.fill("input[name=password]", password)
    _submit(pg)


def _totp(secret: str, used: set) -> str:
    import time

    while True:
        code = pyotp.TOTP(secret).now()
        if code not in used:
            used.add(code)
            return code
        time.sleep(1)


def test_admin_onboards_a_pharmacist_who_works_then_is_cut_off(app, shop, browser, live_server):
    from dhamen.access.auth.service import find_by_email
    from dhamen.extensions import db
    from dhamen.models import Claim, Convention, Provider

    admin_user = make_user("ADMIN", email="chef@dhamen.tn", password=ADMIN_PASSWORD, mfa=True)
    admin_secret, used = admin_user.mfa_secret, set()
    cin = shop.national_ids["active"]

    # --- the admin: a pharmacy, a pharmacist user, MFA required for pharmacists ---------------
    admin_ctx, adm = _context(browser, live_server)
    _login(adm, "chef@dhamen.tn", ADMIN_PASSWORD)
    adm.fill("input[name=code]", _totp(admin_secret, used))
    _submit(adm)
    assert _path(adm) == "/admin/"
    adm.goto("/admin/prestataires/nouveau")
    adm.select_option("#type", label="Pharmacie")
    adm.fill("#name", "Pharmacie des Jasmins")
    adm.fill("#license_no", "PH-JAS-2026")
    adm.fill("#address", "7 avenue des Jasmins")
    adm.fill("#city", "Nabeul")
    adm.fill("#lat", "36.4561")
    adm.fill("#lng", "10.7376")
    _shot(adm, "admin-prestataire-nouveau")
    _submit(adm)
    assert "Prestataire « Pharmacie des Jasmins » créé." in adm.locator(".flashes").inner_text()
    adm.goto("/admin/prestataires")
    assert "Pharmacie des Jasmins" in adm.locator("main table").inner_text()
    _shot(adm, "admin-prestataires")

    # The insurer signs its convention with the new pharmacy (the insurer portal's business).
    jasmins = db.session.scalar(db.select(Provider).where(Provider.name == "Pharmacie des Jasmins"))
    model = db.session.scalar(db.select(Convention).where(Convention.provider_id == shop.providers["pharmacist"].id))
    db.session.add(Convention(insurer_id=model.insurer_id, provider_id=jasmins.id, bareme_json=model.bareme_json,
                              start_date=model.start_date))
    db.session.commit()
    adm.goto("/admin/utilisateurs/nouveau")
    adm.fill("#email", "sana.pharma@exemple.tn")
    adm.fill("#first_name", "Sana")
    adm.fill("#last_name", "Jaziri")
    adm.select_option("#role", label="Pharmacien")
    adm.select_option("#organisation", label="Pharmacie · Pharmacie des Jasmins")
    adm.fill("#password", TEMPORARY)
    _submit(adm)
    assert "Communiquez-lui son mot de passe temporaire" in adm.locator(".flashes").inner_text()
    _shot(adm, "admin-utilisateur")
    adm.goto("/admin/")
    adm.locator("input[name=roles][value=PHARMACIST]").check()
    _submit(adm, "form[action='/admin/mfa-roles'] button")
    _shot(adm, "admin-utilisateurs")

    # --- the pharmacist: temporary password → MFA enrolment → own password → a claim ----------
    # (MFA is enrolled between password and session, as for any user who must use it; the
    # temporary password then opens nothing but the page that replaces it.)
    user_ctx, ph = _context(browser, live_server)
    _login(ph, "sana.pharma@exemple.tn", TEMPORARY)
    assert _path(ph) == "/compte/mfa"
    secret = ph.locator("#totp-secret").inner_text().replace(" ", "")
    ph_used: set = set()
    ph.fill("input[name=code]", _totp(secret, ph_used))
    _submit(ph)
    assert _path(ph) == "/compte/codes-de-secours"  # shown once, even with a temporary password
    ph.goto("/pharmacie/")  # nothing else opens
    assert _path(ph) == "/compte/mot-de-passe"
    assert "temporaire" in ph.locator("main").inner_text()
    _shot(ph, "mot-de-passe-temporaire")
    ph.fill("#current", TEMPORARY)
    ph.fill("#new", CHOSEN)
    ph.fill("#confirm", CHOSEN)
    _submit(ph)
    assert _path(ph) == "/connexion"
    _login(ph, "sana.pharma@exemple.tn", CHOSEN)
    assert _path(ph) == "/connexion/mfa"
    ph.fill("input[name=code]", _totp(secret, ph_used))
    _submit(ph)
    ph.goto("/pharmacie/")
    assert _path(ph) == "/pharmacie/"
    ph.wait_for_function("() => document.activeElement && document.activeElement.id === 'q'")
    ph.keyboard.type(cin)
    ph.keyboard.press("Enter")
    try:
        ph.wait_for_selector("#results [data-primary-action]")
    except Exception:
        _shot(ph, "debug-recherche")
        raise
    with ph.expect_navigation():
        ph.locator("#results [data-primary-action]").first.click()
    ph.wait_for_function("() => document.activeElement && document.activeElement.name === 'lines-0-code'")
    ph.keyboard.type("PH0009")
    ph.wait_for_selector('#catalogue-options option[value="PH0009"]', state="attached")
    ph.keyboard.press("Enter")
    ph.keyboard.press("Enter")
    ph.keyboard.press("Enter")
    ph.wait_for_function("() => document.activeElement && document.activeElement.id === 'submit-claim'")
    with ph.expect_navigation():
        ph.keyboard.press("Enter")
    assert "/demandes/" in _path(ph)
    claim_id = _path(ph).rsplit("/", 1)[1]
    db.session.expire_all()
    claim = db.session.get(Claim, claim_id)
    assert claim is not None and claim.provider_id == jasmins.id
    _shot(ph, "pharmacien-demande")

    # --- the admin deactivates the account: the open session stops at the next click ----------
    user_id = find_by_email("sana.pharma@exemple.tn").id
    adm.goto(f"/admin/utilisateurs/{user_id}")
    assert "Pharmacie des Jasmins" in adm.locator("main").inner_text()
    _shot(adm, "admin-utilisateur-fiche")
    _submit(adm, f"form[action='/admin/utilisateurs/{user_id}/desactiver'] button")
    assert "désactivé" in adm.locator(".flashes").inner_text()
    ph.locator("nav.mainnav a").first.click()
    ph.wait_for_load_state()
    assert _path(ph) == "/connexion"
    _login(ph, "sana.pharma@exemple.tn", CHOSEN)
    assert "incorrect" in ph.locator("main").inner_text()

    # --- the admin reads what happened in the audit log -----------------------------------------
    adm.goto(f"/admin/journal?entite=user&entite_id={user_id}")
    log = adm.locator("main table").inner_text()
    assert "user.create" in log and "user.deactivate" in log and "oui → non" in log
    _shot(adm, "admin-journal")
    assert adm.problems == [] and ph.problems == []
    user_ctx.close()
    admin_ctx.close()
