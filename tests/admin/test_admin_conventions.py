"""Conventions of any insurer managed by the platform admin: list, create, edit, end — with the insurer
portal's own form and operations (``dhamen.insurer.conventions``), audited, French errors, nothing half-saved."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from admin_helpers import Page, errors_of
from auth_helpers import audit_rows, location_path, make_user
from sqlalchemy import func, select

from dhamen.extensions import db
from dhamen.models import Convention


def _form(orgs, **over) -> dict:
    return {"insurer_id": orgs["star"].id, "provider_id": orgs["pharmacy"].id,
            "start_date": date.today().isoformat(), "end_date": "", "version": "CONV-2026",
            "rate-pharmacy": "85", "generic_rate": "95", "rows-0-code": "PH0009", "rows-0-price": "1,900", **over}


def _count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Convention))


def _create(admin, orgs, **over) -> Convention:
    r = admin.post("/admin/conventions/nouvelle", _form(orgs, **over))
    assert r.status_code == 303, errors_of(r.get_data(as_text=True))
    return db.session.scalar(select(Convention).order_by(Convention.created_at.desc()).limit(1))


def test_admin_creates_a_convention_for_any_insurer_audited(admin, orgs):
    html = admin.text("/admin/conventions/nouvelle")
    assert 'name="insurer_id"' in html and "STAR Assurances (STAR)" in html and "GAT Assurances (GAT)" in html
    assert "Pharmacie Lafayette — Pharmacie, Tunis" in html and 'name="rows-0-code"' in html
    conv = _create(admin, orgs)
    assert (conv.insurer_id, conv.provider_id, conv.start_date, conv.end_date, conv.is_active) == (
        orgs["star"].id, orgs["pharmacy"].id, date.today(), None, True)
    assert conv.bareme_json == {"tariffs": {"PH0009": 1_900}, "version": "CONV-2026", "rates": {"pharmacy": "85"},
                                "generic_rate": "95"}
    row = audit_rows("convention.create")[0]
    assert row.user_id == admin.user.id and row.insurer_id == orgs["star"].id and row.entity_id == conv.id
    assert row.changes_json["bareme"]["tariffs"] == {"PH0009": 1_900}
    # the same provider with another insurer is another convention
    other = _create(admin, orgs, insurer_id=orgs["gat"].id)
    assert other.insurer_id == orgs["gat"].id and _count() == 2


@pytest.mark.parametrize(("over", "message"), [
    ({"insurer_id": ""}, "Choisissez l'assureur."),
    ({"insurer_id": "01NOTANINSURER000000000000"}, "Choisissez l'assureur."),
    ({"provider_id": ""}, "Choisissez le prestataire."),
    ({"start_date": ""}, "Date de début obligatoire."),
    ({"start_date": "31/02/2026"}, "Date de début invalide (AAAA-MM-JJ)."),
    ({"end_date": "2000-01-01"}, "La date de fin précède la date de début."),
    ({"rate-pharmacy": "185"}, "Taux pharmacie :"),
    ({"generic_rate": "abc"}, "Taux générique :"),
    ({"rows-0-price": "beaucoup"}, "Ligne 1 : Montant invalide : « beaucoup »."),
])
def test_convention_errors_are_french_and_save_nothing(admin, orgs, over, message):
    r = admin.post("/admin/conventions/nouvelle", _form(orgs, **over))
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert message in errors_of(html) and "Rien n'a été enregistré" in html
    assert _count() == 0 and audit_rows("convention.create") == []
    assert 'value="CONV-2026"' in html  # the posted values are shown again


def test_a_deleted_insurer_gets_no_new_convention(admin, orgs):
    from dhamen.core.sqltypes import utcnow

    orgs["gat"].deleted_at = utcnow()
    db.session.commit()
    r = admin.post("/admin/conventions/nouvelle", _form(orgs, insurer_id=orgs["gat"].id))
    assert r.status_code == 422 and "Choisissez l'assureur." in errors_of(r.get_data(as_text=True))
    assert "GAT Assurances" not in admin.text("/admin/conventions/nouvelle")


def test_second_convention_with_the_same_provider_is_refused(admin, orgs):
    _create(admin, orgs)
    r = admin.post("/admin/conventions/nouvelle", _form(orgs, version="AUTRE"))
    assert r.status_code == 422
    assert "Une convention existe déjà avec ce prestataire : modifiez-la." in errors_of(r.get_data(as_text=True))
    assert _count() == 1


def test_admin_edits_a_convention_audited_before_after(admin, orgs):
    conv = _create(admin, orgs)
    html = admin.text(f"/admin/conventions/{conv.id}")
    assert "Convention STAR Assurances — Pharmacie Lafayette" in html and 'value="1,900"' in html
    assert 'name="insurer_id"' not in html and 'name="provider_id"' not in html  # fixed once created
    r = admin.post(f"/admin/conventions/{conv.id}", _form(orgs, **{"rows-0-price": "1,800", "rate-pharmacy": ""}))
    assert r.status_code == 303 and location_path(r) == "/admin/conventions"
    db.session.expire_all()
    assert conv.bareme_json == {"tariffs": {"PH0009": 1_800}, "version": "CONV-2026", "generic_rate": "95"}
    change = audit_rows("convention.update")[0]
    assert change.insurer_id == orgs["star"].id
    assert change.changes_json["bareme"]["before"]["tariffs"] == {"PH0009": 1_900}
    assert change.changes_json["bareme"]["after"]["tariffs"] == {"PH0009": 1_800}
    # an unchanged form writes no audit row; a bad one changes nothing
    admin.post(f"/admin/conventions/{conv.id}", _form(orgs, **{"rows-0-price": "1,800", "rate-pharmacy": ""}))
    assert len(audit_rows("convention.update")) == 1
    r = admin.post(f"/admin/conventions/{conv.id}", _form(orgs, **{"rows-0-price": "beaucoup"}))
    assert r.status_code == 422 and "Ligne 1 : Montant invalide" in errors_of(r.get_data(as_text=True))
    db.session.expire_all()
    assert conv.bareme_json["tariffs"] == {"PH0009": 1_800} and len(audit_rows("convention.update")) == 1


def test_admin_ends_a_convention_and_bad_dates_are_refused(admin, orgs):
    conv = _create(admin, orgs, start_date=(date.today() - timedelta(days=30)).isoformat())
    r = admin.post(f"/admin/conventions/{conv.id}/fin", {"end_date": (date.today() - timedelta(days=60)).isoformat()})
    assert r.status_code == 303
    assert "La date de fin précède le début de la convention." in errors_of(admin.text(location_path(r)))
    r = admin.post(f"/admin/conventions/{conv.id}/fin", {"end_date": "demain"})
    assert "Date de fin invalide (AAAA-MM-JJ)." in errors_of(admin.text(location_path(r)))
    db.session.expire_all()
    assert conv.end_date is None and audit_rows("convention.end") == []
    yesterday = date.today() - timedelta(days=1)
    r = admin.post(f"/admin/conventions/{conv.id}/fin", {"end_date": yesterday.isoformat()})
    html = admin.text(location_path(r) + f"?assureur={orgs['star'].id}")
    assert f"terminée le {yesterday.strftime('%d/%m/%Y')}" in html and ">Terminée<" in html
    db.session.expire_all()
    assert conv.end_date == yesterday
    assert audit_rows("convention.end")[0].changes_json == {"end_date": {"before": None,
                                                                          "after": yesterday.isoformat()}}
    log = admin.text(f"/admin/journal?entite=convention&entite_id={conv.id}")
    assert "Convention terminée" in log and "Convention : création" in log


def test_list_filters_by_insurer_state_and_provider(admin, orgs):
    _create(admin, orgs)
    lab = _create(admin, orgs, insurer_id=orgs["gat"].id, provider_id=orgs["lab"].id)
    admin.post(f"/admin/conventions/{lab.id}/fin", {"end_date": date.today().isoformat()})
    db.session.execute(db.update(Convention).where(Convention.id == lab.id)
                       .values(end_date=date.today() - timedelta(days=1), start_date=date.today() - timedelta(days=9)))
    db.session.commit()

    def body(query: str = "") -> str:
        return admin.text("/admin/conventions" + query).split("<tbody>")[1]

    everything = body()
    assert "Pharmacie Lafayette" in everything and "Labo Pasteur" in everything and "2 conventions" in admin.text(
        "/admin/conventions")
    assert f'href="/admin/conventions?assureur={orgs["star"].id}"' in admin.text(f"/admin/assureurs/{orgs['star'].id}")
    only_star = body(f"?assureur={orgs['star'].id}")
    assert "Pharmacie Lafayette" in only_star and "Labo Pasteur" not in only_star
    assert "Labo Pasteur" not in body("?etat=en_vigueur") and "Labo Pasteur" in body("?etat=terminee")
    assert "Pharmacie Lafayette" not in body("?etat=terminee")
    assert "Labo Pasteur" in body("?q=pasteur") and "Pharmacie Lafayette" not in body("?q=pasteur")
    assert "Aucune convention ne correspond" in body("?q=inconnu")
    assert "Laboratoire" in everything and "Pharmacie ·" in everything  # French provider types


def test_the_insurer_portal_reads_what_the_admin_wrote_and_vice_versa(app, admin, orgs):
    conv = _create(admin, orgs)
    insurer_admin = Page(app, make_user("INSURER_ADMIN", insurer=orgs["star"], mfa=True))
    html = insurer_admin.text(f"/assureur/conventions/{conv.id}")
    assert 'value="CONV-2026"' in html and 'value="1,900"' in html
    r = insurer_admin.post(f"/assureur/conventions/{conv.id}", _form(orgs, **{"rows-0-price": "2,000"}))
    assert r.status_code == 302
    assert 'value="2,000"' in admin.text(f"/admin/conventions/{conv.id}")
    assert [r.action for r in audit_rows() if r.action.startswith("convention.")] == ["convention.create",
                                                                                       "convention.update"]


def test_conventions_are_for_the_platform_admin_only(app, admin, orgs):
    conv = _create(admin, orgs)
    for role, org in (("INSURER_ADMIN", {"insurer": orgs["star"]}), ("PHARMACIST", {"provider": orgs["pharmacy"]})):
        page = Page(app, make_user(role, mfa=True, **org))
        assert page.get("/admin/conventions").status_code == 403
        assert page.get(f"/admin/conventions/{conv.id}").status_code == 403
        assert page.post("/admin/conventions/nouvelle", _form(orgs, insurer_id=orgs["gat"].id)).status_code == 403
        assert page.post(f"/admin/conventions/{conv.id}/fin", {}).status_code == 403
    assert admin.get("/admin/conventions/01NOTACONVENTION0000000000").status_code == 404
    assert _count() == 1


def test_a_stored_rate_is_shown_back_as_entered(admin, orgs):
    """Saving the edit form unchanged must not turn 85 % into 0,85 % (both portals share this form code)."""
    conv = _create(admin, orgs)
    html = admin.text(f"/admin/conventions/{conv.id}")
    assert 'name="rate-pharmacy" value="85"' in html and 'name="generic_rate" value="95"' in html
