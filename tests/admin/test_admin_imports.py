"""Onboarding import: template, row-by-row report, all or nothing, idempotent, INSURER_ADMIN scope."""

from __future__ import annotations

import io
from datetime import date

import pytest
from admin_helpers import Page, errors_of, run_jobs
from auth_helpers import audit_rows, location_path, make_user
from sqlalchemy import func, select, text

from dhamen.admin import onboarding
from dhamen.extensions import db
from dhamen.models import Adherent, Contract

HEADER = ";".join(onboarding.COLUMN_NAMES)


def line(i: int, **over) -> str:
    values = {"cin": f"{10_000_000 + i}", "nom": "Ben Salah", "prenom": f"Amira{chr(65 + i % 26)}",
              "date_naissance": "14/03/1985", "sexe": "F", "telephone": "+216 98 123 456", "email": "",
              "adresse": "12 rue de Marseille", "ville": "Tunis", "numero_contrat": f"STAR-{i:05d}",
              "formule": "famille", "debut": "01/01/2026", "fin": "31/12/2026", "carence_jours": "30",
              "plafond_annuel": "5000", "pharmacie_taux": "80", "pharmacie_taux_generique": "90",
              "consultation_taux": "70", "laboratoire_taux": "", "hospitalisation_taux": "90",
              "hospitalisation_plafond_chambre": "120", "exclusions": "cat:cosmetique|KC*", **over}
    return ";".join(values[c] for c in onboarding.COLUMN_NAMES)


def csv_file(*lines: str) -> bytes:
    return ("\ufeff" + "\r\n".join([HEADER, *lines]) + "\r\n").encode()


def upload(page: Page, data: bytes, insurer_id: str | None = None, name: str = "adherents.csv"):
    form = {"fichier": (io.BytesIO(data), name)}
    if insurer_id is not None:
        form["insurer_id"] = insurer_id
    r = page.post("/admin/imports", form, content_type="multipart/form-data")
    run_jobs("imports")
    return r


def _counts():
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(Adherent)),
            db.session.scalar(select(func.count()).select_from(Contract)))


def test_page_documents_the_columns_and_serves_the_template(admin, orgs):
    html = admin.text("/admin/imports")
    for column in onboarding.COLUMNS:
        assert f"<code>{column.name}</code>" in html
    r = admin.get("/admin/imports/modele.csv")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    header, rows = onboarding.read_rows(r.data)
    assert tuple(header) == onboarding.COLUMN_NAMES
    checked = onboarding.check_file(r.data)
    assert checked.rejected == [] and len(checked.rows) == 1  # the template's example line is valid


def test_import_creates_members_and_contracts_then_is_idempotent(admin, orgs):
    data = csv_file(*(line(i) for i in range(25)), line(25, cin="10000000", prenom="AmiraA", numero_contrat="STAR-GAT-2"))
    r = upload(admin, data, orgs["star"].id)
    assert r.status_code == 303
    html = admin.text(location_path(r))
    assert "Terminé" in html and "Adhérents créés : 25" in html and "Contrats créés : 26" in html
    assert _counts() == (25, 26)
    member = db.session.scalar(select(Adherent).where(Adherent.national_id_hash.isnot(None)).limit(1))
    assert member.phone == "+216 98 123 456"
    raw = db.session.execute(text("SELECT national_id_encrypted FROM adherents")).scalars().all()
    assert not any("1000000" in value for value in raw)  # stored encrypted
    contract = db.session.scalar(select(Contract).where(Contract.contract_number == "STAR-00003"))
    assert contract.coverage_json == {"pharmacy": {"rate": 80, "generic_rate": 90}, "consultation": {"rate": 70},
                                      "hospitalization": {"rate": 90, "room_day_cap": 120000}}
    assert (contract.annual_limit, contract.carence_days, contract.exclusions_json, contract.insurer_id) == (
        5_000_000, 30, ["cat:cosmetique", "KC*"], orgs["star"].id)
    assert contract.status == ("active" if date.today() <= date(2026, 12, 31) else "expired")
    # Same file again: nothing created, nothing changed.
    html = admin.text(location_path(upload(admin, data, orgs["star"].id)))
    assert "Adhérents créés : 0 · déjà connus : 26" in html and "inchangés : 26" in html
    assert _counts() == (25, 26)
    # A changed rate updates that contract only.
    changed = csv_file(line(3, pharmacie_taux="85"))
    html = admin.text(location_path(upload(admin, changed, orgs["star"].id)))
    assert "mis à jour : 1" in html
    db.session.expire_all()
    assert contract.coverage_json["pharmacy"]["rate"] == 85
    rows = audit_rows("import.apply")
    assert [r.changes_json["contracts_created"] for r in rows] == [26, 0, 0] and rows[0].insurer_id == orgs["star"].id


