"""Members' privacy at the counter (loi organique 2004-63): a name alone lists nobody, a name
needs the date of birth and answers exact matches only; every lookup is audited; another
provider's claims show their date, care type and codes only."""

from __future__ import annotations

from datetime import date

from claims_helpers import drug, post_claim, shop_fixture  # noqa: F401
from sqlalchemy import select
from test_portal_support import login, text

from dhamen.extensions import db
from dhamen.models import Adherent, AuditLog

HX = {"HX-Request": "true"}


def _search(client, token, q, birth=""):
    return text(client.post("/pharmacie/recherche", data={"q": q, "naissance": birth, "csrf_token": token},
                            headers=HX))


def _lookups():
    db.session.expire_all()
    return db.session.scalars(select(AuditLog).where(AuditLog.action == "member.lookup")
                              .order_by(AuditLog.created_at)).all()


def test_a_common_name_lists_nobody_without_the_date_of_birth(client, shop):
    # Fifteen members called "Ben Ali", born on different days.
    for n in range(15):
        db.session.add(Adherent(national_id=f"{20_000_000 + n:08d}", first_name=f"Prénom{chr(65 + n)}", last_name="Ben Ali",
                                date_of_birth=date(1970 + n, 5, 4), gender="M"))
    db.session.commit()
    token = login(client, shop.users["pharmacist"])
    page = _search(client, token, "Ben Ali")
    assert "indiquez aussi la date de naissance" in page and "Prénom" not in page and "1970" not in page
    # Partial names never match, even with the right date of birth.
    assert "PrénomD" not in _search(client, token, "Ben", "1973-05-04")
    assert "PrénomD" not in _search(client, token, "PrénomD Ben", "1973-05-04")
    # The exact name (either order, any case/accents) with the date of birth: that one member.
    for typed in ("Ben Ali", "prenomd ben ali", "BEN ALI PrénomD", "Ben-Ali"):
        page = _search(client, token, typed, "1973-05-04")
        assert "PrénomD" in page and page.count('class="card member-card"') == 1, typed
    assert "Aucun adhérent ne porte exactement ce nom" in _search(client, token, "Ben Ali", "1973-05-05")
    assert "Date de naissance invalide" in _search(client, token, "Ben Ali", "31/02/1973")
    assert "PrénomD" in _search(client, token, "Ben Ali", "04/05/1973")


def test_every_lookup_is_audited_with_who_whom_and_which_organisation(client, shop):
    token = login(client, shop.users["pharmacist"])
    member = shop.members["active"]
    _search(client, token, shop.national_ids["active"])
    _search(client, token, "CT-ACTIVE-001")
    _search(client, token, "NomActive", "1980-01-01")
    _search(client, token, "99999999")
    client.get(f"/pharmacie/adherents/{member.id}/droits")
    client.get(f"/pharmacie/saisie/{shop.contracts['active'].id}")
    rows = _lookups()
    assert [(r.changes_json["by"], r.entity_id) for r in rows] == [
        ("national_id", member.id), ("contract_number", member.id), ("name_and_birth_date", member.id),
        ("national_id", "-"), ("member_id", member.id), ("contract_number", member.id)]
    pharmacist = shop.users["pharmacist"]
    assert {(r.user_id, r.provider_id) for r in rows} == {(pharmacist.id, pharmacist.provider_id)}
    assert all(r.created_at is not None and r.ip_address for r in rows)
    assert not any(shop.national_ids["active"] in str(r.changes_json) for r in rows)


def test_api_eligibility_lookups_are_audited_found_or_not(client, shop):
    r = client.post("/api/v1/eligibility", json={"nationalId": shop.national_ids["active"]},
                    headers=shop.auth("pharmacist"))
    assert r.status_code == 200, r.get_json()
    r = client.post("/api/v1/eligibility", json={"nationalId": "99999999"}, headers=shop.auth("pharmacist"))
    assert r.status_code == 404
    rows = _lookups()
    assert [(r.changes_json["by"], r.entity_id) for r in rows] == [
        ("national_id", shop.members["active"].id), ("national_id", "-")]
    assert rows[0].user_id == shop.users["pharmacist"].id


def test_other_providers_claims_show_date_care_type_and_codes_only(client, shop):
    post_claim(client, shop, who="pharmacist2", items=[drug("PH0010", 1, 98_765)])
    post_claim(client, shop, items=[drug("PH0009", 1, 2_100)])
    login(client, shop.users["pharmacist"])
    page = text(client.get(f"/pharmacie/saisie/{shop.contracts['active'].id}"))
    recent = page[page.index("Dernières demandes de l'adhérent"):]
    assert "PH0010" in recent and "autre prestataire" in recent
    assert "98,765" not in recent and "Pharmacie Voisine" not in page
    assert "PH0009" in recent and "2,100" in recent and "chez vous" in recent


def test_a_suspended_contract_without_convention_says_suspended(client, shop):
    from dhamen.models import Contract

    contract = Contract(insurer_id=shop.insurers["B"].id, adherent_id=shop.members["active"].id,
                        contract_number="CT-B-SUSP-001", plan_type="individual",
                        start_date=shop.contracts["active"].start_date, end_date=shop.contracts["active"].end_date,
                        coverage_json={"pharmacy": {"rate": 60}}, status="suspended")
    db.session.add(contract)
    db.session.commit()
    login(client, shop.users["pharmacist"])
    page = text(client.get(f"/pharmacie/saisie/{contract.id}"))
    refusal = page[page.index('class="refusal"'):page.index("Retour au comptoir")]
    assert "suspendu" in refusal.lower() and "convention" not in refusal.lower()
