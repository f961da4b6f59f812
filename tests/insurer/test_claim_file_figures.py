"""The claim file's "habits of the provider": a bounded sample of the provider's latest claims of
the type and the insurer's mean of the type from the day roll-up (never the whole history)."""

from __future__ import annotations

from insurer_helpers import signed_in, stay_claim

from dhamen.extensions import db
from dhamen.insurer import detail
from dhamen.models import Claim


def _stays(client, shop, nights_list):
    return [stay_claim(client, shop, nights=n, days_ago=5 + 20 * i) for i, n in enumerate(nights_list)]


def test_provider_figures_are_the_other_claims_and_the_insurers_mean(client, shop):
    first, second, third = _stays(client, shop, (1, 2, 3))
    agent = shop.users["agentA"]
    claim = db.session.get(Claim, third["id"])
    figures = detail.provider_figures(agent, claim)
    others = [first["totalAmount"], second["totalAmount"]]
    assert figures.claims == 2 and figures.maximum == max(others)
    assert figures.average == sum(others) // 2
    every = [first["totalAmount"], second["totalAmount"], third["totalAmount"]]
    assert figures.insurer_average == sum(every) // 3
    signed_in(client, agent)
    html = client.get(f"/assureur/demandes/{third['id']}").get_data(as_text=True)
    assert "2 demandes" in html and "90 derniers jours" in html


def test_provider_figures_read_only_the_latest_sample(client, shop, monkeypatch):
    first, second, third = _stays(client, shop, (1, 2, 3))
    monkeypatch.setattr(detail, "PROVIDER_SAMPLE", 1)
    agent = shop.users["agentA"]
    figures = detail.provider_figures(agent, db.session.get(Claim, first["id"]))
    assert figures.claims == 1 and figures.average == third["totalAmount"]  # the newest other claim only
    signed_in(client, agent)
    html = client.get(f"/assureur/demandes/{first['id']}").get_data(as_text=True)
    assert "Ses 1 dernières demandes" in html


def test_another_insurers_claims_are_not_counted(client, shop):
    mine = _stays(client, shop, (1, 2))
    figures = detail.provider_figures(shop.users["agentB"], db.session.get(Claim, mine[1]["id"]))
    assert figures.claims == 0 and figures.insurer_average is None
