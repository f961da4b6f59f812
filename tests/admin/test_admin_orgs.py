"""Insurers and providers: list, search, create, edit, soft delete, restore, validation."""

from __future__ import annotations

import pytest
from admin_helpers import Page, admin_fixture, errors_of, orgs_fixture  # noqa: F401
from auth_helpers import audit_rows, make_user
from sqlalchemy import select

from dhamen.extensions import db
from dhamen.models import Insurer, Provider

PROVIDER = {"type": "pharmacist", "name": "Pharmacie du Lac", "license_no": "ph-2026-77", "speciality": "",
            "address": "3 rue du Lac Léman", "city": "Tunis", "lat": "36.8325", "lng": "10.2330", "phone": "",
            "email": "", "is_active": "y"}
INSURER = {"name": "COMAR Assurances", "code": "comar", "tax_id": "", "address": "", "phone": "+216 71 000 000",
           "email": "contact@comar.tn", "is_active": "y"}


def _count(model):
    db.session.expire_all()
    return db.session.scalar(select(db.func.count()).select_from(model))


def test_create_provider_then_list_with_french_labels(admin, orgs):
    r = admin.post("/admin/prestataires/nouveau", PROVIDER)
    assert r.status_code == 303
    provider = db.session.scalar(select(Provider).where(Provider.name == "Pharmacie du Lac"))
    assert (provider.license_no, provider.lat, provider.lng, provider.type) == ("PH-2026-77", 36.8325, 10.233,
                                                                               "pharmacist")
    assert audit_rows("provider.create")[0].changes_json["license_no"] == "PH-2026-77"
    html = admin.text("/admin/prestataires?type=pharmacist")
    assert "Pharmacie du Lac" in html and "Labo Pasteur" not in html and "<td>Pharmacie</td>" in html
    assert ">pharmacist<" not in html
    assert "Labo Pasteur" in admin.text("/admin/prestataires?q=pasteur")
    assert "Pharmacie du Lac" not in admin.text("/admin/prestataires?ville=Sfax")


@pytest.mark.parametrize(("over", "message"), [
    ({"type": ""}, "Type : choisissez le type de prestataire."),
    ({"type": "veterinaire"}, "Type : N'est pas un choix valide."),
    ({"name": ""}, "Nom : obligatoire."),
    ({"license_no": ""}, "Numéro d'agrément : obligatoire."),
    ({"license_no": "LIC-Pharmacie Lafayette"}, "Numéro d'agrément : « LIC-PHARMACIE LAFAYETTE » est déjà utilisé."),
    ({"address": ""}, "Adresse : obligatoire."),
    ({"city": ""}, "Ville : obligatoire."),
    ({"city": "75001"}, "Ville : un nom de ville, sans chiffres."),
    ({"lat": "48.85"}, "Latitude : hors de Tunisie"),
    ({"lng": "2.35"}, "Longitude : hors de Tunisie"),
    ({"lat": "abc"}, "Latitude :"),
    ({"lng": ""}, "Longitude : latitude et longitude vont ensemble"),
    ({"phone": "appelez-moi"}, "Téléphone : numéro invalide"),
    ({"email": "x@"}, "E-mail : adresse invalide."),
])
def test_provider_validation_names_the_field_and_saves_nothing(admin, orgs, over, message):
    before = _count(Provider)
    r = admin.post("/admin/prestataires/nouveau", dict(PROVIDER, **over))
    assert r.status_code == 422
    assert message in errors_of(r.get_data(as_text=True))
    assert _count(Provider) == before and not audit_rows("provider.create")


def test_create_edit_insurer_and_unique_code(admin, orgs):
    r = admin.post("/admin/assureurs/nouveau", INSURER)
    assert r.status_code == 303
    comar = db.session.scalar(select(Insurer).where(Insurer.code == "COMAR"))
    assert comar.config_json == {}
    r = admin.post("/admin/assureurs/nouveau", dict(INSURER, code="Star"))
    assert r.status_code == 422 and "Code : « STAR » est déjà utilisé." in errors_of(r.get_data(as_text=True))
    r = admin.post("/admin/assureurs/nouveau", dict(INSURER, code="CO MAR"))
    assert "Code : lettres, chiffres, - et _ seulement." in errors_of(r.get_data(as_text=True))
    r = admin.post(f"/admin/assureurs/{comar.id}", dict(INSURER, name="COMAR"))
    assert r.status_code == 303
    assert audit_rows("insurer.update")[0].changes_json == {"name": ["COMAR Assurances", "COMAR"]}
    r = admin.post(f"/admin/assureurs/{comar.id}", dict(INSURER, name="COMAR", code="GAT"))
    assert r.status_code == 422 and "Code : « GAT » est déjà utilisé." in errors_of(r.get_data(as_text=True))
    assert admin.get("/admin/assureurs/inconnu").status_code == 404


def test_soft_delete_keeps_the_row_hides_it_and_restores(admin, orgs):
    star = orgs["star"]
    agent = make_user("INSURER_AGENT", insurer=star)
    r = admin.post(f"/admin/assureurs/{star.id}/supprimer")
    assert "1 utilisateur(s) actif(s)" in admin.client.get(location(r)).get_data(as_text=True)
    agent.is_active = False
    db.session.commit()
    admin.post(f"/admin/assureurs/{star.id}/supprimer")
    db.session.expire_all()
    assert db.session.get(Insurer, star.id).deleted_at is not None
    assert ">STAR Assurances</a>" not in admin.text("/admin/assureurs")
    assert ">STAR Assurances</a>" in admin.text("/admin/assureurs?supprimes=oui")
    assert "STAR Assurances" not in admin.text("/admin/utilisateurs/nouveau")  # gone from the choices
    r = admin.post("/admin/assureurs/nouveau", dict(INSURER, code="STAR"))
    assert "Code : « STAR » est déjà utilisé (par un assureur supprimé)." in errors_of(r.get_data(as_text=True))
    admin.post(f"/admin/assureurs/{star.id}/restaurer")
    db.session.expire_all()
    assert db.session.get(Insurer, star.id).deleted_at is None
    assert [r.action for r in audit_rows() if r.entity_type == "insurer"] == ["insurer.delete", "insurer.restore"]


def test_provider_type_change_refused_while_users_hold_it(admin, orgs):
    make_user("PHARMACIST", provider=orgs["pharmacy"])
    p = orgs["pharmacy"]
    form = dict(PROVIDER, name=p.name, license_no=p.license_no, type="lab")
    r = admin.post(f"/admin/prestataires/{p.id}", form)
    assert r.status_code == 422 and "Type : 1 utilisateur(s)" in errors_of(r.get_data(as_text=True))


def location(r):
    from auth_helpers import location_path

    return location_path(r)


def test_insurer_users_cannot_manage_reference_data(app, ctx, orgs):
    page = Page(app, make_user("INSURER_ADMIN", insurer=orgs["star"], mfa=True))
    assert page.get("/admin/assureurs").status_code == 403
    assert page.post("/admin/prestataires/nouveau", PROVIDER).status_code == 403
    assert page.post(f"/admin/assureurs/{orgs['gat'].id}/supprimer").status_code == 403
