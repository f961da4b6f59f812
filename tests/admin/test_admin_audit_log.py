"""The audit log viewer: filters, keyset pages, before → after, streamed CSV, read-only."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from admin_helpers import Page, admin_fixture, errors_of, orgs_fixture  # noqa: F401
from auth_helpers import make_user

from dhamen.core import audit
from dhamen.core.sqltypes import utcnow
from dhamen.extensions import db
from dhamen.models import AuditLog


def _rows(n, **kw):
    now = utcnow()
    for i in range(n):
        db.session.add(AuditLog(action=kw.get("action", "claim.create"), entity_type=kw.get("entity", "claim"),
                                entity_id=f"C{i:03d}", user_id=kw.get("user_id"), insurer_id=kw.get("insurer_id"),
                                changes_json={"status": ["pending", "approved"]},
                                created_at=kw.get("at", now) - timedelta(seconds=i)))
    db.session.commit()


def test_filters_by_user_organisation_action_entity_and_dates(admin, orgs):
    agent = make_user("INSURER_AGENT", email="agent.star@exemple.tn", insurer=orgs["star"])
    _rows(3, user_id=agent.id, insurer_id=orgs["star"].id)
    _rows(2, action="provider.update", entity="provider", at=utcnow() - timedelta(days=40))
    html = admin.text("/admin/journal?utilisateur=agent.star")
    assert html.count("<code class=\"action-code\">claim.create</code>") == 3 and "provider.update" not in html
    assert "agent.star@exemple.tn" in html and "En cours → Approuvée" in html
    html = admin.text(f"/admin/journal?org=insurer:{orgs['star'].id}")
    assert html.count("<code class=\"action-code\">claim.create</code>") == 3
    html = admin.text("/admin/journal?action=provider.")
    assert html.count("<code class=\"action-code\">provider.update</code>") == 2 and "<code class=\"action-code\">claim.create</code>" not in html
    html = admin.text("/admin/journal?entite=claim&entite_id=C001")
    assert html.count("<code class=\"action-code\">claim.create</code>") == 1
    from zoneinfo import ZoneInfo

    old = (utcnow() - timedelta(days=40)).astimezone(ZoneInfo("Africa/Tunis")).date().isoformat()  # Tunis days
    html = admin.text(f"/admin/journal?du={old}&au={old}")
    assert html.count("<code class=\"action-code\">provider.update</code>") == 2 and "<code class=\"action-code\">claim.create</code>" not in html
    r = admin.get("/admin/journal?du=2026-13-01")
    assert r.status_code == 422 and "Du : date invalide." in errors_of(r.get_data(as_text=True))
    r = admin.get("/admin/journal?du=2026-05-02&au=2026-05-01")
    assert r.status_code == 422 and "Au : la date de fin précède la date de début." in errors_of(r.get_data(as_text=True))


def test_keyset_pages_newest_first_without_gaps(admin):
    _rows(120)
    seen, url, pages = [], "/admin/journal?action=claim", 0
    while url:
        html = admin.text(url)
        seen += re.findall(r"<small>(C\d{3})</small>", html)
        nxt = re.search(r'href="(/admin/journal\?apres=[^"]+)"', html)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
        pages += 1
    assert pages == 3 and seen == [f"C{i:03d}" for i in range(120)]


def test_secrets_are_never_shown(admin):
    db.session.add(AuditLog(action="legacy.row", entity_type="user", entity_id="x",
                            changes_json={"password": "hunter2-hunter2", "national_id": "09876543"}))
    db.session.commit()
    html = admin.text("/admin/journal?action=legacy")
    assert "hunter2" not in html and "09876543" not in html and "[masqué]" in html
    body = admin.get("/admin/journal.csv?action=legacy").get_data(as_text=True)
    assert "hunter2" not in body and "09876543" not in body


def test_csv_export_streams_every_filtered_row(admin):
    _rows(2500)
    r = admin.get("/admin/journal.csv?action=claim.create")
    assert r.status_code == 200 and r.is_streamed and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))
    assert rows[0][:3] == ["date", "utilisateur", "action"] and len(rows) == 2501
    assert rows[1][4] == "C000" and "status: En cours → Approuvée" in rows[1][7]
    assert rows[1][2] == "Demande saisie" and rows[1][3] == "Demande"
    assert admin.get("/admin/journal.csv?du=n'importe").status_code == 422


def test_audit_rows_cannot_be_edited_or_deleted_from_the_application(app, admin):
    audit.record("x.y", "user", "z")
    db.session.commit()
    row_id = db.session.scalar(db.select(AuditLog.id))
    for rule in app.url_map.iter_rules():
        if "journal" in rule.rule or "audit" in rule.rule:
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule.rule
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert admin.client.open(f"/admin/journal?id={row_id}", method=method,
                                 data={"csrf_token": admin.csrf}).status_code == 405


def test_only_admins_read_the_log(app, ctx, orgs):
    page = Page(app, make_user("INSURER_ADMIN", insurer=orgs["star"], mfa=True))
    assert page.get("/admin/journal").status_code == 403
    assert page.get("/admin/journal.csv").status_code == 403