@pytest.mark.parametrize(("over", "where"), [
    ({"cin": "12"}, "Ligne 4, colonne « cin » : 8 chiffres"),
    ({"nom": ""}, "Ligne 4, colonne « nom » : valeur obligatoire manquante."),
    ({"date_naissance": "31/02/1985"}, "Ligne 4, colonne « date_naissance » : date invalide « 31/02/1985 »"),
    ({"fin": "01/01/2025"}, "Ligne 4, colonne « fin » : la date de fin précède la date de début."),
    ({"sexe": "X"}, "Ligne 4, colonne « sexe » : M ou F attendu."),
    ({"formule": "premium"}, "Ligne 4, colonne « formule » : individuel, famille ou groupe attendu."),
    ({"carence_jours": "-1"}, "Ligne 4, colonne « carence_jours »"),
    ({"plafond_annuel": "beaucoup"}, "Ligne 4, colonne « plafond_annuel »"),
    ({"pharmacie_taux": "120"}, "Ligne 4, colonne « pharmacie_taux » : Couverture Pharmacie, taux : Le taux doit"),
    ({"pharmacie_taux_generique": "x"}, "Ligne 4, colonne « pharmacie_taux_generique »"),
    ({"hospitalisation_plafond_chambre": "0"}, "Ligne 4, colonne « hospitalisation_plafond_chambre »"),
    ({"laboratoire_taux": "", "hospitalisation_taux": "", "pharmacie_taux": "", "pharmacie_taux_generique": "",
      "consultation_taux": "", "hospitalisation_plafond_chambre": ""}, "Ligne 4, colonne « pharmacie_taux » : "
                                                                       "Couverture : cochez au moins"),
    ({"exclusions": "cat:"}, "Ligne 4, colonne « exclusions »"),
    ({"email": "x@"}, "Ligne 4, colonne « email » : adresse invalide."),
    ({"numero_contrat": "STAR-00001"}, "Ligne 4, colonne « numero_contrat » : contrat déjà présent à la ligne 3."),
    ({"cin": "10000001", "prenom": "Autre"}, "Ligne 4, colonne « cin » : même CIN qu'à la ligne 3"),
])
def test_one_bad_row_rejects_the_file_with_row_and_column_named(admin, orgs, over, where):
    data = csv_file(line(0), line(1), line(2, **over), line(3))
    r = upload(admin, data, orgs["star"].id)
    html = admin.text(location_path(r))
    assert "Refusé : aucune ligne importée" in html and "1 ligne(s) refusée(s) sur 4" in html
    assert where in errors_of(html).replace("\n", " ") or where in html
    assert _counts() == (0, 0)
    report = admin.get(location_path(r) + "/rejets.csv").get_data(as_text=True)
    assert report.lstrip("\ufeff").startswith("ligne;colonne;motif") and "\r\n4;" in report
    assert audit_rows("import.rejected")[0].changes_json["rejected_lines"] == 1


def test_conflicts_with_the_database_reject_the_whole_file(admin, orgs):
    upload(admin, csv_file(line(0), line(1)), orgs["star"].id)
    # Same national ID, another person; a contract number that belongs to another member.
    data = csv_file(line(5), line(0, prenom="Quelquun"), line(6, numero_contrat="STAR-00001"))
    html = admin.text(location_path(upload(admin, data, orgs["star"].id)))
    assert "Ligne 3, colonne « cin » : ce numéro est déjà enregistré" in html
    assert "Ligne 4, colonne « numero_contrat » : ce contrat appartient déjà à un autre adhérent" in html
    assert _counts() == (2, 2)  # line 5 was valid but nothing was written


@pytest.mark.parametrize(("data", "message"), [
    (b"", "Fichier : le fichier est vide."),
    (None, "Fichier : choisissez un fichier CSV."),
])
def test_upload_errors(admin, orgs, data, message):
    r = admin.post("/admin/imports", {"insurer_id": orgs["star"].id, **({"fichier": (io.BytesIO(data), "a.csv")}
                                                                        if data is not None else {})},
                   content_type="multipart/form-data")
    assert r.status_code == 422 and message in errors_of(r.get_data(as_text=True))


def test_upload_refuses_other_files_and_a_missing_insurer(admin, orgs):
    r = upload(admin, b"x", orgs["star"].id, name="adherents.xlsx")
    assert r.status_code == 422 and "Fichier : un fichier .csv est attendu." in errors_of(r.get_data(as_text=True))
    r = upload(admin, csv_file(line(0)))
    assert r.status_code == 422 and "Assureur : choisissez l'assureur" in errors_of(r.get_data(as_text=True))


