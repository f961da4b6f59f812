"""Insurer admin: settings through forms (checked by the domain, audited, new claims only), conventions, users."""

from __future__ import annotations

import io
from datetime import date, timedelta

from auth_helpers import audit_rows, csrf_from, location_path, make_user
from claims_helpers import drug, post_claim
from insurer_helpers import insurer_admin, signed_in

from dhamen.domain.fraud import DEFAULT_POINTS


def _token(client, path="/assureur/parametres"):
    return csrf_from(client.get(path).get_data(as_text=True))


def _config(shop, label="A"):
    from dhamen.extensions import db
    from dhamen.models import Insurer

    db.session.expire_all()
    return db.session.get(Insurer, shop.insurers[label].id).config_json


def test_agents_cannot_open_settings(client, shop):
    signed_in(client, shop.users["agentA"])
    for path in ("/assureur/parametres", "/assureur/conventions", "/assureur/utilisateurs",
                 "/assureur/parametres/bareme?type=pharmacy"):
        assert client.get(path).status_code == 403, path


def test_bareme_tariff_change_applies_to_new_claims_only(client, shop):
    before = post_claim(client, shop, items=[drug("PH0023", 1, 40_000)]).get_json()["data"]
    assert "TA-2026.1" in before["baremeVersion"]
    signed_in(client, insurer_admin(shop))
    page = client.get("/assureur/parametres/bareme?type=pharmacy").get_data(as_text=True)
    assert "PH0023" in page
    token = csrf_from(page)
    from dhamen.domain.catalogue import reference_bareme

    table = reference_bareme()["pharmacy"]
    form = {"csrf_token": token, "version": "TA-2026.1"}
    for n, (code, price) in enumerate(sorted(table.items())):
        form[f"rows-{n}-code"] = code
        form[f"rows-{n}-price"] = "30,000" if code == "PH0023" else f"{price // 1000},{price % 1000:03d}"
    r = client.post("/assureur/parametres/bareme?type=pharmacy", data=form)
    assert r.status_code == 422 and "donnez une nouvelle version" in r.get_data(as_text=True)
    assert _config(shop)["bareme"]["pharmacy"]["PH0023"] == table["PH0023"]
    r = client.post("/assureur/parametres/bareme?type=pharmacy", data={**form, "version": "TA-2026.2"})
    assert r.status_code == 302
    config = _config(shop)
    assert config["bareme"]["pharmacy"]["PH0023"] == 30_000 and config["bareme_version"] == "TA-2026.2"
    (row,) = audit_rows("insurer.settings")
    assert row.changes_json["changes"]["bareme"] == [{"type": "pharmacy", "code": "PH0023",
                                                      "before": table["PH0023"], "after": 30_000}]
    assert row.changes_json["changes"]["bareme_version"] == {"before": "TA-2026.1", "after": "TA-2026.2"}
    after = post_claim(client, shop, items=[drug("PH0023", 1, 40_000)]).get_json()["data"]
    assert after["items"][0]["cappedUnitPrice"] == 30_000 and "TA-2026.2" in after["baremeVersion"]
    stored = client.get(f"/api/v1/claims/{before['id']}", headers=shop.auth("pharmacist")).get_json()["data"]
    assert stored["baremeVersion"] == before["baremeVersion"] and stored["coveredAmount"] == before["coveredAmount"]


