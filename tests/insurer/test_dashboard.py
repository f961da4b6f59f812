"""The dashboard: figures of the insurer's own claims, charts with their numbers."""

from __future__ import annotations

from claims_helpers import post_claim
from insurer_helpers import signed_in, stay_claim
from test_review_queue import _insert_pending


def test_dashboard_counts_own_claims_only(client, shop):
    stay_claim(client, shop)
    assert post_claim(client, shop).status_code == 201  # an approved pharmacy claim today
    _insert_pending(shop, 2)
    signed_in(client, shop.users["agentA"])
    r = client.get("/assureur/")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    for text in ("Demandes du mois par statut", "Hospitalisation", "Pharmacie",
                 "Fréquence de soins inhabituelle", "Pharmacie Test", "Clinique Test", "3 à examiner", "<svg"):
        assert text in html, text
    from dhamen.insurer import dashboard

    d = dashboard.build(shop.users["agentA"])
    # the shop already holds an approved claim (created now); the inserted ones are two days old
    assert d.today_count == 3 and d.today_by_status == {"approved": 2, "pending_review": 1} and d.queue_size == 3
    assert sum(b.value for b in d.queue_age) == 3 and d.queue_age[1].value == 2
    assert [(b.label, b.value) for b in d.flags] == [("Fréquence de soins inhabituelle", 2)]
    assert d.month_count >= 4 and d.by_type[0].value >= 2
    assert d.providers[0].label in ("Clinique Test", "Pharmacie Test")
    other = dashboard.build(shop.users["agentB"])
    assert (other.month_count, other.queue_size, other.providers) == (0, 0, [])
