"""The baseline of ``claims_bench.py``: a bare Flask endpoint with the same URL and
body, no database, no auth — what gunicorn + Flask + JSON cost on their own."""

from __future__ import annotations

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/api/v1/claims/pharmacy")
def claim():
    data = request.get_json()
    items = data.get("items") or []
    total = sum(item["quantity"] * item["unitPrice"] for item in items)
    return jsonify({"success": True, "data": {"id": "bare", "status": "approved", "totalAmount": total,
                                              "lines": len(items)}}), 201


@app.get("/api/v1/health")
def health():
    return jsonify({"success": True, "data": {"status": "healthy"}})