def test_bareme_row_errors_are_reported_and_nothing_saved(client, shop):
    signed_in(client, insurer_admin(shop))
    token = _token(client)
    r = client.post("/assureur/parametres/bareme?type=lab", data={
        "csrf_token": token, "version": "V2", "rows-0-code": "B1", "rows-0-price": "abc",
        "rows-1-code": "B1", "rows-1-price": "2", "rows-2-code": "", "rows-2-price": "5", "rows-3-code": "X;Y",
        "rows-3-price": "1"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    for text in ("Ligne 1 : Montant invalide", "Ligne 3 : code invalide", "Ligne 4 : code invalide"):
        assert text in html, text
    assert _config(shop)["bareme_version"] == "TA-2026.1" and audit_rows("insurer.settings") == []
    assert client.get("/assureur/parametres/bareme?type=dentaire").status_code == 404


def test_csv_import_all_or_nothing_with_a_row_by_row_report(client, shop):
    signed_in(client, insurer_admin(shop))
    token = _token(client)
    bad = "type;code;tarif\npharmacy;PH0001;6,000\nvoyage;X1;2\nlab;B2;-1\nlab;B3\n"
    r = client.post("/assureur/parametres/bareme/import", data={
        "csrf_token": token, "version": "TA-2026.3", "fichier": (io.BytesIO(bad.encode()), "b.csv")},
        content_type="multipart/form-data")
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "rien n&#39;a été importé" in html
    assert "Type de soin inconnu « voyage »" in html and "ne peut pas être négatif" in html and "3 colonnes" in html
    assert _config(shop)["bareme"]["pharmacy"]["PH0001"] != 6_000
    good = "Pharmacie;ph0001;6,000\nlab;B2;1,500\n"
    r = client.post("/assureur/parametres/bareme/import", data={
        "csrf_token": token, "version": "TA-2026.3", "fichier": (io.BytesIO(good.encode()), "b.csv")},
        content_type="multipart/form-data")
    assert r.status_code == 302
    config = _config(shop)
    assert config["bareme"]["pharmacy"]["PH0001"] == 6_000 and config["bareme"]["lab"]["B2"] == 1_500
    assert config["bareme_version"] == "TA-2026.3"


def test_general_and_fraud_forms_are_checked_by_the_domain(client, shop):
    signed_in(client, insurer_admin(shop))
    token = _token(client)
    r = client.post("/assureur/parametres/general", data={"csrf_token": token, "retention_rate": "150",
                                                         "reconciliation_cycle": "monthly"})
    assert r.status_code == 422 and "Taux de retenue" in r.get_data(as_text=True)
    r = client.post("/assureur/parametres/general", data={"csrf_token": token, "retention_rate": "2,5",
                                                         "reconciliation_cycle": "weekly",
                                                         "hospitalization_auto_approve": "1"})
    assert r.status_code == 302
    config = _config(shop)
    assert (config["retention_rate"], config["reconciliation_cycle"], config["hospitalization_auto_approve"]) == \
        (2.5, "weekly", True)
    fraud = {"csrf_token": token, "review_threshold": "80", "block_threshold": "60", "duplicate_window_days": "3",
             "max_claims_per_30_days": "8", "distance_km": "150", "amount_factor": "3",
             **{f"points-{c}": "20" for c in DEFAULT_POINTS}}
    r = client.post("/assureur/parametres/fraude", data=fraud)
    assert r.status_code == 422 and "seuil de contrôle doit être inférieur" in r.get_data(as_text=True)
    r = client.post("/assureur/parametres/fraude", data={**fraud, "review_threshold": "30", "points-DUPLICATE": "x"})
    assert r.status_code == 422 and "Doublon probable : un nombre de points" in r.get_data(as_text=True)
    r = client.post("/assureur/parametres/fraude", data={**fraud, "review_threshold": "30"})
    assert r.status_code == 302
    assert _config(shop)["fraud"]["review_threshold"] == 30 and _config(shop)["fraud"]["points"]["DUPLICATE"] == 20
    sections = [r.changes_json["section"] for r in audit_rows("insurer.settings")]
    assert sorted(sections) == ["fraud", "general"]
    assert _config(shop, "B")["fraud"]["review_threshold"] == 40  # the other insurer is untouched


def test_conventions_create_edit_end_and_scoping(client, shop):
    from dhamen.extensions import db
    from dhamen.models import Convention, Provider

    newcomer = Provider(type="pharmacist", name="Pharmacie Nouvelle", license_no="T-NEW", address="2 rue",
                        city="Sfax")
    db.session.add(newcomer)
    db.session.commit()
    signed_in(client, insurer_admin(shop))
    html = client.get("/assureur/conventions").get_data(as_text=True)
    assert "Pharmacie Test" in html and "6 conventions" in html
    token = _token(client, "/assureur/conventions/nouvelle")
    form = {"csrf_token": token, "provider_id": newcomer.id, "start_date": date.today().isoformat(),
            "version": "CONV-NEW", "rate-pharmacy": "85", "generic_rate": "95", "rows-0-code": "PH0009",
            "rows-0-price": "1,900"}
    r = client.post("/assureur/conventions/nouvelle", data={**form, "rate-pharmacy": "185"})
    assert r.status_code == 422 and "Taux pharmacie" in r.get_data(as_text=True)
    r = client.post("/assureur/conventions/nouvelle", data=form)
    assert r.status_code == 302
    conv = db.session.scalar(db.select(Convention).where(Convention.provider_id == newcomer.id))
    assert conv.bareme_json == {"tariffs": {"PH0009": 1_900}, "version": "CONV-NEW", "rates": {"pharmacy": "85"},
                                "generic_rate": "95"}
    r = client.post("/assureur/conventions/nouvelle", data=form)
    assert r.status_code == 422 and "existe déjà" in r.get_data(as_text=True)
    r = client.post(f"/assureur/conventions/{conv.id}", data={**form, "rows-0-price": "1,800"})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Convention, conv.id).bareme_json["tariffs"] == {"PH0009": 1_800}
    r = client.post(f"/assureur/conventions/{conv.id}/fin", data={"csrf_token": token,
                                                                  "end_date": date.today().isoformat()})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Convention, conv.id).end_date == date.today()
    actions = sorted(r.action for r in audit_rows() if r.action.startswith("convention."))
    assert actions == ["convention.create", "convention.end", "convention.update"]
    # another insurer's admin: not found
    signed_in(client, insurer_admin(shop, "B"))
    assert client.get(f"/assureur/conventions/{conv.id}").status_code == 404
    token = _token(client, "/assureur/conventions")
    assert client.post(f"/assureur/conventions/{conv.id}/fin", data={"csrf_token": token}).status_code == 404


