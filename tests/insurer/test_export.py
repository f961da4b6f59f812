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


def test_database_lines_equal_the_python_writer(client, shop):
    """PostgreSQL writes each line itself: byte for byte what the Python csv writer writes, on awkward values
    (quotes, semicolons, line breaks, formulas, big amounts, flags with and without points)."""
    import pytest
    from sqlalchemy import insert

    from dhamen.core.sqltypes import new_id, utcnow
    from dhamen.extensions import db
    from dhamen.insurer import export, queue
    from dhamen.models import Claim, Provider

    if db.engine.dialect.name != "postgresql":
        pytest.skip("the database-written lines are PostgreSQL's")
    stay_claim(client, shop)
    post_claim(client, shop)
    db.session.get(Provider, shop.providers["pharmacist"].id).name = 'Pharmacie "Le Lac"; Tunis\nB'
    c = shop.contracts["active"]
    reasons = [None, "", "=1+1", "-2", "@x", "Motif ; avec \"guillemets\"\r\nsur deux lignes", "ordinaire"]
    flags = [[], [{"code": "DUPLICATE", "points": 45}, {"code": "FAR_PROVIDER", "points": 0}],
             [{"code": "UNKNOWN_CODE", "points": 3}, {"code": "HIGH_FREQUENCY", "points": 12.5}], [{"points": 5}]]
    amounts = [0, 7, 999, 1_000, 999_999, 1_000_000, 1_234_567, 98_765_432_109]
    db.session.execute(insert(Claim), [dict(
        id=new_id(), reference=f"PH-CSV-{i:03d}", type="pharmacy", contract_id=c.id,
        provider_id=shop.providers["pharmacist"].id, adherent_id=c.adherent_id, insurer_id=c.insurer_id,
        care_date=utcnow().date(), total_amount=amounts[i % len(amounts)], covered_amount=amounts[i % len(amounts)] // 3,
        copay_amount=amounts[i % len(amounts)] - amounts[i % len(amounts)] // 3, status="pending_review",
        fraud_score=(i % 3) * 20, fraud_flags_json=flags[i % len(flags)], status_reason=reasons[i % len(reasons)],
        created_at=utcnow()) for i in range(40)])
    db.session.commit()
    for filters in (queue.ReviewFilters(statut=queue.ALL_STATUSES), queue.ReviewFilters()):
        user = shop.users["agentA"]
        python = "".join(export.rows(user, filters, 7, in_database=False))
        db.session.rollback()
        database = "".join(export.rows(user, filters, 7, in_database=True))
        db.session.rollback()
        assert database == python
        assert '"Pharmacie ""Le Lac""; Tunis\nB"' in python and "'=1+1" in python and "98\u202f765\u202f432,109" in python
        assert "Doublon" in python or "doublon" in python.lower()
        assert len(_rows_of(python)) == 1 + 40 + (2 if filters.statut else 1) + (1 if filters.statut else 0)


def _rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
