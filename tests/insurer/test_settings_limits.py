"""Insurer admin: line and claim ceilings, quantity limits, refill threshold and late claims, through a form
(checked by ``parse_insurer_config``, audited before → after, for new claims only)."""

from __future__ import annotations

from auth_helpers import audit_rows, csrf_from
from claims_helpers import drug, post_claim
from insurer_helpers import insurer_admin, signed_in

from dhamen.domain.catalogue import CARE_TYPES
from dhamen.domain.config import DEFAULT_CEILINGS, parse_insurer_config
from dhamen.domain.money import apply_rate, format_tnd

PATH = "/assureur/parametres/plafonds"


def _config(shop, label="A"):
    from dhamen.extensions import db
    from dhamen.models import Insurer

    db.session.expire_all()
    return db.session.get(Insurer, shop.insurers[label].id).config_json


def _form(client, **changes) -> dict:
    """The limits form as the page shows it (current values), with ``changes``."""
    html = client.get("/assureur/parametres").get_data(as_text=True)
    form = {"csrf_token": csrf_from(html), "refill_threshold": "75", "max_care_age_days": "30"}
    for kind, table in DEFAULT_CEILINGS.items():
        for care_type, amount in table.items():
            form[f"ceil-{kind}-{care_type}"] = format_tnd(amount, with_unit=False)
    return {**form, **changes}


def _data(response):
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]


def test_the_page_shows_the_current_ceilings_and_limits_as_a_form(client, shop):
    signed_in(client, insurer_admin(shop))
    html = client.get("/assureur/parametres").get_data(as_text=True)
    assert "Plafonds et limites de quantité" in html and 'action="/assureur/parametres/plafonds"' in html
    assert f'name="ceil-line-pharmacy" value="{format_tnd(1_000_000, with_unit=False)}"' in html
    assert f'name="ceil-claim-hospitalization" value="{format_tnd(50_000_000, with_unit=False)}"' in html
    assert 'name="refill_threshold" value="75"' in html and 'id="qty-0-code" value=""' in html
    assert "<textarea" not in html.split("Plafonds et limites")[1].split("</section>")[0]  # never raw JSON


def test_ceilings_apply_to_new_claims_and_are_never_paid_silently(client, shop):
    before = _data(post_claim(client, shop, contract="active", items=[drug("PH0009", 6, 2_100)]))
    assert before["status"] == "approved"
    admin = insurer_admin(shop)
    signed_in(client, admin)
    r = client.post(PATH, data=_form(client, **{"ceil-line-pharmacy": "12", "ceil-claim-pharmacy": "15,000"}))
    assert r.status_code == 302, r.get_data(as_text=True)
    config = _config(shop)
    assert config["ceilings"]["line"]["pharmacy"] == 12_000 and config["ceilings"]["claim"]["pharmacy"] == 15_000
    assert config["ceilings"]["line"]["lab"] == DEFAULT_CEILINGS["line"]["lab"]
    settings = parse_insurer_config(config)
    assert settings.line_ceilings["pharmacy"] == 12_000 and settings.claim_ceilings["pharmacy"] == 15_000
    (row,) = audit_rows("insurer.settings")
    assert row.changes_json["section"] == "limits"
    change = row.changes_json["changes"]["ceilings"]
    assert change["before"] is None and change["after"]["line"]["pharmacy"] == 12_000
    assert "Plafonds et limites enregistrés" in client.get("/assureur/parametres").get_data(as_text=True)

    # a line above the line ceiling (6 × 2,100 = 12,600) is not paid
    line = _data(post_claim(client, shop, contract="unlimited", items=[drug("PH0009", 6, 2_100)]))
    assert line["status"] == "rejected" and line["coveredAmount"] == 0 and line["reasonCode"] == "LINE_CEILING"
    assert "plafond par ligne (12,000 TND)" in line["items"][0]["ruleApplied"]
    # submitted to the insurer, it waits for an agent
    body = {"contractId": shop.contracts["unlimited"].id, "items": [drug("PH0009", 6, 2_100)],
            "submitToInsurer": True}
    submitted = _data(post_claim(client, shop, body=body))
    assert submitted["status"] == "pending_review" and submitted["reasonCode"] == "SUBMITTED"
    # lines under the line ceiling, above the claim ceiling together (8,200 + 11,800 = 20,000): review
    claim = _data(post_claim(client, shop, contract="unlimited",
                             items=[drug("PH0018", 2, 4_100), drug("PH0026", 2, 5_900)]))
    assert claim["status"] == "pending_review" and claim["reasonCode"] == "CLAIM_CEILING"
    assert "plafond par demande (15,000 TND)" in claim["reason"]
    # the claim stored before the change keeps what it was given
    stored = client.get(f"/api/v1/claims/{before['id']}", headers=shop.auth("pharmacist")).get_json()["data"]
    assert stored["status"] == "approved" and stored["coveredAmount"] == before["coveredAmount"]


def test_quantity_limit_caps_the_line_across_the_members_claims(client, shop):
    signed_in(client, insurer_admin(shop))
    r = client.post(PATH, data=_form(client, **{"qty-0-code": "ph0009", "qty-0-quantity": "3",
                                                "qty-0-days": "30"}))
    assert r.status_code == 302, r.get_data(as_text=True)
    assert _config(shop)["quantity_limits"] == {"PH0009": {"quantity": 3, "days": 30}}
    html = client.get("/assureur/parametres").get_data(as_text=True)
    assert 'id="qty-0-code" value="PH0009"' in html and 'id="qty-0-quantity" value="3"' in html
    # 5 asked, 3 allowed: only 3 covered, the rest is not paid
    data = _data(post_claim(client, shop, contract="unlimited", items=[drug("PH0009", 5, 2_100)]))
    assert data["status"] == "approved" and data["reasonCode"] == "LINES_REFUSED"
    assert data["coveredAmount"] == apply_rate(3 * 2_100, 8000)
    assert "QUANTITY_LIMIT" in data["items"][0]["reasonCodes"]
    # removing the limit (blank row) restores the catalogue's rules
    r = client.post(PATH, data=_form(client, **{"qty-0-code": "", "qty-0-quantity": "", "qty-0-days": ""}))
    assert r.status_code == 302 and "quantity_limits" not in _config(shop)
    change = audit_rows("insurer.settings")[-1].changes_json["changes"]["quantity_limits"]
    assert change == {"before": {"PH0009": {"quantity": 3, "days": 30}}, "after": None}