def test_header_problems_are_reported_on_line_one(admin, orgs):
    html = admin.text(location_path(upload(admin, b"cin;nom;couleur\n1;2;3\n", orgs["star"].id)))
    assert "Ligne 1 : colonne(s) obligatoire(s) absente(s) : prenom" in html
    assert "colonne(s) inconnue(s) : couleur" in html
    html = admin.text(location_path(upload(admin, "é".encode("latin-1") + b"\n", orgs["star"].id)))
    assert "UTF-8" in html


def test_insurer_admin_imports_for_its_own_insurer_only(app, admin, orgs):
    star_admin = Page(app, make_user("INSURER_ADMIN", insurer=orgs["star"], mfa=True))
    html = star_admin.text("/admin/imports")
    assert "STAR Assurances" in html and "GAT Assurances" not in html and 'name="insurer_id"' not in html
    r = upload(star_admin, csv_file(line(0)), orgs["gat"].id)  # the field is ignored: its own insurer
    assert r.status_code == 303
    assert db.session.scalar(select(Contract.insurer_id)) == orgs["star"].id
    status_url = location_path(r)
    gat_admin = Page(app, make_user("INSURER_ADMIN", insurer=orgs["gat"], mfa=True))
    assert gat_admin.get(status_url).status_code == 404
    assert gat_admin.get(status_url + "/etat").status_code == 404
    assert status_url.rsplit("/", 1)[1] not in gat_admin.text("/admin/imports")
    assert admin.get(status_url).status_code == 200
    agent = Page(app, make_user("INSURER_AGENT", insurer=orgs["star"], mfa=True))
    assert agent.get("/admin/imports").status_code == 403
    assert upload(agent, csv_file(line(1))).status_code == 403
    pharmacist = Page(app, make_user("PHARMACIST", provider=orgs["pharmacy"]))
    assert pharmacist.get(status_url).status_code == 403


def test_progress_fragment_polls_while_running(admin, orgs):
    from dhamen.admin import imports

    imports._save("01TESTIMPORT0000000000000", status="checking", insurer_id=orgs["star"].id,
                  user_id=admin.user.id, filename="gros.csv", sha256="0", created="2026-11-29T22:00:00",
                  processed="12000", total="0")
    html = admin.text("/admin/imports/01TESTIMPORT0000000000000/etat")
    assert 'hx-trigger="every 1s"' in html and "12000 ligne(s) vérifiée(s)" in html
    imports._save("01TESTIMPORT0000000000000", status="writing", total="50000", written="40000", to_write="100000")
    html = admin.text("/admin/imports/01TESTIMPORT0000000000000/etat")
    assert "Enregistrement" in html and "50000 ligne(s) vérifiée(s) ; 40000 enregistrement(s) écrit(s) sur 100000" in html
    assert 'max="100000" value="40000"' in html
    imports._save("01TESTIMPORT0000000000000", status="done", summary={"lines": 1, "seconds": 0.1,
                                                                        "members_created": 1, "members_existing": 0,
                                                                        "contracts_created": 1, "contracts_updated": 0,
                                                                        "contracts_unchanged": 0})
    assert "hx-trigger" not in admin.text("/admin/imports/01TESTIMPORT0000000000000/etat")


def test_bulk_writer_stores_what_the_models_write(admin, orgs):
    """The import's own writer (bind processing once per repeated value, COPY on PostgreSQL) leaves rows
    the ORM reads like any other: decrypted fields, aware UTC timestamps, JSON documents, valid ULIDs."""
    from ulid import ULID

    from dhamen.core import crypto

    upload(admin, csv_file(*(line(i) for i in range(6))), orgs["star"].id)
    members = db.session.scalars(select(Adherent).order_by(Adherent.national_id_hash)).all()
    assert sorted(m.national_id for m in members) == [f"{10_000_000 + i}" for i in range(6)]
    assert all(m.national_id_hash == crypto.national_id_hash(m.national_id) for m in members)
    assert {m.phone for m in members} == {"+216 98 123 456"}
    raw = db.session.execute(text("SELECT phone_encrypted FROM adherents")).scalars().all()
    assert len(set(raw)) == 6  # the same phone six times: six nonces, six ciphertexts
    contracts = db.session.scalars(select(Contract)).all()
    ids = [m.id for m in members] + [c.id for c in contracts]
    assert len(set(ids)) == 12 and all(str(ULID.from_str(i)) == i for i in ids)
    for row in (*members, *contracts):
        assert row.created_at.utcoffset().total_seconds() == 0 and row.created_at == row.updated_at
    assert {c.adherent_id for c in contracts} == {m.id for m in members}
    assert all(c.coverage_json["hospitalization"] == {"rate": 90, "room_day_cap": 120000} for c in contracts)
    assert all(c.start_date == date(2026, 1, 1) and c.payer_rank == 1 for c in contracts)
