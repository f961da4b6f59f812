"""Admin users: list and filters, create, edit, role, temporary password, MFA reset, deactivation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from admin_helpers import Page, errors_of
from auth_helpers import (
    PASSWORD,
    audit_dump,
    audit_rows,
    bearer,
    fast_api_token,
    location_path,
    make_user,
    web_login,
)
from sqlalchemy import select

from dhamen.core.sqltypes import utcnow
from dhamen.extensions import db
from dhamen.models import User

NEW_PASSWORD = "Temporaire-Tres-Solide-8841"


def _new_user_form(orgs, **over):
    return {"email": "ph.nouveau@exemple.tn", "first_name": "Sami", "last_name": "Trabelsi", "role": "PHARMACIST",
            "organisation": f"provider:{orgs['pharmacy'].id}", "phone": "", "password": NEW_PASSWORD, **over}


def _user(email):
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == email))


def test_list_filters_search_and_keyset_pages(app, admin, orgs):
    make_user("PHARMACIST", email="a.pharma@exemple.tn", provider=orgs["pharmacy"], last_name="Pharma")
    agent = make_user("INSURER_AGENT", email="agent.gat@exemple.tn", insurer=orgs["gat"], mfa=True)
    off = make_user("LAB_MANAGER", email="off.lab@exemple.tn", provider=orgs["lab"])
    off.is_active = False
    agent.last_login_at = utcnow() - timedelta(days=2)
    db.session.commit()
    html = admin.text("/admin/?role=PHARMACIST")
    assert "a.pharma@exemple.tn" in html and "agent.gat@exemple.tn" not in html and "Pharmacien" in html
    html = admin.text(f"/admin/?org=insurer:{orgs['gat'].id}")
    assert "agent.gat@exemple.tn" in html and "a.pharma@" not in html
    html = admin.text("/admin/?actif=non")
    assert "off.lab@exemple.tn" in html and "agent.gat@" not in html
    html = admin.text("/admin/?mfa=oui")
    assert "agent.gat@exemple.tn" in html and "a.pharma@" not in html
    html = admin.text("/admin/?connexion=30j")
    assert "agent.gat@exemple.tn" in html and "a.pharma@" not in html
    html = admin.text("/admin/?connexion=jamais")
    assert "a.pharma@exemple.tn" in html and "agent.gat@" not in html
    html = admin.text("/admin/?q=PHARMA")
    assert "a.pharma@exemple.tn" in html and "off.lab@" not in html
    assert "PHARMACIST" not in html.split("<main")[1].split("<select")[0]  # labels, never the codes
    # Keyset pages: 60 users, 50 per page, no overlap, no gap.
    for i in range(60):
        make_user("DOCTOR", email=f"doc{i:02d}@exemple.tn", commit=False)
    db.session.commit()
    first = admin.text("/admin/?role=DOCTOR")
    import re

    cursor = re.search(r'href="/admin/\?apres=([^"&]+)', first)
    assert cursor, "a next-page link"
    second = admin.text(f"/admin/?apres={cursor.group(1)}&role=DOCTOR")
    page1 = set(re.findall(r"doc\d\d@", first))
    page2 = set(re.findall(r"doc\d\d@", second))
    assert len(page1) == 50 and len(page2) == 10 and not page1 & page2
    assert admin.get("/admin/?apres=n0nsense").status_code == 200  # a tampered cursor is the first page


@pytest.mark.parametrize(("over", "message"), [
    ({"email": ""}, "Adresse e-mail : obligatoire."),
    ({"email": "pas-une-adresse"}, "Adresse e-mail : adresse invalide."),
    ({"first_name": ""}, "Prénom : obligatoire."),
    ({"last_name": ""}, "Nom : obligatoire."),
    ({"password": ""}, "Mot de passe temporaire : obligatoire."),
    ({"password": "court"}, "Mot de passe temporaire : Le mot de passe doit contenir au moins"),
    ({"password": "password1234"}, "Mot de passe temporaire : Ce mot de passe est trop courant"),
    ({"organisation": ""}, "Organisation : choisissez le prestataire"),
    ({"role": "INSURER_AGENT"}, "Organisation : choisissez l'assureur"),
    ({"role": "ADMIN"}, "Organisation : un administrateur n'est rattaché à aucune organisation."),
    ({"role": "DOCTOR"}, "Organisation : un médecin se rattache à un prestataire de type « Cabinet médical »."),
    ({"email": "root@dhamen.tn"}, "Adresse e-mail : un utilisateur existe déjà avec cette adresse."),
])
def test_create_user_validation_names_the_field_and_saves_nothing(admin, orgs, over, message):
    before = db.session.scalar(select(db.func.count()).select_from(User))
    r = admin.post("/admin/utilisateurs/nouveau", _new_user_form(orgs, **over))
    assert r.status_code == 422
    assert message in errors_of(r.get_data(as_text=True))
    db.session.expire_all()
    assert db.session.scalar(select(db.func.count()).select_from(User)) == before
    assert not audit_rows("user.create")


def test_created_user_must_change_the_temporary_password_first(app, admin, orgs):
    r = admin.post("/admin/utilisateurs/nouveau", _new_user_form(orgs))
    assert r.status_code == 303
    user = _user("ph.nouveau@exemple.tn")
    assert user.must_change_password and user.provider_id == orgs["pharmacy"].id
    assert audit_rows("user.create")[0].changes_json["role"] == "PHARMACIST"
    client = app.test_client()
    r = web_login(client, "ph.nouveau@exemple.tn", NEW_PASSWORD)
    assert r.status_code == 302
    # Every page leads to the password change, and the API refuses everything but /auth/me.
    for path in ("/pharmacie/", "/compte", "/admin/"):
        r = client.get(path)
        assert r.status_code == 302 and location_path(r) == "/compte/mot-de-passe", path
    page = client.get("/compte/mot-de-passe").get_data(as_text=True)
    assert "temporaire" in page
    token = fast_api_token(user)
    r = client.get("/api/v1/claims", headers=bearer(token))
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "PASSWORD_CHANGE_REQUIRED"
    assert client.get("/api/v1/auth/me", headers=bearer(token)).get_json()["data"]["mustChangePassword"] is True
    from auth_helpers import csrf_from

    csrf = csrf_from(page)
    r = client.post("/compte/mot-de-passe", data={"csrf_token": csrf, "current": NEW_PASSWORD, "new": PASSWORD,
                                                  "confirm": PASSWORD})
    assert r.status_code == 302 and location_path(r) == "/connexion"
    assert _user("ph.nouveau@exemple.tn").must_change_password is False
    web_login(client, "ph.nouveau@exemple.tn", PASSWORD)
    assert client.get("/compte").status_code == 200


def test_edit_user_audits_before_and_after_and_refuses_a_taken_email(admin, orgs):
    user = make_user("PHARMACIST", email="edit.me@exemple.tn", provider=orgs["pharmacy"])
    form = {"email": "edited@exemple.tn", "first_name": "Nouveau", "last_name": user.last_name, "phone": ""}
    r = admin.post(f"/admin/utilisateurs/{user.id}", form)
    assert r.status_code == 303
    row = audit_rows("user.update")[0]
    assert row.changes_json == {"email": ["edit.me@exemple.tn", "edited@exemple.tn"],
                                "first_name": ["Test", "Nouveau"]}
    r = admin.post(f"/admin/utilisateurs/{user.id}", dict(form, email="root@dhamen.tn"))
    assert r.status_code == 422 and "Adresse e-mail : un autre utilisateur a déjà cette adresse." in errors_of(
        r.get_data(as_text=True))
    r = admin.post(f"/admin/utilisateurs/{user.id}", dict(form, first_name=""))
    assert r.status_code == 422 and "Prénom : obligatoire." in errors_of(r.get_data(as_text=True))
    assert _user("edited@exemple.tn").first_name == "Nouveau"
    assert admin.get("/admin/utilisateurs/nexistepas").status_code == 404


def test_edit_page_gives_the_role_password_mfa_and_deactivation_buttons(admin, orgs):
    user = make_user("PHARMACIST", email="btn@exemple.tn", provider=orgs["pharmacy"], mfa=True)
    html = admin.text(f"/admin/utilisateurs/{user.id}")
    for action in ("role", "mot-de-passe", "reinitialiser-mfa", "desactiver"):
        assert f'action="/admin/utilisateurs/{user.id}/{action}"' in html, action
    assert f'href="/admin/utilisateurs/{user.id}"' in admin.text("/admin/")


def test_role_change_checks_the_organisation_and_ends_sessions(app, admin, orgs):
    user = make_user("PHARMACIST", email="role@exemple.tn", provider=orgs["pharmacy"])
    page = Page(app, user)
    assert page.get("/compte").status_code == 200
    r = admin.post(f"/admin/utilisateurs/{user.id}/role", {"role": "LAB_MANAGER",
                                                          "organisation": f"provider:{orgs['pharmacy'].id}"})
    assert r.status_code == 303
    html = admin.client.get(location_path(r)).get_data(as_text=True)
    assert "Organisation : un responsable de laboratoire se rattache" in errors_of(html)
    assert _user("role@exemple.tn").role == "PHARMACIST"
    r = admin.post(f"/admin/utilisateurs/{user.id}/role", {"role": "BOSS"})
    assert "Rôle : rôle inconnu." in errors_of(admin.client.get(location_path(r)).get_data(as_text=True))
    r = admin.post(f"/admin/utilisateurs/{user.id}/role", {"role": "LAB_MANAGER",
                                                          "organisation": f"provider:{orgs['lab'].id}"})
    assert _user("role@exemple.tn").role == "LAB_MANAGER"
    assert audit_rows("user.role_change")[0].changes_json == {
        "role": ["PHARMACIST", "LAB_MANAGER"], "provider_id": [orgs["pharmacy"].id, orgs["lab"].id]}
    assert location_path(page.get("/compte")) == "/connexion"
    r = admin.post(f"/admin/utilisateurs/{admin.user.id}/role", {"role": "DOCTOR"})
    assert _user("root@dhamen.tn").role == "ADMIN"


def test_admin_password_reset_is_temporary_and_never_audited_in_clear(app, admin, orgs):
    user = make_user("LAB_MANAGER", email="lab.reset@exemple.tn", provider=orgs["lab"])
    page = Page(app, user)
    page.get("/compte")
    r = admin.post(f"/admin/utilisateurs/{user.id}/mot-de-passe", {"password": "court"})
    html = admin.client.get(location_path(r)).get_data(as_text=True)
    assert "Mot de passe temporaire : Le mot de passe doit contenir au moins 12" in errors_of(html)
    assert not _user("lab.reset@exemple.tn").must_change_password
    admin.post(f"/admin/utilisateurs/{user.id}/mot-de-passe", {"password": NEW_PASSWORD})
    assert _user("lab.reset@exemple.tn").must_change_password
    assert location_path(page.get("/compte")) == "/connexion"
    client = app.test_client()
    web_login(client, "lab.reset@exemple.tn", NEW_PASSWORD)
    assert location_path(client.get("/compte")) == "/compte/mot-de-passe"
    assert NEW_PASSWORD not in audit_dump()


def test_deactivation_ends_the_open_session_at_the_next_click(app, admin, orgs):
    user = make_user("PHARMACIST", email="bye@exemple.tn", provider=orgs["pharmacy"])
    page = Page(app, user)
    token = fast_api_token(user)
    assert page.get("/compte").status_code == 200
    r = admin.post(f"/admin/utilisateurs/{user.id}/desactiver")
    assert r.status_code == 303
    assert location_path(page.get("/compte")) == "/connexion"
    assert page.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    assert audit_rows("user.deactivate")[0].changes_json == {"is_active": [True, False]}
    r = admin.post(f"/admin/utilisateurs/{admin.user.id}/desactiver")
    assert "propre compte" in admin.client.get(location_path(r)).get_data(as_text=True)
    admin.post(f"/admin/utilisateurs/{user.id}/reactiver")
    assert _user("bye@exemple.tn").is_active


def test_repeated_deactivation_or_reactivation_changes_nothing_more(admin, orgs):
    user = make_user("PHARMACIST", email="twice@exemple.tn", provider=orgs["pharmacy"])
    for action in ("desactiver", "desactiver", "reactiver", "reactiver"):
        assert admin.post(f"/admin/utilisateurs/{user.id}/{action}").status_code == 303
    assert len(audit_rows("user.deactivate")) == 1 and len(audit_rows("user.reactivate")) == 1
    assert _user("twice@exemple.tn").is_active


def test_mfa_reset_from_the_edit_page(admin, orgs):
    user = make_user("PHARMACIST", email="mfa@exemple.tn", provider=orgs["pharmacy"], mfa=True)
    admin.post(f"/admin/utilisateurs/{user.id}/reinitialiser-mfa")
    assert _user("mfa@exemple.tn").mfa_enabled is False


@pytest.mark.parametrize("role", ["INSURER_ADMIN", "PHARMACIST"])
def test_only_admins_manage_users(app, ctx, orgs, role):
    org = {"insurer": orgs["star"]} if role == "INSURER_ADMIN" else {"provider": orgs["pharmacy"]}
    page = Page(app, make_user(role, mfa=True, **org))
    target = make_user("PHARMACIST", provider=orgs["pharmacy"])
    assert page.get("/admin/").status_code == 403
    assert page.post(f"/admin/utilisateurs/{target.id}/desactiver").status_code == 403
    assert _user(target.email).is_active
