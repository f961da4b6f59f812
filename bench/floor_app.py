"""The floor of ``claims_bench.py``: the least a durable claim endpoint can do.

Same URL and body as the claim API.  It checks an HS256 access token (PyJWT, algorithm
pinned, ``exp`` required), parses the JSON body and writes it as one row in one
PostgreSQL transaction (SQLAlchemy Core, the engine options of the application), then
answers 201.  No member, contract, rules, audit row or event: any real claim endpoint
costs at least this much, so its throughput bounds what the claim API can reach on the
same machine.
"""

from __future__ import annotations

import json
import os

import jwt
from flask import Flask, jsonify, request
from sqlalchemy import create_engine, text
from ulid import ULID

SECRET = os.environ["BENCH_FLOOR_SECRET"]
engine = create_engine(os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1),
                       pool_pre_ping=True, pool_size=10, max_overflow=10)
# The table ``bench_floor`` is created by claims_bench.py before the server starts.
INSERT = text("INSERT INTO bench_floor (id, body) VALUES (:id, CAST(:body AS jsonb))")
app = Flask(__name__)


@app.post("/api/v1/claims/pharmacy")
def claim():
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    try:
        claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.InvalidTokenError:
        return jsonify({"success": False, "error": {"code": "UNAUTHORIZED"}}), 401
    data = request.get_json()
    row_id = str(ULID())
    with engine.begin() as conn:
        conn.execute(INSERT, {"id": row_id, "body": json.dumps({"by": claims["sub"], "claim": data})})
    return jsonify({"success": True, "data": {"id": row_id}}), 201


@app.get("/api/v1/health")
def health():
    return jsonify({"success": True, "data": {"status": "healthy"}})
