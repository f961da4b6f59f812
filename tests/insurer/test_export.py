"""CSV export of a filtered list: streamed, French spreadsheet format, scoped, formula-safe."""

from __future__ import annotations

import csv
import io

from claims_helpers import post_claim
from insurer_helpers import signed_in, stay_claim
from test_review_queue import _insert_pending


def _rows(response):
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


def test_export_follows_the_filters_and_streams(client, shop):
    hosp = stay_claim(client, shop)
    pending = _insert_pending(shop, 3)
    post_claim(client, shop)  # approved: not in the queue, but in "tous"
    signed_in(client, shop.users["agentA"])
    r = client.get("/assureur/export.csv?type=hospitalization")
    assert r.status_code == 200 and r.is_streamed and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = _rows(r)
    assert rows[0][:3] == ["N° demande", "Reçue le (UTC)", "Date des soins"]
    assert [row[0] for row in rows[1:]] == [hosp["id"]]
    assert rows[1][3:5] == ["Hospitalisation", "En attente de validation"] and rows[1][8] == "700,000"
    rows = _rows(client.get("/assureur/export.csv"))
    assert [row[0] for row in rows[1:]] == [*pending, hosp["id"]]  # oldest first
    rows = _rows(client.get("/assureur/export.csv?statut=tous"))
    assert len(rows) == 1 + 4 + 2  # + the approved one and the shop's earlier claim
    assert "Approuvée" in {row[4] for row in rows[1:]}
    signed_in(client, shop.users["agentB"])
    assert _rows(client.get("/assureur/export.csv?statut=tous")) == [rows[0]]


def test_export_refuses_bad_filters_and_neutralises_formulas(client, shop):
    from dhamen.extensions import db
    from dhamen.models import Provider

    stay_claim(client, shop)
    clinic = db.session.get(Provider, shop.providers["clinic"].id)
    clinic.name = "=HYPERLINK(\"http://evil\")"
    db.session.commit()
    signed_in(client, shop.users["agentA"])
    rows = _rows(client.get("/assureur/export.csv"))
    assert rows[1][5] == "'=HYPERLINK(\"http://evil\")"
    r = client.get("/assureur/export.csv?du=hier", follow_redirects=True)
    assert "Export impossible : Date « hier » invalide" in r.get_data(as_text=True)


def test_export_amounts_are_format_tnd():
    """The export's fast amount formatter writes exactly what format_tnd writes."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from dhamen.domain.money import format_tnd
    from dhamen.insurer.export import tnd

    @settings(max_examples=300, deadline=None)
    @given(st.integers(-10**15, 10**15) | st.integers(-2_000, 2_000_000))
    def check(millimes):
        assert tnd(millimes) == format_tnd(millimes, with_unit=False)

    check()


def test_export_chunks_keep_every_row_once(client, shop):
    """Chunked reading (a chunk smaller than the list): every row once, in order, flags in words."""
    from dhamen.extensions import db
    from dhamen.insurer import export, queue

    pending = _insert_pending(shop, 7)
    chunks = list(export.rows(shop.users["agentA"], queue.ReviewFilters(), chunk_rows=3))
    db.session.rollback()
    assert len(chunks) >= 4  # header + 3 chunks of at most 3 rows
    rows = list(csv.reader(io.StringIO("".join(chunks)[1:]), delimiter=";"))
    assert [row[0] for row in rows[1:]] == pending
    assert {row[12] for row in rows[1:]} == {"Fréquence de soins inhabituelle"}
    assert rows[1][1][:4].isdigit() and len(rows[1][1]) == 19 and len(rows[1][2]) == 10