def test_convention_tariff_overrides_the_bareme_for_new_claims(client, shop):
    signed_in(client, insurer_admin(shop))
    from dhamen.extensions import db
    from dhamen.models import Convention

    conv = db.session.scalar(db.select(Convention).where(Convention.provider_id == shop.providers["pharmacist"].id))
    token = _token(client, f"/assureur/conventions/{conv.id}")
    r = client.post(f"/assureur/conventions/{conv.id}", data={
        "csrf_token": token, "start_date": (date.today() - timedelta(days=800)).isoformat(), "version": "CONV-2",
        "rows-0-code": "PH0009", "rows-0-price": "1,000"})
    assert r.status_code == 302
    data = post_claim(client, shop, items=[drug("PH0009", 1, 2_100)]).get_json()["data"]
    assert data["items"][0]["cappedUnitPrice"] == 1_000 and "CONVENTION_TARIFF" in data["items"][0]["reasonCodes"]


def test_insurer_admin_manages_own_users_only(client, shop):
    from dhamen.extensions import db
    from dhamen.models import User

    admin = insurer_admin(shop)
    agent_b = shop.users["agentB"]
    mfa_agent = make_user("INSURER_AGENT", insurer=shop.insurers["A"], mfa=True)
    signed_in(client, admin)
    html = client.get("/assureur/utilisateurs").get_data(as_text=True)
    assert shop.users["agentA"].email in html and agent_b.email not in html
    token = csrf_from(html)
    r = client.post("/assureur/utilisateurs", data={"csrf_token": token, "email": "nouvel.agent@star.tn",
                                                    "first_name": "Nouvel", "last_name": "Agent",
                                                    "role": "INSURER_AGENT", "password": "court"})
    assert r.status_code == 422
    r = client.post("/assureur/utilisateurs", data={"csrf_token": token, "email": "nouvel.agent@star.tn",
                                                    "first_name": "Nouvel", "last_name": "Agent", "role": "ADMIN",
                                                    "password": "Correct-Horse-Battery-42"})
    assert r.status_code == 422 and "Choisissez agent ou administrateur" in r.get_data(as_text=True)
    r = client.post("/assureur/utilisateurs", data={"csrf_token": token, "email": "nouvel.agent@star.tn",
                                                    "first_name": "Nouvel", "last_name": "Agent",
                                                    "role": "INSURER_AGENT", "password": "Correct-Horse-Battery-42"})
    assert r.status_code == 302
    created = db.session.scalar(db.select(User).where(User.email == "nouvel.agent@star.tn"))
    assert created.insurer_id == shop.insurers["A"].id and created.role == "INSURER_AGENT"
    r = client.post(f"/assureur/utilisateurs/{shop.users['agentA'].id}/desactiver", data={"csrf_token": token})
    assert r.status_code == 302
    r = client.post(f"/assureur/utilisateurs/{mfa_agent.id}/reinitialiser-mfa", data={"csrf_token": token})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, shop.users["agentA"].id).is_active is False
    assert db.session.get(User, mfa_agent.id).mfa_enabled is False
    for action in ("desactiver", "reinitialiser-mfa", "reactiver"):
        r = client.post(f"/assureur/utilisateurs/{agent_b.id}/{action}", data={"csrf_token": token})
        assert r.status_code == 404
    db.session.expire_all()
    assert db.session.get(User, agent_b.id).is_active is True
    assert {r.action for r in audit_rows()} >= {"user.create", "user.mfa_reset"}


def test_insurer_admin_user_actions_are_the_admin_portals(client, shop):
    """The same operations as the platform admin's: not one's own account, a repeated action audited once."""
    admin = insurer_admin(shop)
    agent = shop.users["agentA"]
    signed_in(client, admin)
    token = csrf_from(client.get("/assureur/utilisateurs").get_data(as_text=True))
    r = client.post(f"/assureur/utilisateurs/{admin.id}/desactiver", data={"csrf_token": token})
    assert "propre compte" in client.get(location_path(r)).get_data(as_text=True)
    for action in ("desactiver", "desactiver", "reactiver", "reactiver"):
        assert client.post(f"/assureur/utilisateurs/{agent.id}/{action}", data={"csrf_token": token}).status_code == 302
    assert [row.action for row in audit_rows() if row.entity_id in (agent.id, admin.id)
            and row.action.startswith("user.")] == ["user.deactivate", "user.reactivate"]


def test_a_whole_retention_rate_is_shown_back_as_typed(client, shop):
    """2 % is shown as « 2 » (not « 0,02 »): saving the form unchanged keeps the rate."""
    signed_in(client, insurer_admin(shop))
    token = _token(client)
    for typed, shown in (("2", 'value="2"'), ("2,5", 'value="2,5"')):
        r = client.post("/assureur/parametres/general", data={"csrf_token": token, "retention_rate": typed,
                                                             "reconciliation_cycle": "monthly"})
        assert r.status_code == 302
        assert shown in client.get("/assureur/parametres").get_data(as_text=True)
    assert _config(shop)["retention_rate"] == 2.5
