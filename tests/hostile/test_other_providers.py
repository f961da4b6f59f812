"""The entry page's "latest claims" of a member: another provider's claims show when and what
(date, care type, codes: what the duplicate check needs), never what that provider charged."""

from __future__ import annotations

import html

from auth_helpers import fast_web_session
from claims_helpers import claim_body, drug, post_claim

from dhamen.domain.money import format_tnd


class TestOtherProvidersClaims:
    def test_amounts_only_for_this_providers_claims(self, app, client, shop):
        contract = shop.contracts["active"]
        assert post_claim(client, shop, who="pharmacist2",
                          body=claim_body(shop, items=[drug("PH0003", quantity=3, price=7_777)])).status_code == 201
        assert post_claim(client, shop, body=claim_body(shop, items=[drug("PH0009", 1, 4_321)])).status_code == 201
        fast_web_session(client, shop.users["pharmacist"])
        page = html.unescape(client.get(f"/pharmacie/saisie/{contract.id}").get_data(as_text=True))
        recent = page[page.index("Dernières demandes"):]
        assert "PH0003" in recent and "PH0009" in recent  # codes of both, for the duplicate check
        assert format_tnd(4_321, with_unit=False) in recent  # ours
        assert "23,331" not in page  # the neighbour's total
        assert "autre prestataire" in recent or "Autre prestataire" in recent

    def test_the_query_itself_hides_amounts(self, shop):
        from dhamen.claims.queries import recent_member_claims

        member = shop.members["limited"]  # one claim at pharmacist2 in the shop
        rows = recent_member_claims(member.id, shop.providers["pharmacist"].id)
        assert rows and all(r.get("totalAmount") is None and r.get("coveredAmount") is None
                            and r.get("claimId") is None for r in rows)
        mine = recent_member_claims(member.id, shop.providers["pharmacist2"].id)
        assert mine[0]["totalAmount"] == 125_000 and mine[0]["claimId"]
