"""Every refusal and hold reason of the money rules comes with what the counter does next, in
French, on the décompte and the claim's page."""

from __future__ import annotations

from claims_helpers import shop_fixture  # noqa: F401
from test_portal_support import PORTALS, claim_data, entry_url, login, open_entry, text

from dhamen.counter.next_steps import INFORMATIONAL, NEXT_STEPS
from dhamen.domain import reasons

HX = {"HX-Request": "true"}


def test_every_reason_code_has_a_next_step_or_is_informational():
    codes = set(reasons.REASONS)
    assert codes - INFORMATIONAL <= set(NEXT_STEPS), sorted(codes - INFORMATIONAL - set(NEXT_STEPS))
    assert not set(NEXT_STEPS) & INFORMATIONAL
    for code, step in NEXT_STEPS.items():
        assert step.endswith(".") and step[0].isupper() and "_" not in step, code


def test_the_decompte_and_the_claim_page_say_what_to_do(client, shop):
    case = PORTALS["PHARMACIST"]
    login(client, shop.users["pharmacist"])
    _page, hidden = open_entry(client, case, shop.contracts["active"])
    lines = [{"code": "PH0009", "qty": "1", "price": "9"},  # above the barème's 2,100: capped
             {"code": "PH0057", "qty": "1", "price": "38"}]  # cosmetic: excluded
    fragment = text(client.post(f"{entry_url(case, shop.contracts['active'])}/apercu",
                                data=claim_data(case, hidden, lines=lines), headers=HX))
    assert NEXT_STEPS[reasons.PRICE_CAPPED] in fragment and NEXT_STEPS[reasons.EXCLUDED] in fragment

    _page, hidden = open_entry(client, case, shop.contracts["limited"])
    big = [{"code": "PH0009", "qty": "99", "price": "2,100"}]  # beyond what the annual limit still allows
    fragment = text(client.post(f"{entry_url(case, shop.contracts['limited'])}/apercu",
                                data=claim_data(case, hidden, lines=big), headers=HX))
    assert NEXT_STEPS[reasons.LIMIT_PARTIAL] in fragment
    response = client.post(f"{entry_url(case, shop.contracts['limited'])}/valider",
                           data=claim_data(case, hidden, lines=big))
    page = text(client.get(response.headers["Location"]))
    assert NEXT_STEPS[reasons.LIMIT_PARTIAL] in page
