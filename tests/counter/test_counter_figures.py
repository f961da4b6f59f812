"""One figure everywhere: the rights panel shows the rates the décompte applies, and the
code autocomplete pre-fills the tariff that applies to this provider and this contract."""

from __future__ import annotations

import re
from datetime import date

from claims_helpers import shop_fixture  # noqa: F401
from flask_login import login_user
from sqlalchemy import select
from test_portal_support import PORTALS, login, text

from dhamen.access.roles import ROLE_PROVIDER_TYPE
from dhamen.claims import operations, queries
from dhamen.domain import catalogue, reasons
from dhamen.domain.coverage import ItemInput
from dhamen.domain.money import percent_label
from dhamen.extensions import db
from dhamen.models import Contract, Convention, User

ROLE_OF_TYPE = {kind: role for role, kind in ROLE_PROVIDER_TYPE.items()}


def _counter_user(provider) -> User:
    user = db.session.scalar(select(User).where(User.email == f"figures-{provider.id}@test.tn"))
    if user is not None:
        return user
    user = User(email=f"figures-{provider.id}@test.tn", role=ROLE_OF_TYPE[provider.type], first_name="T",
                last_name="T", password_hash="x", provider_id=provider.id)
    db.session.add(user)
    db.session.flush()
    return user


def test_rate_shown_equals_rate_applied_for_every_seeded_convention_and_care_type(app, demo):
    """For every convention of the demo data, every care type of the provider and every contract of
    the insurer in force: the panel's rate (and generic rate) is the rate of a priced line."""
    today = date.today()
    checked = set()
    for convention in db.session.scalars(select(Convention)):
        provider = convention.provider
        care_type = catalogue.PROVIDER_CARE_TYPE[provider.type]
        user = _counter_user(provider)
        request = app.test_request_context()
        request.push()
        login_user(user)
        contracts = db.session.scalars(select(Contract).where(Contract.insurer_id == convention.insurer_id,
                                                              Contract.status == "active")).all()
        for contract in contracts[:4]:
            [r] = [r for r in queries.rights(user, contract.adherent, care_type, today, provider)
                   if r.contract.id == contract.id]
            if not r.eligibility.inforce or not r.has_convention:
                continue
            shown = r.eligibility.benefits[care_type]
            for generic in (False, True):
                # the nomenclature says whether a code is a generic (issue 9): take one that is / is not
                code = next((i.code for i in catalogue.items_for(care_type) if i.is_generic == generic
                             and not any(x.startswith("cat:") and x[4:].strip() == i.category for x in r.excluded)
                             and i.code not in r.excluded), None)
                if code is None:
                    continue
                _req, result = operations.preview(user, contract.id, care_type, today,
                                               [ItemInput(code, "", 1, 10_000, generic)])
                [line] = result.lines
                assert line.reason_codes[0] != reasons.EXCLUDED
                expected = shown.generic_rate_bp if generic and shown.generic_rate_bp is not None else shown.rate_bp
                assert line.rate_bp == expected, (convention.bareme_json, contract.coverage_json, generic)
                checked.add((care_type, convention.id, generic, line.rate_bp != contract.coverage_json[care_type]
                             .get("generic_rate" if generic else "rate", contract.coverage_json[care_type]["rate"])))
            assert percent_label(shown.rate_bp) in r.eligibility.message
        request.pop()
    assert {c[0] for c in checked} == set(catalogue.PROVIDER_CARE_TYPE.values())
    assert any(c[3] for c in checked), "no convention override was exercised"


def test_panel_shows_the_convention_rates_and_autocomplete_prefills_the_tariff(app, client, shop):
    """The shop's lab convention sets lab 85 %, the pharmacy's a 95 % generic rate and a PH0001 tariff of
    5,000 (reference price 5,600): the panel says 85 % / 95 % and the datalist pre-fills 5,000."""
    from dhamen.models import Convention as Conv

    for label, bareme in (("lab", {"version": "CONV-L", "rates": {"lab": 85}}),
                          ("pharmacist", {"version": "CONV-P", "tariffs": {"PH0001": 5_000}, "generic_rate": 95})):
        conv = db.session.scalar(select(Conv).where(Conv.provider_id == shop.providers[label].id))
        conv.bareme_json = bareme
    db.session.commit()
    contract = shop.contracts["active"]

    login(client, shop.users["lab"])
    page = text(client.get(f"/laboratoire/saisie/{contract.id}"))
    panel = page[page.index('id="rights-panel"'):]
    assert "Analyses de laboratoire : 85 %" in panel
    assert re.search(r'class="current">\s*<td>Analyses de laboratoire</td>\s*<td class="num">85 %</td>', panel)

    client = app.test_client()
    login(client, shop.users["pharmacist"])
    page = text(client.get(f"/pharmacie/saisie/{contract.id}"))
    assert "Pharmacie : 80 % (générique 95 %)" in page
    options = text(client.get(f"/pharmacie/catalogue?q=PH0001&contrat={contract.id}"))
    assert re.search(r'value="PH0001"[^>]*data-price="5,000"', options), options
    # Another contract's insurer has no convention here: no tariff known, the reference price.
    other = text(client.get(f"/pharmacie/catalogue?q=PH0001&contrat={shop.contracts['foreign'].id}"))
    assert re.search(r'value="PH0001"[^>]*data-price="5,600"', other)
    assert PORTALS["PHARMACIST"].prefix == "/pharmacie"


def test_autocomplete_offers_more_than_twelve_ranked_matches(client, shop):
    login(client, shop.users["pharmacist"])
    options = text(client.get(f"/pharmacie/catalogue?q=PH00&contrat={shop.contracts['active'].id}"))
    codes = re.findall(r'<option value="([^"]+)"', options)
    assert len(codes) > 12
    exact = text(client.get("/pharmacie/catalogue?q=PH0001"))
    assert re.findall(r'<option value="([^"]+)"', exact)[0] == "PH0001"
