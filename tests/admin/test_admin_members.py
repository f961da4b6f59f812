"""Members and contracts: search (POST, never the national ID in a URL), encrypted fields,
structured coverage form, dates, unique numbers, status transitions."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from admin_helpers import Page, errors_of
from auth_helpers import audit_dump, audit_rows, location_path, make_user
from sqlalchemy import select, text

from dhamen.extensions import db
from dhamen.models import Adherent, Contract

MEMBER = {"national_id": "09 876 543", "first_name": "Amira", "last_name": "Ben Salah", "date_of_birth": "1985-03-14",
          "gender": "F", "phone": "+216 98 123 456", "email": "amira@example.tn", "address": "12 rue de Marseille",
          "city": "Tunis"}


def _contract_form(orgs, **over):
    today = date.today()
    return {"insurer_id": orgs["star"].id, "contract_number": "star-2026-0001", "plan_type": "family",
            "start_date": (today - timedelta(days=10)).isoformat(), "end_date": (today + timedelta(days=355)).isoformat(),
            "carence_days": "30", "annual_limit": "5 000,000", "exclusions": "cat:cosmetique\nKC*",
            "pharmacy_covered": "on", "pharmacy_rate": "80", "pharmacy_generic_rate": "90",
            "consultation_covered": "on", "consultation_rate": "72,5",
            "hospitalization_covered": "on", "hospitalization_rate": "100", "hospitalization_room_day_cap": "120",
            "payer_rank": "1", **over}


@pytest.fixture(name="member")
def member_fixture(admin, orgs):
    r = admin.post("/admin/adherents/nouveau", MEMBER)
    assert r.status_code == 303, errors_of(r.get_data(as_text=True))
    return db.session.scalar(select(Adherent).where(Adherent.last_name == "Ben Salah"))


def test_member_is_stored_encrypted_shown_masked_and_audited_without_secrets(admin, member):
    assert member.national_id == "09876543" and member.phone == "+216 98 123 456"
    raw = db.session.execute(text("SELECT national_id_encrypted, phone_encrypted FROM adherents")).one()
    assert "09876543" not in raw[0] and "98 123" not in raw[1]
    html = admin.text(f"/admin/adherents/{member.id}")
    assert "•••••543" in html and "09876543" not in html and "98 123 456" not in html
    edit = admin.text(f"/admin/adherents/{member.id}/modifier")
    assert "09876543" not in edit and "Laissez vide pour le conserver" in edit
    dump = audit_dump()
    assert "09876543" not in dump and "98 123 456" not in dump
    assert audit_rows("member.create")[0].changes_json["first_name"] == "Amira"


def test_search_by_national_id_is_a_post_and_finds_by_keyed_hash(admin, member):
    r = admin.post("/admin/adherents", {"cin": "09.876.543"})
    assert r.status_code == 303 and location_path(r) == f"/admin/adherents/{member.id}"
    assert "09876543" not in r.headers["Location"]
    r = admin.post("/admin/adherents", {"cin": "11111111"})
    assert r.status_code == 200 and "Aucun adhérent ne correspond" in r.get_data(as_text=True)
    # The search form posts: the national ID never goes into a URL.
    html = admin.text("/admin/adherents")
    assert 'method="post" action="/admin/adherents"' in html and 'name="cin"' in html


def test_search_by_contract_number_and_by_name_with_birth_date(admin, orgs, member):
    admin.post(f"/admin/adherents/{member.id}/contrats/nouveau", _contract_form(orgs))
    r = admin.post("/admin/adherents", {"contrat": "STAR-2026-0001"})
    assert location_path(r) == f"/admin/adherents/{member.id}"
    r = admin.post("/admin/adherents", {"nom": "amira ben", "naissance": "1985-03-14"})
    assert r.status_code == 200 and f"/admin/adherents/{member.id}" in r.get_data(as_text=True)
    r = admin.post("/admin/adherents", {"nom": "amira", "naissance": "1990-01-01"})
    assert f"/admin/adherents/{member.id}" not in r.get_data(as_text=True)
    r = admin.post("/admin/adherents", {"nom": "amira"})
    assert r.status_code == 422 and "Date de naissance : obligatoire pour une recherche par nom." in errors_of(
        r.get_data(as_text=True))
    r = admin.post("/admin/adherents", {})
    assert r.status_code == 422 and "Recherche : saisissez" in errors_of(r.get_data(as_text=True))


@pytest.mark.parametrize(("over", "message"), [
    ({"national_id": ""}, "Numéro CIN : obligatoire."),
    ({"national_id": "12"}, "Numéro CIN : 8 chiffres (CIN) ou un numéro de passeport."),
    ({"first_name": ""}, "Prénom : obligatoire."),
    ({"last_name": "B3n"}, "Nom : lettres seulement."),
    ({"date_of_birth": ""}, "Date de naissance : obligatoire (jj/mm/aaaa)."),
    ({"date_of_birth": "31/02/1990"}, "Date de naissance : N'est pas une date valide."),
    ({"date_of_birth": (date.today() + timedelta(days=3)).isoformat()}, "Date de naissance : ne peut pas être dans le futur."),
    ({"gender": "X"}, "Sexe : N'est pas un choix valide."),
    ({"phone": "abc"}, "Téléphone : numéro invalide"),
    ({"email": "amira@"}, "E-mail : adresse invalide."),
])
def test_member_validation_names_the_field_and_saves_nothing(admin, orgs, over, message):
    r = admin.post("/admin/adherents/nouveau", dict(MEMBER, **over))
    assert r.status_code == 422
    assert message in errors_of(r.get_data(as_text=True))
    assert db.session.scalar(select(db.func.count()).select_from(Adherent)) == 0


def test_duplicate_national_id_is_refused(admin, member):
    r = admin.post("/admin/adherents/nouveau", dict(MEMBER, first_name="Autre"))
    assert r.status_code == 422 and "Numéro CIN : un adhérent est déjà enregistré" in errors_of(r.get_data(as_text=True))


def test_edit_member_keeps_the_national_id_when_left_empty(admin, member):
    r = admin.post(f"/admin/adherents/{member.id}/modifier", dict(MEMBER, national_id="", phone="", city="Sfax"))
    assert r.status_code == 303
    db.session.expire_all()
    assert member.national_id == "09876543" and member.phone == "+216 98 123 456" and member.city == "Sfax"
    assert audit_rows("member.update")[0].changes_json == {"city": ["Tunis", "Sfax"]}
    admin.post(f"/admin/adherents/{member.id}/modifier", dict(MEMBER, national_id="12345678", phone=""))
    db.session.expire_all()
    assert member.national_id == "12345678"
    assert audit_rows("member.update")[1].changes_json["national_id"] == "[masqué]"


def test_contract_from_the_structured_form_is_what_the_engine_reads(admin, orgs, member):
    r = admin.post(f"/admin/adherents/{member.id}/contrats/nouveau", _contract_form(orgs))
    assert r.status_code == 303, errors_of(r.get_data(as_text=True))
    c = db.session.scalar(select(Contract))
    assert c.coverage_json == {"pharmacy": {"rate": 80, "generic_rate": 90}, "consultation": {"rate": "72.5"},
                               "hospitalization": {"rate": 100, "room_day_cap": 120000}}
    assert c.exclusions_json == ["cat:cosmetique", "KC*"]
    assert (c.contract_number, c.annual_limit, c.carence_days, c.status) == ("STAR-2026-0001", 5_000_000, 30, "active")
    from dhamen.domain.eligibility import parse_coverage

    assert parse_coverage(c.coverage_json)["consultation"].rate_bp == 7250
    # The edit page shows the same values back in the form, never JSON.
    html = admin.text(f"/admin/contrats/{c.id}")
    assert 'name="consultation_rate" value="72,5"' in html and 'name="hospitalization_room_day_cap" value="120,000"' in html
    assert "<textarea" in html and '"rate"' not in html
    r = admin.post(f"/admin/contrats/{c.id}", _contract_form(orgs, consultation_covered="", pharmacy_rate="85"))
    assert r.status_code == 303
    change = audit_rows("contract.update")[0].changes_json["coverage_json"]
    assert change[1]["pharmacy"]["rate"] == 85 and "consultation" not in change[1]


@pytest.mark.parametrize(("over", "message"), [
    ({"insurer_id": ""}, "Assureur : choisissez l'assureur."),
    ({"contract_number": ""}, "Numéro de contrat : obligatoire."),
    ({"contract_number": "N° 1"}, "Numéro de contrat : lettres, chiffres"),
    ({"end_date": "2020-01-01"}, "Fin : la date de fin précède la date de début."),
    ({"start_date": ""}, "Début : obligatoire (jj/mm/aaaa)."),
    ({"carence_days": "-3"}, "Délai de carence (jours) : entre 0 et 3650 jours."),
    ({"annual_limit": "beaucoup"}, "Plafond annuel :"),
    ({"pharmacy_rate": "120"}, "Couverture Pharmacie, taux : Le taux doit être compris entre 0 et 100 %."),
    ({"pharmacy_rate": ""}, "Couverture Pharmacie, taux : obligatoire pour un type de soin couvert."),
    ({"pharmacy_generic_rate": "abc"}, "Couverture Pharmacie, taux générique :"),
    ({"hospitalization_room_day_cap": "0"}, "Couverture Hospitalisation, plafond journalier de chambre : un montant"),
    ({"pharmacy_covered": "", "consultation_covered": "", "hospitalization_covered": ""},
     "Couverture : cochez au moins un type de soin couvert."),
    ({"exclusions": "cat:"}, "Exclusions : Exclusion n° 1 « cat: » : motif vide."),
])
def test_contract_validation_names_the_field_and_saves_nothing(admin, orgs, member, over, message):
    r = admin.post(f"/admin/adherents/{member.id}/contrats/nouveau", _contract_form(orgs, **over))
    assert r.status_code == 422
    assert message in errors_of(r.get_data(as_text=True))
    assert db.session.scalar(select(db.func.count()).select_from(Contract)) == 0


def test_contract_errors_are_all_reported_at_once(admin, orgs, member):
    r = admin.post(f"/admin/adherents/{member.id}/contrats/nouveau",
                   _contract_form(orgs, end_date="2000-01-01", pharmacy_rate="180", exclusions="*"))
    found = errors_of(r.get_data(as_text=True))
    assert r.status_code == 422
    for message in ("Fin : la date de fin précède", "Couverture Pharmacie, taux :", "Exclusions :"):
        assert message in found, message


def test_contract_number_unique_per_insurer(admin, orgs, member):
    admin.post(f"/admin/adherents/{member.id}/contrats/nouveau", _contract_form(orgs))
    r = admin.post(f"/admin/adherents/{member.id}/contrats/nouveau", _contract_form(orgs))
    assert r.status_code == 422 and "Numéro de contrat : « STAR-2026-0001 » existe déjà chez cet assureur." in errors_of(
        r.get_data(as_text=True))
    r = admin.post(f"/admin/adherents/{member.id}/contrats/nouveau", _contract_form(orgs, insurer_id=orgs["gat"].id,
                                                                                     payer_rank="2"))
    assert r.status_code == 303


def test_status_transitions_suspend_reactivate_end(admin, orgs, member):
    admin.post(f"/admin/adherents/{member.id}/contrats/nouveau", _contract_form(orgs))
    c = db.session.scalar(select(Contract))
    html = admin.text(f"/admin/adherents/{member.id}")
    assert "Suspendre" in html and "Résilier" in html and ">Actif<" in html and ">active<" not in html
    admin.post(f"/admin/contrats/{c.id}/statut", {"action": "reactivate"})
    db.session.expire_all()
    assert c.status == "active"
    flashed = admin.text(f"/admin/contrats/{c.id}")
    assert "Statut : Le contrat est actif : il ne peut pas devenir actif." in errors_of(flashed)
    for action, status in (("suspend", "suspended"), ("reactivate", "active"), ("end", "cancelled")):
        admin.post(f"/admin/contrats/{c.id}/statut", {"action": action})
        db.session.expire_all()
        assert c.status == status
    admin.post(f"/admin/contrats/{c.id}/statut", {"action": "reactivate"})
    db.session.expire_all()
    assert c.status == "cancelled"
    assert [r.changes_json["status"] for r in audit_rows() if r.action.startswith("contract.") and
            r.action != "contract.create"] == [["active", "suspended"], ["suspended", "active"], ["active", "cancelled"]]


def test_an_expired_contract_is_not_reactivated(admin, orgs, member):
    old = _contract_form(orgs, start_date="2020-01-01", end_date="2020-12-31")
    admin.post(f"/admin/adherents/{member.id}/contrats/nouveau", old)
    c = db.session.scalar(select(Contract))
    admin.post(f"/admin/contrats/{c.id}/statut", {"action": "suspend"})
    admin.post(f"/admin/contrats/{c.id}/statut", {"action": "reactivate"})
    db.session.expire_all()
    assert c.status == "suspended"


def test_member_with_a_live_contract_is_not_deleted(admin, orgs, member):
    admin.post(f"/admin/adherents/{member.id}/contrats/nouveau", _contract_form(orgs))
    admin.post(f"/admin/adherents/{member.id}/supprimer")
    db.session.expire_all()
    assert member.deleted_at is None
    c = db.session.scalar(select(Contract))
    admin.post(f"/admin/contrats/{c.id}/statut", {"action": "end"})
    admin.post(f"/admin/adherents/{member.id}/supprimer")
    db.session.expire_all()
    assert member.deleted_at is not None
    assert "Ben Salah" not in admin.text("/admin/adherents").split("<tbody>")[1]


def test_only_admins_reach_members(app, ctx, orgs, member):
    page = Page(app, make_user("INSURER_ADMIN", insurer=orgs["star"], mfa=True))
    assert page.get(f"/admin/adherents/{member.id}").status_code == 403
    assert page.post("/admin/adherents", {"cin": "09876543"}).status_code == 403


# --- the order of payers (contracts.payer_rank) ---------------------------------------------

@pytest.mark.parametrize(("rank", "message"), [
    ("", "Ordre de prise en charge : obligatoire (1 : ce contrat paie en premier)."),
    ("0", "Ordre de prise en charge : un rang de 1 à 9 est attendu."),
    ("10", "Ordre de prise en charge : un rang de 1 à 9 est attendu."),
    ("deux", "Ordre de prise en charge :"),
    ("2", "Ordre de prise en charge du contrat STAR-2026-0001 (STAR Assurances) : rang 2, mais aucun autre contrat "
          "en cours sur sa période ne paie avant lui ; mettez-le au rang 1."),
])
def test_payer_rank_of_the_contract_form_is_checked(admin, orgs, member, rank, message):
    r = admin.post(f"/admin/adherents/{member.id}/contrats/nouveau", _contract_form(orgs, payer_rank=rank))
    assert r.status_code == 422
    assert message in errors_of(r.get_data(as_text=True))
    assert db.session.scalar(select(db.func.count()).select_from(Contract)) == 0


def test_second_contract_is_proposed_as_complement_and_may_not_share_the_first_rank(admin, orgs, member):
    rank = re.compile(r'<input[^>]*name="payer_rank"[^>]*value="(\d)"')
    assert rank.search(admin.text(f"/admin/adherents/{member.id}/contrats/nouveau"))[1] == "1"
    admin.post(f"/admin/adherents/{member.id}/contrats/nouveau", _contract_form(orgs))
    assert rank.search(admin.text(f"/admin/adherents/{member.id}/contrats/nouveau"))[1] == "2"
    gat = _contract_form(orgs, insurer_id=orgs["gat"].id, contract_number="GAT-1")
    r = admin.post(f"/admin/adherents/{member.id}/contrats/nouveau", gat)
    assert r.status_code == 422 and ("les contrats STAR-2026-0001 (STAR Assurances) et GAT-1 (GAT Assurances) couvrent "
                                     "une même période avec le même rang (1)") in errors_of(r.get_data(as_text=True))
    r = admin.post(f"/admin/adherents/{member.id}/contrats/nouveau", {**gat, "payer_rank": "2"})
    assert r.status_code == 303
    created = audit_rows("contract.create")
    assert [row.changes_json["payer_rank"] for row in created] == [1, 2]
    page = admin.text(f"/admin/adherents/{member.id}")
    assert "en premier" in page and "en complément (rang 2)" in page
    # the edit form changes it, audited before → after
    second = db.session.scalar(select(Contract).where(Contract.contract_number == "GAT-1"))
    r = admin.post(f"/admin/contrats/{second.id}", {**gat, "payer_rank": "1"})
    assert r.status_code == 422 and "même rang (1)" in errors_of(r.get_data(as_text=True))
    r = admin.post(f"/admin/contrats/{second.id}", {**gat, "payer_rank": "3"})
    assert r.status_code == 303
    assert audit_rows("contract.update")[-1].changes_json == {"payer_rank": [2, 3]}


def _two_contracts(admin, orgs, member) -> tuple[Contract, Contract]:
    admin.post(f"/admin/adherents/{member.id}/contrats/nouveau", _contract_form(orgs))
    admin.post(f"/admin/adherents/{member.id}/contrats/nouveau",
               _contract_form(orgs, insurer_id=orgs["gat"].id, contract_number="GAT-1", payer_rank="2"))
    star = db.session.scalar(select(Contract).where(Contract.contract_number == "STAR-2026-0001"))
    gat = db.session.scalar(select(Contract).where(Contract.contract_number == "GAT-1"))
    return star, gat


def test_payer_order_page_swaps_two_contracts_at_once_audited(admin, orgs, member):
    star, gat = _two_contracts(admin, orgs, member)
    html = admin.text(f"/admin/adherents/{member.id}/ordre-des-payeurs")
    assert "Ordre de prise en charge" in html and f'name="rang_{star.id}"' in html and f'name="rang_{gat.id}"' in html
    assert html.index("STAR-2026-0001") < html.index("GAT-1")  # in the current order
    r = admin.post(f"/admin/adherents/{member.id}/ordre-des-payeurs", {f"rang_{star.id}": "2", f"rang_{gat.id}": "1"})
    assert r.status_code == 303 and location_path(r) == f"/admin/adherents/{member.id}"
    db.session.expire_all()
    assert (star.payer_rank, gat.payer_rank) == (2, 1)
    rows = audit_rows("contract.payer_rank")
    assert {(row.entity_id, tuple(row.changes_json["payer_rank"])) for row in rows} == {(star.id, (1, 2)),
                                                                                          (gat.id, (2, 1))}
    assert {row.insurer_id for row in rows} == {orgs["star"].id, orgs["gat"].id}
    # the same order again changes nothing and writes no audit row
    admin.post(f"/admin/adherents/{member.id}/ordre-des-payeurs", {f"rang_{star.id}": "2", f"rang_{gat.id}": "1"})
    assert len(audit_rows("contract.payer_rank")) == 2


@pytest.mark.parametrize(("ranks", "message"), [
    (("1", "1"), "couvrent une même période avec le même rang (1) ; un seul paie en premier."),
    (("2", "3"), "Ordre de prise en charge du contrat STAR-2026-0001 (STAR Assurances) : rang 2, mais aucun autre"),
    (("1", "x"), "Ordre de prise en charge du contrat GAT-1 (GAT Assurances) : un rang de 1 à 9 est attendu."),
    (("1", ""), "Ordre de prise en charge du contrat GAT-1 (GAT Assurances) : un rang de 1 à 9 est attendu."),
])
def test_payer_order_page_refuses_a_bad_order_and_changes_nothing(admin, orgs, member, ranks, message):
    star, gat = _two_contracts(admin, orgs, member)
    r = admin.post(f"/admin/adherents/{member.id}/ordre-des-payeurs",
                   {f"rang_{star.id}": ranks[0], f"rang_{gat.id}": ranks[1]})
    assert r.status_code == 422 and message in errors_of(r.get_data(as_text=True))
    db.session.expire_all()
    assert (star.payer_rank, gat.payer_rank) == (1, 2) and audit_rows("contract.payer_rank") == []


def test_payer_order_ignores_ended_contracts_and_is_for_admins_only(app, admin, orgs, member):
    star, gat = _two_contracts(admin, orgs, member)
    admin.post(f"/admin/contrats/{star.id}/statut", {"action": "end"})
    table = admin.text(f"/admin/adherents/{member.id}/ordre-des-payeurs").split("<tbody>")[1]
    assert "GAT-1" in table and "STAR-2026-0001" not in table
    r = admin.post(f"/admin/adherents/{member.id}/ordre-des-payeurs", {f"rang_{gat.id}": "2"})
    assert r.status_code == 422 and "mettez-le au rang 1" in errors_of(r.get_data(as_text=True))
    assert admin.post(f"/admin/adherents/{member.id}/ordre-des-payeurs", {f"rang_{gat.id}": "1"}).status_code == 303
    page = Page(app, make_user("INSURER_ADMIN", insurer=orgs["gat"], mfa=True))
    assert page.get(f"/admin/adherents/{member.id}/ordre-des-payeurs").status_code == 403
    assert page.post(f"/admin/adherents/{member.id}/ordre-des-payeurs", {f"rang_{gat.id}": "1"}).status_code == 403


def test_member_search_and_payer_order_need_the_form_token(admin, orgs, member):
    """The app-wide CSRF check guards these forms (no check of their own): no token, nothing changes."""
    star, gat = _two_contracts(admin, orgs, member)
    r = admin.client.post(f"/admin/adherents/{member.id}/ordre-des-payeurs",
                          data={f"rang_{star.id}": "2", f"rang_{gat.id}": "1"})
    assert r.status_code == 400
    db.session.expire_all()
    assert (star.payer_rank, gat.payer_rank) == (1, 2) and audit_rows("contract.payer_rank") == []
    assert admin.client.post("/admin/adherents", data={"nom": "x"}).status_code == 400
