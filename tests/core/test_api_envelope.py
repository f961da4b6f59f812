import pytest


def test_unknown_api_route_gives_envelope_404(client):
    r = client.get("/api/v1/nope")
    assert r.status_code == 404
    assert r.get_json() == {"success": False, "error": {"code": "NOT_FOUND", "message": "Ressource introuvable."}}


def test_wrong_method_gives_envelope_405(client):
    r = client.delete("/api/v1/health")
    assert r.status_code == 405
    body = r.get_json()
    assert body["success"] is False and body["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in r.headers["Allow"]


def test_too_large_gives_envelope_413(client):
    r = client.post("/api/v1/auth/login", data=b"x" * (3 * 1024 * 1024), content_type="application/json")
    assert r.status_code == 413
    assert r.get_json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_unexpected_exception_gives_envelope_500(app_env, tmp_path):
    from dhamen import create_app

    crash_app = create_app(dict(app_env, DHAMEN_INSTANCE_PATH=str(tmp_path)))

    @crash_app.get("/api/v1/_crash")
    def _crash():
        raise RuntimeError("boom secret")

    r = crash_app.test_client().get("/api/v1/_crash")
    assert r.status_code == 500
    assert r.get_json() == {"success": False, "error": {"code": "INTERNAL_ERROR", "message": "Erreur interne du serveur."}}
    assert b"boom" not in r.data


def test_page_404_is_a_french_page(client):
    r = client.get("/nulle-part")
    assert r.status_code == 404
    assert "Page introuvable" in r.get_data(as_text=True)


@pytest.mark.parametrize("body", [b"{not json", b"[1,2]", b'"text"'])
def test_malformed_json_gives_envelope_400(app, body):
    from dhamen.core.http import ApiError, json_body

    with app.test_request_context("/api/v1/x", method="POST", data=body, content_type="application/json"):
        with pytest.raises(ApiError) as exc:
            json_body()
    assert exc.value.status == 400 and exc.value.code == "INVALID_JSON"


def test_non_json_content_type_gives_415(app):
    from dhamen.core.http import ApiError, json_body

    with app.test_request_context("/api/v1/x", method="POST", data="a=b", content_type="application/x-www-form-urlencoded"):
        with pytest.raises(ApiError) as exc:
            json_body()
    assert exc.value.status == 415
