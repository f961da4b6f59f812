"""Hostile input refused at the edge, for every route and form (issue 16).

The walks read the application's URL map, its forms (WTForms classes and the
``name=`` attributes of the templates) and its pydantic bodies: a route or a
field added tomorrow is covered without being listed here.  Run them on
PostgreSQL too (``DATABASE_URL``…): SQLite stores a NUL that PostgreSQL refuses.
"""

from __future__ import annotations

import html
import itertools
import json
import re
from pathlib import Path

import pytest
from claims_helpers import claim_body, counts, drug, post_claim
from pydantic import BaseModel

from dhamen.core import edge

ROOT = Path(__file__).resolve().parents[2]
NUL, SURROGATE = "\x00", "\ud800"
_ips = itertools.count(1)


def fresh_ip() -> dict:
    """Each request from its own address: the walks stay under the rate limits they do not test."""
    n = next(_ips)
    return {"REMOTE_ADDR": f"10.{n // 65025 % 250}.{n // 255 % 255}.{n % 255 + 1}"}


def rules(app, methods: set[str], api: bool | None = None):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or not (rule.methods & methods):
            continue
        is_api = rule.rule.startswith("/api/")
        if api is None or api == is_api:
            yield rule


def encode(value: str) -> str:
    """Percent-encoded UTF-8; a lone surrogate travels as the bytes a careless client sends (ED A0 80)."""
    from urllib.parse import quote

    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def build(rule, value: str = "x") -> str:
    """The rule's URL with every path parameter set to ``value`` (percent-encoded)."""
    path = rule.rule
    for arg in rule.arguments:
        path = re.sub(rf"<(?:[^:<>]+:)?{arg}>", encode(value), path)
    return path