def test_refill_threshold_and_late_claims_are_saved(client, shop):
    signed_in(client, insurer_admin(shop))
    r = client.post(PATH, data=_form(client, refill_threshold="90", max_care_age_days="10"))
    assert r.status_code == 302
    settings = parse_insurer_config(_config(shop))
    assert (settings.refill_threshold, settings.max_care_age_days) == (90, 10)
    from datetime import date, timedelta

    late = _data(post_claim(client, shop, contract="unlimited", items=[drug("PH0009", 1, 2_100)],
                            careDate=(date.today() - timedelta(days=15)).isoformat()))
    assert late["status"] == "pending_review" and late["reasonCode"] == "LATE_CLAIM"


def test_every_error_is_in_french_and_nothing_is_saved(client, shop):
    signed_in(client, insurer_admin(shop))
    config = _config(shop)
    cases = [
        ({"ceil-line-pharmacy": "abc"}, "Plafond par ligne, pharmacie : Montant invalide"),
        ({"ceil-claim-lab": ""}, "Plafond par demande, analyses"),
        ({"ceil-line-consultation": "0"}, "Plafond par ligne, consultation : un montant de 0,001 TND"),
        ({"ceil-claim-pharmacy": "2 000 000"}, f"Plafond par demande, pharmacie : un montant de 0,001 TND à {format_tnd(10**9)}"),
        ({"ceil-line-pharmacy": "-1"}, "ne peut pas être négatif"),
        ({"ceil-line-pharmacy": "3 000"}, f"Pharmacie : le plafond par ligne ({format_tnd(3_000_000)}) ne peut pas dépasser le plafond par demande "
         f"({format_tnd(2_000_000)})"),
        ({"refill_threshold": "0"}, "Renouvellement : part du traitement écoulée (%) : un nombre entier de 1 à 100"),
        ({"max_care_age_days": "400"}, "Ancienneté maximale des soins (jours) : un nombre entier de 1 à 365"),
        ({"qty-0-code": "X;Y", "qty-0-quantity": "2", "qty-0-days": "30"}, "Limite 1 : code invalide"),
        ({"qty-1-code": "PH0009", "qty-1-quantity": "x", "qty-1-days": "30"}, "Limite 2, quantité : un nombre entier de 0 à 999"),
        ({"qty-0-code": "PH0009", "qty-0-quantity": "2", "qty-0-days": "0"}, "Limite 1, période : un nombre entier de 1 à 365"),
        ({"qty-0-code": "PH0009", "qty-0-quantity": "2"}, "Limite 1, période"),
        ({"qty-0-code": "PH0009", "qty-0-quantity": "2", "qty-0-days": "7",
          "qty-1-code": "ph0009", "qty-1-quantity": "1", "qty-1-days": "7"}, "Limite 2 : le code PH0009 figure deux fois"),
    ]
    for changes, message in cases:
        r = client.post(PATH, data=_form(client, **changes))
        html = r.get_data(as_text=True).replace("&#39;", "'")
        assert r.status_code == 422, changes
        assert message in html, (changes, message)
        assert "Rien n'a été enregistré" in html
    # what was typed is shown again
    r = client.post(PATH, data=_form(client, **{"ceil-line-pharmacy": "abc", "qty-3-code": "PH0001",
                                                "qty-3-quantity": "4", "qty-3-days": "9"}))
    html = r.get_data(as_text=True)
    assert 'value="abc"' in html and 'value="PH0001"' in html and 'aria-invalid="true"' in html
    assert _config(shop) == config and audit_rows("insurer.settings") == []


def test_an_admin_changes_its_own_insurer_only_and_agents_cannot(client, shop):
    other = _config(shop, "B")
    signed_in(client, insurer_admin(shop, "B"))
    r = client.post(PATH, data=_form(client, **{"ceil-line-pharmacy": "5"}))
    assert r.status_code == 302
    assert _config(shop, "B")["ceilings"]["line"]["pharmacy"] == 5_000 and other.get("ceilings") is None
    assert "ceilings" not in _config(shop, "A")  # STAR's admin never changes GAT, nor the reverse
    (row,) = audit_rows("insurer.settings")
    assert row.entity_id == shop.insurers["B"].id
    # STAR's counter claims keep the defaults
    data = _data(post_claim(client, shop, contract="unlimited", items=[drug("PH0009", 6, 2_100)]))
    assert data["status"] == "approved"
    client.get("/deconnexion")
    signed_in(client, shop.users["agentA"])
    token = csrf_from(client.get("/assureur/file").get_data(as_text=True))
    r = client.post(PATH, data={"csrf_token": token, "ceil-line-pharmacy": "1"})
    assert r.status_code == 403 and "ceilings" not in _config(shop, "A")


def test_every_care_type_has_its_two_ceiling_fields(client, shop):
    signed_in(client, insurer_admin(shop))
    html = client.get("/assureur/parametres").get_data(as_text=True)
    for kind in DEFAULT_CEILINGS:
        for care_type in CARE_TYPES:
            assert f'name="ceil-{kind}-{care_type}"' in html
