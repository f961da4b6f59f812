"""The review queue page: scoping, filters in the URL, keyset pages, the member filter by posted CIN."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from insurer_helpers import signed_in, stay_claim


def _insert_pending(shop, n, **over):
    """n claims waiting for review, inserted directly (created one minute apart)."""
    from dhamen.core.sqltypes import new_id, utcnow
    from dhamen.extensions import db
    from dhamen.models import Claim

    c = shop.contracts["active"]
    start = utcnow() - timedelta(days=2)
    ids = []
    for i in range(n):
        claim = Claim(id=new_id(), type="pharmacy", contract_id=c.id, provider_id=shop.providers["pharmacist"].id,
                      adherent_id=c.adherent_id, insurer_id=c.insurer_id, care_date=start.date(),
                      total_amount=10_000 + i, covered_amount=8_000, copay_amount=2_000 + i, fraud_score=45,
                      fraud_flags_json=[{"code": "HIGH_FREQUENCY", "points": 45, "message": "9 demandes"}],
                      status="pending_review", created_at=start + timedelta(minutes=i), **over)
        db.session.add(claim)
        ids.append(claim.id)
    db.session.commit()
    return ids


def test_agent_sees_own_insurer_queue_only(client, shop):
    mine = stay_claim(client, shop)
    _insert_pending(shop, 1)
    signed_in(client, shop.users["agentA"])
    r = client.get("/assureur/file")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "2 demandes à examiner" in html and mine["id"] in html
    assert "Hospitalisation" in html and "En attente de validation" in html
    assert "pending_review" not in html.replace('class="badge pending_review"', "").replace(
        'value="pending_review"', "")
    signed_in(client, shop.users["agentB"])
    html = client.get("/assureur/file").get_data(as_text=True)
    assert "0 demande à examiner" in html and mine["id"] not in html


def test_filters_are_in_the_url_and_combine(client, shop):
    hosp = stay_claim(client, shop)
    flagged = _insert_pending(shop, 3)
    signed_in(client, shop.users["agentA"])
    html = client.get("/assureur/file?signal=HIGH_FREQUENCY").get_data(as_text=True)
    assert all(i in html for i in flagged) and hosp["id"] not in html
    html = client.get("/assureur/file?type=hospitalization").get_data(as_text=True)
    assert hosp["id"] in html and flagged[0] not in html
    html = client.get("/assureur/file?montant_min=10,001&montant_max=10,002&score_min=40&type=pharmacy"
                      ).get_data(as_text=True)
    assert flagged[0] not in html and flagged[1] in html and flagged[2] in html and "2 demandes" in html
    html = client.get(f"/assureur/file?contrat={shop.contracts['active'].contract_number.lower()}&tri=montant"
                      ).get_data(as_text=True)
    assert html.index(hosp["id"]) < html.index(flagged[2]) < html.index(flagged[0])


def test_bad_filters_get_french_errors_and_nothing_else(client, shop):
    _insert_pending(shop, 1)
    signed_in(client, shop.users["agentA"])
    r = client.get("/assureur/file?du=2026-13-01&montant_min=abc&score_max=300&statut=approved&signal=X&apres=%%%")
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    for text in ("Date « 2026-13-01 » invalide", "Montant invalide", "Score « 300 » invalide", "Statut inconnu",
                 "Signal de fraude inconnu"):
        assert text in html
    r = client.get("/assureur/file?apres=bm90LWpzb24")
    assert r.status_code == 422 and "Position de pagination invalide" in r.get_data(as_text=True)


def test_keyset_pages_walk_the_whole_queue_once(client, shop):
    ids = _insert_pending(shop, 60)
    signed_in(client, shop.users["agentA"])
    seen, url = [], "/assureur/file?signal=HIGH_FREQUENCY"
    for _ in range(5):
        html = client.get(url).get_data(as_text=True)
        seen += [i for i in ids if f'demandes/{i}"' in html]
        if "Page suivante" not in html:
            break
        url = re.search(r'<a class="button" href="([^"]+)"[^>]*>Page suivante</a>', html)[1].replace("&amp;", "&")
        assert "signal=HIGH_FREQUENCY" in url and "apres=" in url
    assert seen == ids  # oldest first, each once, no gap
    desc, url = [], "/assureur/file?tri=recentes"
    html = client.get(url).get_data(as_text=True)
    desc = [i for i in reversed(ids) if f'demandes/{i}"' in html]
    assert desc == list(reversed(ids))[:25]
    # back from the second page to the first
    url = re.search(r'<a class="button" href="([^"]+)"[^>]*>Page suivante</a>', html)[1].replace("&amp;", "&")
    html = client.get(url).get_data(as_text=True)
    url = re.search(r'<a class="button" href="([^"]+)"[^>]*>Page précédente</a>', html)[1].replace("&amp;", "&")
    assert "avant=" in url
    html = client.get(url).get_data(as_text=True)
    assert [i for i in reversed(ids) if f'demandes/{i}"' in html] == list(reversed(ids))[:25]


def test_htmx_request_gets_the_results_fragment(client, shop):
    _insert_pending(shop, 2)
    signed_in(client, shop.users["agentA"])
    r = client.get("/assureur/file?type=pharmacy", headers={"HX-Request": "true", "HX-Target": "queue-results"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and html.lstrip().startswith('<section id="queue-results"')
    assert "<html" not in html


def test_member_filter_by_posted_national_id_never_puts_it_in_the_url(client, shop):
    from auth_helpers import csrf_from

    mine = stay_claim(client, shop)
    stay_claim(client, shop, contract="unlimited")
    signed_in(client, shop.users["agentA"])
    token = csrf_from(client.get("/assureur/file").get_data(as_text=True))
    cin = shop.national_ids["active"]
    r = client.post("/assureur/file/adherent", data={"cin": cin, "type": "hospitalization", "csrf_token": token})
    assert r.status_code == 302
    location = r.headers["Location"]
    assert cin not in location
    query = parse_qs(urlsplit(location).query)
    assert query == {"adherent": [shop.members["active"].id], "type": ["hospitalization"]}
    html = client.get(location).get_data(as_text=True)
    assert mine["id"] in html and "1 demande à examiner" in html and cin not in html
    # a member of another insurer is not found (no leak of its existence)
    r = client.post("/assureur/file/adherent", data={"cin": shop.national_ids["foreign"], "csrf_token": token},
                    follow_redirects=True)
    assert "Aucun adhérent de votre compagnie" in r.get_data(as_text=True)
    r = client.post("/assureur/file/adherent", data={"cin": "12ab", "csrf_token": token}, follow_redirects=True)
    assert "Numéro CIN invalide" in r.get_data(as_text=True)


def test_provider_roles_cannot_open_the_queue(client, shop):
    signed_in(client, shop.users["pharmacist"])
    assert client.get("/assureur/file").status_code == 403