def form_field_names() -> set[str]:
    """Every form field of the application: WTForms classes and the templates' inputs."""
    from flask_wtf import FlaskForm

    import dhamen.blueprints  # noqa: F401 - import every view module (and its forms)

    names = set()
    todo = list(FlaskForm.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        names.update(name for name, value in vars(cls).items() if hasattr(value, "field_class"))
    for template in (ROOT / "templates").rglob("*.html"):
        names.update(re.findall(r'name="([A-Za-z_][\w-]*)"', template.read_text()))
    names.update({"lines-0-code", "lines-0-label", "lines-0-qty", "lines-0-price"})  # the editor's rows
    names.discard("viewport")
    return names


def json_string_fields() -> set[str]:
    """Every string field of every pydantic body of the API."""
    import dhamen.claims.schemas  # noqa: F401

    names, todo = set(), list(BaseModel.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        # the OpenAPI answer models (dhamen.apidoc.models) describe responses: only their *Body are requests
        if cls.__module__.startswith("dhamen.") and (cls.__module__ != "dhamen.apidoc.models"
                                                     or cls.__name__.endswith("Body")):
            names.update(cls.model_fields)
    return names | {"email", "password", "refreshToken", "code", "mfaToken"}


def refused(response, field: str | None = None) -> bool:
    """Refused by the guard: 422/400 with a French message (naming the field when given)."""
    if response.status_code not in (400, 413, 422):
        return False
    if response.is_json:
        error = response.get_json()["error"]
        if field is not None and error.get("details", {}).get("field") != field:
            return False
        return not re.search(r"\b(Input|should|valid|Error)\b", error["message"])
    page = html.unescape(response.get_data(as_text=True))
    return "Saisie refusée" in page or "Requête invalide" in page or "trop volumineu" in page


class TestTextChecks:
    """The checks themselves, without Flask."""

    @pytest.mark.parametrize("value", ["a\x00b", "\x00", "\ud800", "x\udfffy", "\udc00\ud800"])
    def test_nul_and_lone_surrogates_are_named(self, value):
        assert edge.text_problem(value)

    @pytest.mark.parametrize("value", ["", "Éléonore", "😀", "عربي", "tab\tnewline\n", "\u200b"])
    def test_ordinary_text_passes(self, value):
        assert edge.text_problem(value) is None

    def test_depth_ignores_brackets_inside_strings(self):
        assert edge.json_depth(b'{"a": "[[[[[[[[[[[["}') == 1
        assert edge.json_depth(b'{"a": "\\"[[[["}') == 1
        assert edge.json_depth(b"[" * 100_000) == 100_000
        assert edge.json_depth(b'[[1], {"b": [2]}]') == 3

    def test_json_numbers_no_column_can_hold_are_refused(self):
        assert edge.parse_json(b'{"n": 9223372036854775807}')[1] is None
        for body in (b'{"n": 9223372036854775808}', b'{"n": NaN}', b'{"n": Infinity}', b'{"n": 1e999}'):
            _data, refusal = edge.parse_json(body)
            assert refusal is not None and refusal.status in (400, 422), body

    def test_a_json_key_with_nul_is_refused(self):
        _data, refusal = edge.parse_json(b'{"a\\u0000": 1}')
        assert refusal.status == 422 and "nom de champ" in refusal.message

    def test_field_labels_are_french(self):
        import dhamen.claims.schemas  # noqa: F401 - registers the API's field names

        assert edge.field_label("items[2].unitPrice") == "prix unitaire"
        assert edge.field_label("lines-3-qty") == "ligne, quantité"
        assert edge.field_label("q") == "recherche"


class TestUrlMapWalk:
    """Every route of the URL map: NUL or a surrogate in a path parameter or the query string."""

    def test_the_walk_sees_the_application(self, app):
        assert len(list(rules(app, {"GET"}))) > 20
        assert any(r.arguments for r in rules(app, {"GET"}, api=True))

    @pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
    def test_path_parameters(self, app, client, bad):
        checked = 0
        for rule in rules(app, {"GET", "POST", "PUT", "PATCH", "DELETE"}):
            for arg in rule.arguments:
                method = sorted(rule.methods & {"GET", "POST", "PUT", "PATCH", "DELETE"})[0]
                url = build(rule, f"abc{bad}")
                r = client.open(url, method=method, environ_base=fresh_ip())
                # A surrogate cannot travel in a URL: its UTF-8 bytes are invalid and arrive as U+FFFD.
                assert r.status_code != 500, (url, r.status_code)
                if bad == NUL:
                    assert refused(r, None if not rule.rule.startswith("/api/") else arg), (url, r.status_code)
                checked += 1
        assert checked > 5

    @pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
    def test_query_strings(self, app, client, bad):
        for rule in rules(app, {"GET"}):
            url = build(rule)
            for name in ("q", "page", "du", "statut", "contrat", "x"):
                r = client.get(f"{url}?{name}={encode(f'a{bad}b')}", environ_base=fresh_ip())
                assert r.status_code != 500, (url, name)
                if bad == NUL:
                    assert refused(r, name if url.startswith("/api/") else None), (url, name, r.status_code)
            r = client.get(f"{url}?{encode(f'k{bad}')}=1", environ_base=fresh_ip())
            assert r.status_code != 500 and (bad != NUL or refused(r)), url

    def test_absurd_page_numbers(self, app, client):
        for rule in rules(app, {"GET"}):
            url = build(rule)
            for value in ("1" + "0" * 30, "-5", "99999999999999999999", "1" * 5000):
                r = client.get(url, query_string={"page": value}, environ_base=fresh_ip())
                assert refused(r, "page" if url.startswith("/api/") else None), (url, value, r.status_code)

    def test_nul_in_a_header(self, app, client):
        r = client.post("/api/v1/auth/login", json={"email": "a@b.tn", "password": "x"},
                        headers={"Idempotency-Key": "k\x00"}, environ_base=fresh_ip())
        assert r.status_code == 422 and "Idempotency-Key" in r.get_json()["error"]["details"]["field"]


class TestJsonBodies:
    """Every JSON route: every string field of every body gets NUL and a surrogate; size and depth."""

    @pytest.fixture
    def json_routes(self, app):
        found = [build(r) for r in rules(app, {"POST", "PUT", "PATCH"}, api=True)]
        assert len(found) >= 5
        return found

    @pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
    def test_every_string_field(self, client, json_routes, bad):
        fields = json_string_fields()
        assert {"contractId", "code", "label", "notes", "room", "nationalId", "email", "refreshToken"} <= fields
        for url, name in itertools.product(json_routes, sorted(fields)):
            r = client.post(url, json={name: f"x{bad}y"}, environ_base=fresh_ip())
            assert refused(r, name), (url, name, r.status_code, r.get_data(as_text=True)[:200])
            message = r.get_json()["error"]["message"]
            assert edge.field_label(name).lower() in message.lower(), message

    def test_nested_field_is_named_by_its_path(self, client, json_routes):
        body = {"contractId": "c", "items": [{"code": "PH1", "quantity": 1, "unitPrice": 100},
                                            {"code": "PH2", "label": "a\x00", "quantity": 1, "unitPrice": 1}]}
        for url in json_routes:
            r = client.post(url, json=body, environ_base=fresh_ip())
            assert refused(r, "items[1].label"), url
            assert r.get_json()["error"]["message"].startswith("Libellé")

    def test_deep_and_large_bodies(self, client, json_routes):
        for url in json_routes:
            r = client.post(url, data="[" * 100_000, content_type="application/json", environ_base=fresh_ip())
            assert r.status_code == 400 and r.get_json()["error"]["code"] == "INVALID_JSON", url
            big = json.dumps({"notes": "x" * (edge.MAX_JSON_BYTES + 1)})
            r = client.post(url, data=big, content_type="application/json", environ_base=fresh_ip())
            assert r.status_code == 413 and r.get_json()["error"]["code"] == "PAYLOAD_TOO_LARGE", url
            r = client.post(url, data='{"a": 1,', content_type="application/json", environ_base=fresh_ip())
            assert r.status_code == 400 and r.get_json()["error"]["code"] == "INVALID_JSON", url


class TestForms:
    """Every form field of every page that takes a POST gets NUL (CSRF off: the guard alone)."""

    @pytest.fixture
    def no_csrf(self, app):
        app.config["WTF_CSRF_ENABLED"] = False
        yield
        app.config["WTF_CSRF_ENABLED"] = True

    def test_every_form_field(self, app, client, no_csrf):
        names = form_field_names()
        assert {"email", "password", "q", "care_date", "room", "first_name", "phone"} <= names
        posts = [build(r) for r in rules(app, {"POST"}, api=False)]
        assert len(posts) >= 5
        for url, name in itertools.product(posts, sorted(names)):
            r = client.post(url, data={name: "a\x00b"}, environ_base=fresh_ip())
            assert refused(r), (url, name, r.status_code)
            page = html.unescape(r.get_data(as_text=True))
            assert edge.field_label(name)[:1].upper() + edge.field_label(name)[1:] in page, (url, name)

    def test_invalid_utf8_in_a_form_is_no_crash(self, app, client, no_csrf):
        for url in [build(r) for r in rules(app, {"POST"}, api=False)]:
            r = client.post(url, data=b"q=%ED%A0%80&email=%FF", content_type="application/x-www-form-urlencoded",
                            environ_base=fresh_ip())
            assert r.status_code != 500, url

    def test_a_file_name_with_nul(self, app, client, no_csrf):
        import io

        url = build(next(rules(app, {"POST"}, api=False)))
        r = client.post(url, data={"f": (io.BytesIO(b"x"), "a\x00.pdf")}, content_type="multipart/form-data",
                        environ_base=fresh_ip())
        assert refused(r)


class TestEndToEnd:
    """The places that answered 500 on PostgreSQL: refused, nothing stored."""

    def test_login_with_nul_or_surrogate(self, client, ctx):
        for email in ("a\x00@b.tn", "\ud800@b.tn"):
            r = client.post("/api/v1/auth/login", json={"email": email, "password": "x"}, environ_base=fresh_ip())
            assert r.status_code == 422 and r.get_json()["error"]["details"]["field"] == "email"
            assert r.get_json()["error"]["message"].startswith("Adresse e-mail")

    def test_refresh_token_with_surrogate(self, client, ctx):
        r = client.post("/api/v1/auth/refresh", json={"refreshToken": "\ud800"}, environ_base=fresh_ip())
        assert r.status_code == 422 and r.get_json()["error"]["details"]["field"] == "refreshToken"

    @pytest.mark.parametrize("where", ["code", "label", "category", "notes", "contractId"])
    def test_claims_api_nul_stores_nothing(self, client, shop, where):
        item = drug()
        body = claim_body(shop, items=[item])
        if where in ("notes", "contractId"):
            body[where] = f"{body.get(where) or 'x'}\x00"
        else:
            item[where] = f"{item.get(where) or 'x'}\x00"
        before = counts()
        r = post_claim(client, shop, body=body)
        assert r.status_code == 422, r.get_json()
        assert counts() == before

    def test_room_with_nul(self, client, shop):
        body = claim_body(shop, items=[{"code": "CH-J", "quantity": 1, "unitPrice": 100_000}],
                          admissionDate="2026-01-01", dischargeDate="2026-01-02", room="A\x00")
        r = post_claim(client, shop, care_type="hospitalization", who="clinic", body=body)
        assert r.status_code == 422 and r.get_json()["error"]["details"]["field"] == "room"

    def test_claim_id_with_nul(self, client, shop):
        r = client.get("/api/v1/claims/%00", headers=shop.auth("pharmacist"))
        assert r.status_code == 422 and r.get_json()["error"]["details"]["field"] == "claim_id"

    def test_eligibility_with_nul(self, client, shop):
        r = client.post("/api/v1/eligibility", json={"contractNumber": "C\x00"}, headers=shop.auth("pharmacist"))
        assert r.status_code == 422 and r.get_json()["error"]["details"]["field"] == "contractNumber"
        r = client.get("/api/v1/eligibility?contractNumber=C%00", headers=shop.auth("pharmacist"))
        assert r.status_code == 422

    def test_history_page_and_filter(self, client, shop, app):
        from auth_helpers import fast_web_session

        fast_web_session(client, shop.users["pharmacist"])
        r = client.get("/pharmacie/demandes?page=" + "1" + "0" * 30)
        assert r.status_code == 400 and "Page : un nombre entier" in html.unescape(r.get_data(as_text=True))
        r = client.get("/pharmacie/demandes?adherent=a%00")
        assert r.status_code == 400 and "Adhérent" in html.unescape(r.get_data(as_text=True))
        r = client.get("/pharmacie/catalogue?q=a%00")
        assert r.status_code == 400
        assert client.get("/pharmacie/demandes?page=2").status_code == 200

    def test_well_formed_claim_still_accepted(self, client, shop):
        r = post_claim(client, shop, body=claim_body(shop, items=[drug(label="Paracétamol 500 mg — boîte 😀")]))
        assert r.status_code == 201, r.get_json()
