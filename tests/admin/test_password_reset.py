""""Mot de passe oublié": same answer for every address, a one-use 30-minute link by e-mail, throttled."""

from __future__ import annotations

import re

import pytest
from auth_helpers import PASSWORD, audit_rows, csrf_from, location_path, make_user, web_login

from dhamen.core import mail
from dhamen.extensions import db

NEW = "Nouveau-Mot-De-Passe-Solide-77"


@pytest.fixture(autouse=True)
def _empty_outbox():
    mail.outbox.clear()
    yield
    mail.outbox.clear()


def _ask(client, email):
    page = client.get("/mot-de-passe-oublie").get_data(as_text=True)
    return client.post("/mot-de-passe-oublie", data={"csrf_token": csrf_from(page), "email": email})


def _link() -> str:
    body = mail.outbox[-1].get_content()
    return re.search(r"http://localhost(/mot-de-passe/reinitialiser/\S+)", body).group(1)


def _set(client, new=NEW, confirm=None):
    page = client.get("/mot-de-passe/reinitialiser")
    if page.status_code != 200:
        return page
    return client.post("/mot-de-passe/reinitialiser", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                                            "new": new, "confirm": confirm or new})


def test_same_answer_whether_the_address_exists_or_not(ctx, client):
    make_user("PHARMACIST", email="known@exemple.tn")
    answers = []
    for email in ("known@exemple.tn", "unknown@exemple.tn"):
        r = _ask(client, email)
        assert r.status_code == 303 and location_path(r) == "/connexion"
        answers.append(client.get("/connexion").get_data(as_text=True).split("<main")[1].split("</main>")[0])
    assert answers[0].replace(csrf_from(answers[0]), "") == answers[1].replace(csrf_from(answers[1]), "")
    assert len(mail.outbox) == 1 and mail.outbox[0]["To"] == "known@exemple.tn"
    assert "Mot de passe oublié ?" in client.get("/connexion").get_data(as_text=True)


def test_link_sets_a_new_password_once_and_ends_sessions(app, ctx, client):
    user = make_user("PHARMACIST", email="reset@exemple.tn")
    user.must_change_password = True
    db.session.commit()
    other = app.test_client()
    web_login(other, "reset@exemple.tn")
    _ask(client, "reset@exemple.tn")
    link = _link()
    r = client.get(link)
    assert r.status_code == 303 and location_path(r) == "/mot-de-passe/reinitialiser"  # token out of the address bar
    r = _set(client, "court")
    assert r.status_code == 422 and "au moins 12 caractères" in r.get_data(as_text=True)
    r = _set(client, NEW, "autre-chose-encore-123")
    assert r.status_code == 422 and "Confirmation : elle ne correspond pas" in r.get_data(as_text=True)
    r = _set(client)
    assert r.status_code == 303 and location_path(r) == "/connexion"
    db.session.expire_all()
    assert user.must_change_password is False
    assert location_path(other.get("/compte")) == "/connexion"  # the open session is over
    assert web_login(app.test_client(), "reset@exemple.tn", NEW).status_code == 302
    r = client.get(link)  # used up
    assert location_path(r) == "/connexion"
    assert "plus valable" in client.get("/connexion").get_data(as_text=True)
    assert [row.action for row in audit_rows() if row.action.startswith("auth.password_reset")] == [
        "auth.password_reset_requested", "auth.password_reset_by_email"]
    assert NEW not in str([row.changes_json for row in audit_rows()])


def test_link_expires_after_30_minutes_and_dies_with_a_password_change(app, ctx, client):
    from dhamen.access.auth import reset, service
    from dhamen.core.services import services

    user = make_user("DOCTOR", email="exp@exemple.tn")
    _ask(client, "exp@exemple.tn")
    token = _link().rsplit("/", 1)[1]
    ttl = services().redis.ttl(reset._key(token))
    assert 1790 <= ttl <= 1800
    service.set_password(user, PASSWORD + "x", action="test")
    db.session.commit()
    assert location_path(client.get(_link())) == "/connexion"  # the session version moved on
    _ask(client, "exp@exemple.tn")
    services().redis.delete(reset._key(_link().rsplit("/", 1)[1]))  # what Redis does after 30 minutes
    assert location_path(client.get(_link())) == "/connexion"


def test_link_started_then_used_elsewhere_is_refused(app, ctx, client):
    make_user("DOCTOR", email="race@exemple.tn")
    _ask(client, "race@exemple.tn")
    link = _link()
    second = app.test_client()
    client.get(link)
    second.get(link)
    assert _set(second).status_code == 303
    r = _set(client, "Encore-Un-Autre-Mot-De-Passe-9")
    assert location_path(r) == "/connexion"


def test_requests_are_throttled_per_address_and_inactive_users_get_nothing(ctx, client):
    make_user("DOCTOR", email="spam@exemple.tn")
    off = make_user("DOCTOR", email="off@exemple.tn")
    off.is_active = False
    db.session.commit()
    for _ in range(5):
        assert _ask(client, "spam@exemple.tn").status_code == 303
    _ask(client, "off@exemple.tn")
    assert [m["To"] for m in mail.outbox] == ["spam@exemple.tn"] * 3
    assert len(audit_rows("auth.password_reset_throttled")) == 2


def test_form_errors_are_french(ctx, client):
    page = client.get("/mot-de-passe-oublie").get_data(as_text=True)
    r = client.post("/mot-de-passe-oublie", data={"csrf_token": csrf_from(page), "email": "pas une adresse"})
    assert r.status_code == 422 and "Adresse e-mail invalide." in r.get_data(as_text=True)


def test_smtp_sender_uses_starttls_login_and_the_configured_sender(monkeypatch):
    from dhamen.config import MailSettings

    sent = {}

    class FakeSMTP:
        def __init__(self, host, port, timeout):
            sent["server"] = (host, port, timeout)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def starttls(self, context):
            sent["tls"] = context.check_hostname

        def login(self, user, password):
            sent["login"] = user

        def send_message(self, msg):
            sent["msg"] = msg

    monkeypatch.setattr(mail.smtplib, "SMTP", FakeSMTP)
    settings = MailSettings(kind="smtp", host="smtp.example", port=587, username="u", password="p",
                            sender="Dhamen <no-reply@dhamen.tn>")
    sender = mail.sender(settings)
    assert sender.name == "smtp"
    sender.send("a@b.tn", "Sujet", "Corps")
    assert sent["server"] == ("smtp.example", 587, 10) and sent["tls"] is True and sent["login"] == "u"
    assert sent["msg"]["From"] == "Dhamen <no-reply@dhamen.tn>" and sent["msg"]["To"] == "a@b.tn"


def test_reset_links_use_the_public_base_url_when_set(app, ctx, client, monkeypatch):
    import dataclasses

    settings = app.config["DHAMEN"]
    monkeypatch.setitem(app.config, "DHAMEN", dataclasses.replace(settings, public_base_url="https://dhamen.example"))
    make_user("DOCTOR", email="base@exemple.tn")
    _ask(client, "base@exemple.tn")
    assert "https://dhamen.example/mot-de-passe/reinitialiser/" in mail.outbox[-1].get_content()
