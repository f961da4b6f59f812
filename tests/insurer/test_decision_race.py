"""Two agents decide one claim at the same moment (PostgreSQL): one wins, the other is told who decided."""

from __future__ import annotations

import os
import threading

import pytest
from auth_helpers import audit_rows, csrf_from, make_user
from insurer_helpers import signed_in, stay_claim

from dhamen.insurer import decisions

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs PostgreSQL (DATABASE_URL)")]


@pytest.mark.parametrize("contract_lock", [True, False], ids=["contract-lock", "conditional-update-only"])
def test_two_concurrent_decisions_only_one_wins(app, client, shop, monkeypatch, contract_lock):
    from dhamen.extensions import db
    from dhamen.models import Claim

    data = stay_claim(client, shop)
    second_agent = make_user("INSURER_AGENT", insurer=shop.insurers["A"], first_name="Nadia", last_name="Ayari")
    clients, tokens = [], []
    for user in (shop.users["agentA"], second_agent):
        c = app.test_client()
        signed_in(c, user)
        tokens.append(csrf_from(c.get(f"/assureur/demandes/{data['id']}").get_data(as_text=True)))
        clients.append(c)
    # Both requests have read the claim as open before either writes.
    barrier = threading.Barrier(2, timeout=10)
    if contract_lock:
        real_lock = decisions._lock_contract

        def lock(contract_id):
            barrier.wait()
            return real_lock(contract_id)

        monkeypatch.setattr(decisions, "_lock_contract", lock)
    else:  # no row lock: the conditional UPDATE alone must decide
        monkeypatch.setattr(decisions, "_lock_contract",
                            lambda contract_id: db.session.get(Claim, data["id"]).contract)
        real_check = decisions.check_claim

        def check(*args):
            barrier.wait()
            return real_check(*args)

        monkeypatch.setattr(decisions, "check_claim", check)
    forms = [{"decision": "approve", "note": ""}, {"decision": "reject", "note": "Séjour non justifié"}]
    results = [None, None]

    def post(n):
        results[n] = clients[n].post(f"/assureur/demandes/{data['id']}/decision",
                                     data={"csrf_token": tokens[n], **forms[n]})

    threads = [threading.Thread(target=post, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    codes = sorted(r.status_code for r in results)
    assert codes == [302, 409], [r.get_data(as_text=True)[-800:] for r in results]
    winner = 0 if results[0].status_code == 302 else 1
    loser_html = results[1 - winner].get_data(as_text=True)
    word, who = (("approuvée", "Test agentA") if winner == 0 else ("refusée", "Nadia Ayari"))
    assert f"Demande déjà traitée : {word} par {who}" in loser_html
    db.session.expire_all()
    claim = db.session.get(Claim, data["id"])
    assert claim.status == ("approved" if winner == 0 else "rejected")
    assert len(audit_rows("claim.decision")) == 1
