"""``GET /api/v1/openapi.json`` and ``GET /api/v1/docs`` (the French reference page, rendered
on the server from the same document: no script, no CDN)."""

from __future__ import annotations

import json

from flask import abort, current_app, jsonify, render_template

from dhamen.access.rbac import public
from dhamen.apidoc import document
from dhamen.claims.schemas import FIELD_LABELS


def _document() -> dict:
    cached = current_app.extensions.get("dhamen.openapi")
    if cached is None:
        cached = document.build(current_app, current_app.config["DHAMEN"].api_version)
        current_app.extensions["dhamen.openapi"] = cached
    return cached


@public
def openapi_json():
    return jsonify(_document())


@public
def api_docs():
    """Public in development; elsewhere only with ``API_DOCS_ENABLED=true``."""
    if not current_app.config["DHAMEN"].api_docs_enabled:
        abort(404)
    doc = _document()
    examples = {op["operationId"]: json.dumps(op["requestBody"]["content"]["application/json"]["example"],
                                              indent=2, ensure_ascii=False)
                for _tag, _method, _path, op in _operations(doc)
                if "example" in op.get("requestBody", {}).get("content", {}).get("application/json", {})}
    return render_template("apidoc/docs.html", doc=doc, operations=list(_operations(doc)), examples=examples,
                           schemas=doc["components"]["schemas"], labels=FIELD_LABELS)


def _operations(doc: dict):
    for tag in doc["tags"]:
        for path, methods in doc["paths"].items():
            for method, op in methods.items():
                if op["tags"][0] == tag["name"]:
                    yield tag["name"], method.upper(), path, op


ROUTES = (
    ("/openapi.json", openapi_json, ("GET",)),
    ("/docs", api_docs, ("GET",)),
)
