"""Reading the counter's lines editor (dhamen.claims.portal_forms), without Flask."""

from __future__ import annotations

from datetime import date

from dhamen.counter.forms import EntryForm, read_entry_form
from dhamen.domain.coverage import ItemInput
from dhamen.domain.errors import ItemError
from dhamen.domain.limits import MAX_ROOM_LENGTH

TODAY = date(2026, 3, 10)


def read(fields: dict, strict=True, **kw) -> EntryForm:
    return read_entry_form(fields, "pharmacy", today=TODAY, strict=strict, **kw)


def test_money_is_typed_with_a_comma_or_a_dot():
    form = read({"lines-0-code": "ph0001", "lines-0-qty": "2", "lines-0-price": "5,600", "lines-0-generic": "1",
                 "lines-1-code": "PH0009", "lines-1-qty": "1", "lines-1-price": "5.6",
                 "lines-2-code": "PH0010", "lines-2-qty": "", "lines-2-price": "1 234,5 TND"})
    assert not form.has_errors
    assert form.items == [ItemInput("ph0001", "Amoxicilline 1 g cp B/12", 2, 5_600, True),
                          ItemInput("PH0009", "Doliprane 1000 mg cp B/8", 1, 5_600, False),
                          ItemInput("PH0010", "Paracétamol 500 mg cp B/20", 1, 1_234_500, False)]


def test_rows_are_read_in_their_number_order_and_blank_rows_ignored():
    form = read({"lines-10-code": "PH0010", "lines-10-price": "1", "lines-2-code": "PH0002", "lines-2-price": "1",
                 "lines-5-code": "", "lines-5-label": "", "lines-5-price": "", "lines-5-qty": "1"})
    assert [i.code for i in form.items] == ["PH0002", "PH0010"]
    assert [r.number for r in form.rows] == [1, 2, 3] and form.rows[1].blank


def test_errors_name_the_line_on_screen_and_the_input():
    form = read({"lines-0-code": "PH0001", "lines-0-price": "5", "lines-3-code": "PH0002", "lines-3-qty": "-2",
                 "lines-3-price": "1,2345"})
    assert form.line_errors == [(2, "la quantité doit être un nombre entier de 1 à 999."),
                                (2, "Montant « 1,2345 » : 3 décimales au maximum (le millime).")]
    assert set(form.rows[1].errors) == {"qty", "price"} and form.items == [form.items[0]]


def test_live_preview_leaves_half_typed_rows_out():
    fields = {"lines-0-code": "PH0001", "lines-0-price": "5", "lines-1-code": "PH0002"}
    live = read(fields, strict=False)
    assert not live.has_errors and [r.number for r in live.skipped] == [2] and len(live.items) == 1
    final = read(fields, strict=True)
    assert final.line_errors == [(2, "saisissez le prix unitaire (en TND, par exemple 5,600).")]


def test_engine_errors_go_back_to_their_rows():
    form = read({"lines-4-code": "PH0001", "lines-4-price": "5", "lines-9-code": "PH0002", "lines-9-price": "99999"})
    form.attach_item_errors([ItemError(2, "unit_price", "Ligne 2 : le prix unitaire doit être compris entre…")])
    assert form.rows[1].errors == {"price": "le prix unitaire doit être compris entre…"}
    form.attach_item_errors([{"line": None, "field": None, "message": "50 lignes au maximum."}])
    assert form.errors == ["50 lignes au maximum."]


def test_the_idempotency_token_is_kept_or_renewed():
    kept = read({"idem": "A" * 32})
    assert kept.token == "A" * 32
    for bad in ("", "court", "<script>" * 4, "x" * 65):
        assert read({"idem": bad}).token not in ("", bad)
    assert EntryForm.blank().token != EntryForm.blank().token


def test_clinic_stay():
    fields = {"care_date": "2026-03-01", "discharge_date": "2026-03-04", "room": " 214 ",
              "lines-0-code": "CH-J", "lines-0-qty": "3", "lines-0-price": "180"}
    form = read_entry_form(fields, "hospitalization", today=TODAY, strict=True, with_stay=True)
    assert form.details == {"admissionDate": "2026-03-01", "dischargeDate": "2026-03-04", "room": "214"}
    assert read_entry_form({**fields, "discharge_date": "2027-06-01"}, "hospitalization", today=TODAY, strict=True,
                           with_stay=True).errors == ["Séjour de plus de 365 jours : vérifiez la date de sortie."]
    assert read_entry_form({**fields, "discharge_date": "04/03/2026"}, "hospitalization", today=TODAY, strict=True,
                           with_stay=True).details["dischargeDate"] == "2026-03-04"  # typed the French way
    assert read_entry_form({**fields, "discharge_date": "32/03/2026"}, "hospitalization", today=TODAY, strict=True,
                           with_stay=True).errors == ["Date de sortie invalide (format attendu : jj/mm/aaaa)."]
    assert read_entry_form({**fields, "room": "x" * (MAX_ROOM_LENGTH + 1)}, "hospitalization", today=TODAY,
                           strict=True, with_stay=True).errors == [f"Chambre : {MAX_ROOM_LENGTH} caractères au maximum."]
    no_discharge = read_entry_form({**fields, "discharge_date": "", "room": ""}, "hospitalization", today=TODAY,
                                   strict=True, with_stay=True)
    assert no_discharge.details == {"admissionDate": "2026-03-01"}
