"""The queue's count never walks the queue: exact from the day roll-up for status / type / provider,
counted for a member or a small queue, else "plus de N" from the page shown."""

from __future__ import annotations

from insurer_helpers import signed_in, stay_claim
from test_review_queue import _insert_pending

from dhamen.insurer import queue


def test_counts_from_the_rollup_and_the_page(client, shop, monkeypatch):
    _insert_pending(shop, 30)
    stay_claim(client, shop)
    agent = shop.users["agentA"]
    f = queue.ReviewFilters
    assert queue.count(agent, f()) == (31, True)
    assert queue.count(agent, f(type="pharmacy")) == (30, True)
    assert queue.count(agent, f(type="pharmacy", prestataire=shop.providers["clinic"].id)) == (0, True)
    assert queue.count(agent, f(statut="blocked")) == (0, True)
    assert queue.count(shop.users["agentB"], f()) == (0, True)
    # A small queue: any filter is counted.
    assert queue.count(agent, f(montant_min=10_005)) == (26, True)  # 25 pharmacy claims and the stay
    assert queue.count(agent, f(montant_max=10_026)) == (27, True)
    assert queue.count(agent, f(adherent=shop.members["active"].id, type="pharmacy", signal="HIGH_FREQUENCY")) == (30, True)
    # A large one: the amount filter is not counted; the page tells "more than what is shown".
    monkeypatch.setattr(queue, "SMALL_QUEUE", 10)
    filters = f(montant_max=10_026)
    first = queue.page(agent, filters)
    assert queue.count(agent, filters, first) == (25, False)
    last = queue.page(agent, filters, first.next_cursor)
    assert queue.count(agent, filters, last) == (2, False)  # more than the 2 shown: there are pages before
    only = queue.page(agent, f(montant_min=10_028, montant_max=10_029))
    assert queue.count(agent, f(montant_min=10_028, montant_max=10_029), only) == (2, True)
    signed_in(client, agent)
    html = client.get("/assureur/file?montant_max=10,026").get_data(as_text=True)
    assert "Plus de 25 demandes à examiner (filtrées)" in html
    html = client.get("/assureur/file?type=pharmacy").get_data(as_text=True)
    assert "30 demandes à examiner (filtrées)" in html


def test_decisions_move_the_count(app, client, shop):
    from dhamen.extensions import db
    from dhamen.insurer import decisions

    ids = _insert_pending(shop, 3)
    agent = shop.users["agentA"]
    with app.test_request_context():
        decisions.decide(agent, ids[0], "block", "Ordonnance douteuse")
        db.session.commit()
    assert queue.count(agent, queue.ReviewFilters()) == (3, True)
    assert queue.count(agent, queue.ReviewFilters(statut="blocked")) == (1, True)
    with app.test_request_context():
        decisions.decide(agent, ids[1], "reject", "Hors garantie")
        db.session.commit()
    assert queue.count(agent, queue.ReviewFilters()) == (2, True)
