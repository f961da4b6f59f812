"""A service goes away: every page and API call answers a clear 503, then recovers by itself.

The database outage is injected at the connection level (every new connection
refused, the pool emptied), the same way on SQLite and PostgreSQL; Redis is
replaced by a client of a closed port; the object storage by one whose server
is unreachable.  Recovery is checked on the same app object: no restart.
The fault script in ``bench/faults.py`` does the same with real restarts.
"""

from __future__ import annotations

import html
import socket

import pytest
import redis
from auth_helpers import fast_web_session
from claims_helpers import claim_body, counts, post_claim
from sqlalchemy import event

PAGES = ["/pharmacie/", "/pharmacie/demandes", "/connexion", "/"]


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def database_down(app):
    from dhamen.extensions import db

    engine = db.engine
    state = {"down": False}

    def refuse(dialect, _record, _cargs, _cparams):
        if state["down"]:
            raise dialect.dbapi.OperationalError("connexion refusée (panne simulée)")

    event.listen(engine, "do_connect", refuse)

    def set_down(down: bool):
        state["down"] = down
        db.session.remove()
        engine.dispose()  # the established connections go with the server

    yield set_down
    set_down(False)
    event.remove(engine, "do_connect", refuse)


@pytest.fixture
def redis_down(app):
    svc = app.extensions["dhamen.services"]
    original = svc.redis
    dead = redis.Redis(host="127.0.0.1", port=closed_port(), socket_connect_timeout=0.5, socket_timeout=0.5)

    def set_down(down: bool):
        svc.redis = dead if down else original

    yield set_down
    svc.redis = original


class TestRedisDown:
    def test_portal_pages_answer_503_not_500(self, app, client, shop, redis_down):
        fast_web_session(client, shop.users["pharmacist"])
        redis_down(True)
        for url in PAGES[:2]:
            r = client.get(url)
            assert r.status_code == 503, (url, r.status_code)
            assert "Service indisponible" in text(r) and r.headers["Retry-After"]
        r = client.get("/pharmacie/", headers={"HX-Request": "true"})
        assert r.status_code == 503
        redis_down(False)
        assert client.get("/pharmacie/").status_code == 200

    def test_api_answers_503_envelope_and_recovers(self, client, shop, redis_down):
        redis_down(True)
        before = counts()
        r = post_claim(client, shop)
        assert r.status_code == 503
        assert r.get_json()["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert counts() == before
        r = client.post("/api/v1/auth/login", json={"email": "pharmacist@claims.test",
                                                    "password": "Correct-Horse-Battery-42"})
        assert r.status_code == 503 and r.get_json()["success"] is False
        redis_down(False)
        assert post_claim(client, shop).status_code == 201


class TestDatabaseDown:
    def test_pages_and_api_answer_503_and_recover(self, app, client, shop, database_down):
        fast_web_session(client, shop.users["pharmacist"])
        headers = shop.auth("pharmacist")
        body = claim_body(shop)
        database_down(True)
        for url in PAGES:
            r = client.get(url)
            assert r.status_code == 503, (url, r.status_code, text(r)[:300])
            assert "Service indisponible" in text(r)
        r = post_claim(client, shop, body=body)
        assert r.status_code == 503 and r.get_json()["error"]["message"] == \
            "Base de données momentanément indisponible."
        r = client.get("/api/v1/claims", headers=headers)
        assert r.status_code == 503
        health = client.get("/api/v1/health")
        assert health.status_code == 503 and health.get_json()["status"] == "unhealthy"
        database_down(False)
        assert client.get("/pharmacie/").status_code == 200
        assert post_claim(client, shop, body=body).status_code == 201
        assert client.get("/api/v1/health").get_json()["checks"]["database"]["status"] == "ok"


class TestStorageDown:
    @pytest.fixture
    def storage_app(self, app_env):
        """An app of its own, with a route that reads a document (the bordereaux do the same)."""
        from dhamen import create_app
        from dhamen.core.storage import LocalStorage

        application = create_app(app_env)
        application.config.update(TESTING=True)

        @application.get("/api/v1/_test/document")
        def _document():
            from dhamen.core.services import services

            return services().storage.get("documents/absent.pdf")

        @application.get("/_test/document")
        def _document_page():
            from dhamen.core.services import services

            return services().storage.get("documents/absent.pdf")

        from dhamen.access.rbac import public

        for name in ("_document", "_document_page"):
            application.view_functions[name] = public(application.view_functions[name])
        application.extensions["dhamen.services"].storage = LocalStorage("/proc/dhamen-no-such-dir")
        return application

    def test_storage_error_answers_503(self, storage_app):
        client = storage_app.test_client()
        r = client.get("/api/v1/_test/document")
        assert r.status_code == 503
        assert r.get_json()["error"]["message"] == "Stockage des documents momentanément indisponible."
        r = client.get("/_test/document")
        assert r.status_code == 503 and "Service indisponible" in text(r)
        health = client.get("/api/v1/health").get_json()
        assert health["status"] == "degraded" and health["failed"] == ["storage"]


class TestFallbackPage:
    def test_a_503_page_that_cannot_render_still_answers_french(self, app, client, shop, redis_down,
                                                              monkeypatch):
        import dhamen.core.http as http

        def broken(*_a, **_k):
            raise RuntimeError("modèle cassé")

        monkeypatch.setattr(http, "render_template", broken)
        fast_web_session(client, shop.users["pharmacist"])
        redis_down(True)
        r = client.get("/pharmacie/")
        assert r.status_code == 503 and "Service indisponible" in text(r) and 'lang="fr"' in text(r)


class TestDatabaseLostAtCommit:
    def test_503_then_the_same_key_gives_exactly_one_claim(self, app, client, shop, monkeypatch):
        import sqlalchemy.exc

        from dhamen.extensions import db

        body = claim_body(shop)
        before = counts()
        real_commit = db.session.commit
        calls = {"n": 0}

        def lost(*_a, **_k):
            calls["n"] += 1
            db.session.rollback()
            raise sqlalchemy.exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))

        monkeypatch.setattr(db.session, "commit", lost)
        r = post_claim(client, shop, body=body, headers={"Idempotency-Key": "caisse-1-000042"})
        monkeypatch.setattr(db.session, "commit", real_commit)
        assert calls["n"] >= 1 and r.status_code == 503 and r.headers["Retry-After"] == "5"
        assert counts() == before
        first = post_claim(client, shop, body=body, headers={"Idempotency-Key": "caisse-1-000042"})
        again = post_claim(client, shop, body=body, headers={"Idempotency-Key": "caisse-1-000042"})
        assert first.status_code == 201 and again.status_code == 201
        assert first.get_json()["data"]["id"] == again.get_json()["data"]["id"]
        assert counts()["claims"] == before["claims"] + 1
