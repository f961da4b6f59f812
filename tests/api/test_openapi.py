"""The OpenAPI document of /api/v1 (issue 15): valid, complete, versioned."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

SNAPSHOT = Path(__file__).with_name("openapi_v1.snapshot.json")


def _doc(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_document_validates_as_openapi_3_1(client):
    from openapi_spec_validator import validate

    doc = _doc(client)
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["x-api-version"] == "v1"
    validate(doc)


def test_every_api_route_is_documented(app, client):
    from dhamen.apidoc import document

    doc = _doc(client)
    documented = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    routes = set(document.api_operations(app))
    assert routes == documented
    assert ("post", "/claims/pharmacy") in routes and len(routes) >= 20


def test_an_undocumented_route_fails_the_build():
    from flask import Flask

    from dhamen.apidoc import document

    app = Flask("probe")
    app.add_url_rule("/api/v1/nouvelle-route", "probe", lambda: "", methods=["GET"])
    with pytest.raises(document.UndocumentedRoute, match="GET /nouvelle-route"):
        document.build(app)


def test_bodies_are_the_validating_models_and_errors_are_listed(client):
    from dhamen.claims.schemas import ClaimBody

    doc = _doc(client)
    pharmacy = doc["paths"]["/claims/pharmacy"]["post"]
    schema = doc["components"]["schemas"]["ClaimBody"]
    assert pharmacy["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ClaimBody"}
    assert set(schema["properties"]) == set(ClaimBody.model_fields)
    assert schema["additionalProperties"] is False
    assert "WRONG_CLAIM_TYPE" in pharmacy["responses"]["403"]["description"]
    assert "NO_CONVENTION" in pharmacy["responses"]["422"]["description"]
    assert pharmacy["responses"]["429"]["headers"]["Retry-After"]
    assert {"$ref": "#/components/parameters/IdempotencyKey"} in pharmacy["parameters"]
    assert pharmacy["security"] == [{"bearerAuth": []}]
    assert "NATIONAL_ID_IN_URL" in doc["paths"]["/eligibility"]["get"]["responses"]["400"]["description"]
    assert doc["paths"]["/auth/login"]["post"]["security"] == []
    assert "otpCode" in doc["components"]["schemas"]["MfaVerifyBody"]["properties"]


def test_every_error_code_the_code_raises_is_documented():
    """A new ``ClaimError``/``ApiError`` code must be explained in the document."""
    import re

    from dhamen.apidoc.document import ERROR_CODES

    root = Path(__file__).resolve().parents[2] / "dhamen"
    raised = set()
    for path in ("claims/api.py", "claims/operations.py", "claims/queries.py", "access/auth/api.py",
                 "access/rbac.py", "core/http.py"):
        text = (root / path).read_text(encoding="utf-8")
        raised |= set(re.findall(r'(?:ApiError\(\d+, |ClaimError\()"([A-Z_]+)"', text))
    assert raised and raised <= set(ERROR_CODES), sorted(raised - set(ERROR_CODES))


# --- versioning ----------------------------------------------------------------------------

def shape(doc: dict) -> dict:
    """What a client may rely on: the operations, their answers' statuses, every schema's fields."""
    return {
        "version": doc["info"]["version"],
        "operations": sorted(f"{m.upper()} {p} -> {','.join(sorted(op['responses']))}"
                             for p, ops in doc["paths"].items() for m, op in ops.items()),
        "schemas": {name: sorted(s.get("properties", {})) for name, s in sorted(doc["components"]["schemas"].items())},
    }


def removed(old: dict, new: dict) -> list[str]:
    gone = []
    new_ops = {line.split(" -> ")[0]: set(line.split(" -> ")[1].split(",")) for line in new["operations"]}
    for line in old["operations"]:
        op, statuses = line.split(" -> ")
        if op not in new_ops:
            gone.append(f"opération {op}")
        else:
            gone += [f"réponse {s} de {op}" for s in sorted(set(statuses.split(",")) - new_ops[op])]
    for name, fields in old["schemas"].items():
        if name not in new["schemas"]:
            gone.append(f"schéma {name}")
        else:
            gone += [f"champ {name}.{f}" for f in fields if f not in new["schemas"][name]]
    return gone


def test_nothing_is_removed_without_a_version_change(client):
    current = shape(_doc(client))
    if os.environ.get("UPDATE_OPENAPI_SNAPSHOT") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    if snapshot["version"].split(".")[0] != current["version"].split(".")[0]:
        pytest.skip("version majeure changée : régénérer l'instantané (UPDATE_OPENAPI_SNAPSHOT=1)")
    assert removed(snapshot, current) == [], "retrait sans changement de version : passez à la version majeure suivante"


def test_the_snapshot_check_catches_a_removed_field_and_operation(client):
    current = shape(_doc(client))
    trimmed = json.loads(json.dumps(current))
    trimmed["schemas"]["Claim"].remove("coveredAmount")
    trimmed["operations"] = [op for op in trimmed["operations"] if not op.startswith("GET /claims/{claim_id}")]
    assert removed(current, trimmed) == ["opération GET /claims/{claim_id}", "champ Claim.coveredAmount"]


def test_docs_page_is_behind_a_setting_outside_development(app, client):
    import dataclasses

    settings = app.config["DHAMEN"]
    assert client.get("/api/v1/docs").status_code == 200
    app.config["DHAMEN"] = dataclasses.replace(settings, api_docs_enabled=False)
    try:
        response = client.get("/api/v1/docs")
        assert response.status_code == 404
        assert client.get("/api/v1/openapi.json").status_code == 200
    finally:
        app.config["DHAMEN"] = settings


def test_docs_setting_defaults():
    from dhamen.config import load_config

    assert load_config({"ENVIRONMENT": "development"}).api_docs_enabled is True
    assert load_config({"ENVIRONMENT": "development", "API_DOCS_ENABLED": "false"}).api_docs_enabled is False
