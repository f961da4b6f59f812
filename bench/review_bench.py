"""Insurer portal benchmark: review queue pages, dashboard, CSV export — on a database with 1M claims.

    createdb -h 127.0.0.1 -U postgres -T bench1m_tpl insurer_1m
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/insurer_1m .venv/bin/flask --app app db upgrade
    .venv/bin/python bench/review_bench.py --db postgresql://postgres@127.0.0.1:5432/insurer_1m

Server time of each page = the whole request in-process (Flask test client: routing,
session, RBAC, queries, template), p50/p95 over ``--n`` requests after 5 warm-up ones, for
the STAR agent of the demo data (the insurer with most claims).  Reference measured in the
same run: a route doing one ``SELECT 1`` through the same app and session (the floor of any
page that reads the database).  CSV: ``export.rows`` for every claim (an ADMIN sees all
organisations: 1M rows) consumed chunk by chunk, with the process's resident memory sampled
every 100 000 rows; reference: the same statement read raw through the same server-side cursor
(same plan settings, same chunk size), without formatting.  ``--explain`` prints the EXPLAIN
(ANALYZE, BUFFERS) of every statement that one request of each page runs on the claims or
their roll-ups.  The load average is printed before and after.  Nothing is written to the
database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_PAGE_MS, TARGET_DASHBOARD_MS, TARGET_CSV_S = 50, 200, 30


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def timed(client, path: str, n: int) -> list[float]:
    for _ in range(5):
        assert client.get(path).status_code == 200, path
    out = []
    for _ in range(n):
        start = time.perf_counter()
        r = client.get(path)
        out.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default=os.environ.get("DATABASE_URL",
                                                       "postgresql://postgres@127.0.0.1:5432/insurer_1m"))
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--agent", default="agent@star.tn")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--skip-csv", action="store_true")
    args = parser.parse_args()
    os.environ.update({"DATABASE_URL": args.db, "ENVIRONMENT": "development", "RATELIMIT_ENABLED": "false"})
    os.environ.pop("REDIS_URL", None)

    from flask import current_app
    from sqlalchemy import func, select, text

    from dhamen import create_app
    from dhamen.access.auth import sessions
    from dhamen.access.rbac import public
    from dhamen.extensions import db
    from dhamen.insurer import export, queue
    from dhamen.models import Claim, User

    app = create_app()

    @app.get("/__bench_floor")
    @public
    def _floor():
        return str(db.session.execute(text("SELECT 1")).scalar())

    with app.app_context():
        agent = db.session.scalar(select(User).where(User.email == args.agent))
        total = db.session.scalar(select(func.count()).select_from(Claim))
        waiting = db.session.scalar(select(func.count()).select_from(Claim).where(
            Claim.insurer_id == agent.insurer_id, Claim.status.in_(queue.REVIEW_STATUSES)))
        print(f"{total:,} claims; {agent.email}'s queue: {waiting:,} claims waiting")
        depth = min(10_000, max(1, waiting - 30))
        deep = db.session.execute(
            select(Claim.created_at, Claim.id).where(Claim.insurer_id == agent.insurer_id,
                                                     Claim.status.in_(queue.REVIEW_STATUSES))
            .order_by(Claim.created_at, Claim.id).offset(depth - 1).limit(1)).one()
        with app.test_request_context():
            cursor = queue.KEYSETS["anciennes"].encode(deep)
        sid = sessions.create(agent, "web", current_app.config["DHAMEN"].session_idle_minutes * 60)
    client = app.test_client()
    with client.session_transaction() as sess:
        sess.update({"sid": sid, "_user_id": agent.id, "_fresh": True})

    three = "type=pharmacy&score_min=40&montant_min=20,000"
    cases = [
        ("reference: SELECT 1 route", "/__bench_floor", None),
        ("queue, first page", "/assureur/file", TARGET_PAGE_MS),
        (f"queue, {depth:,} rows deep", f"/assureur/file?apres={cursor}", TARGET_PAGE_MS),
        (f"queue, three filters ({three})", f"/assureur/file?{three}", TARGET_PAGE_MS),
        ("queue, three filters, flag (type+signal+score)", "/assureur/file?type=pharmacy&signal=DUPLICATE&score_min=40",
         TARGET_PAGE_MS),
        ("queue, a flag rare in the queue (FAR_PROVIDER)", "/assureur/file?signal=FAR_PROVIDER", TARGET_PAGE_MS),
        ("review API, first page", "/api/v1/review", None),
        ("dashboard", "/assureur/", TARGET_DASHBOARD_MS),
    ]
    results = {}
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"\n{'page':58} {'p50 ms':>8} {'p95 ms':>8} {'× ref':>7}  target")
    for label, path, target in cases:
        if path.startswith("/api/"):
            from dhamen.access.auth import tokens

            with app.app_context():
                token = tokens.issue(db.session.get(User, agent.id)).access_token
            for _ in range(5):
                client.get(path, headers={"Authorization": f"Bearer {token}"})
            times = []
            for _ in range(args.n):
                start = time.perf_counter()
                r = client.get(path, headers={"Authorization": f"Bearer {token}"})
                times.append((time.perf_counter() - start) * 1000)
                assert r.status_code == 200
        else:
            times = timed(client, path, args.n)
        results[label] = times
        ref = p95(results["reference: SELECT 1 route"])
        verdict = "" if target is None else (f"< {target} ms: " + ("OK" if p95(times) < target else "MISSED"))
        print(f"{label:58} {statistics.median(times):8.1f} {p95(times):8.1f} {p95(times) / ref:7.1f}  {verdict}")

    if args.explain:
        # Every statement one request of each page runs on the claims or their roll-ups, captured as the
        # driver receives it (SQL + parameters), then EXPLAIN (ANALYZE, BUFFERS)-ed on a raw connection.
        from sqlalchemy import event

        with app.app_context():
            engine = db.engine
        for label, path, _target in cases[1:]:
            if path.startswith("/api/"):
                continue
            seen: list = []

            def _capture(_conn, _cursor, statement, parameters, _context, _many, seen=seen):
                if ("claims" in statement or "claim_day" in statement) and statement.lstrip().startswith("SELECT"):
                    seen.append((statement, parameters))

            event.listen(engine, "before_cursor_execute", _capture)
            try:
                assert client.get(path).status_code == 200
            finally:
                event.remove(engine, "before_cursor_execute", _capture)
            raw = engine.raw_connection()
            try:
                cur = raw.cursor()
                for statement, parameters in seen:
                    cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters)
                    plan = "\n".join(r[0] for r in cur.fetchall())
                    print(f"\n-- {label}\n{statement.strip()}\n{plan}")
                raw.rollback()
            finally:
                raw.close()

    print(f"load average after the pages: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.skip_csv:
        return
    with app.test_request_context():
        admin = db.session.scalar(select(User).where(User.role == "ADMIN"))
        filters = queue.ReviewFilters(statut=queue.ALL_STATUSES)
        raw_start, raw_rows = time.perf_counter(), 0
        conn = db.session.connection()
        conn.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1")  # as export.rows does
        result = conn.execution_options(stream_results=True, yield_per=export.CHUNK_ROWS).execute(
            export.statement(admin, filters))
        for chunk in result.partitions():
            raw_rows += len(chunk)
        raw_s = time.perf_counter() - raw_start
        db.session.rollback()
        rss = [rss_mb()]
        cpu_start = time.process_time()
        start, size, rows = time.perf_counter(), 0, 0
        for chunk in export.rows(admin, filters):
            size += len(chunk)
            rows += chunk.count("\r\n")
            if rows // 100_000 > len(rss) - 1:
                rss.append(rss_mb())
        csv_s = time.perf_counter() - start
        csv_cpu = time.process_time() - cpu_start
    print(f"\nCSV export: {rows - 1:,} rows, {size / 2**20:.0f} MiB in {csv_s:.1f} s "
          f"(reference, same rows read raw: {raw_rows:,} in {raw_s:.1f} s; × {csv_s / raw_s:.1f}); "
          f"target < {TARGET_CSV_S} s: {'OK' if csv_s < TARGET_CSV_S else 'MISSED'}")
    print("resident memory every 100 000 rows (MiB): " + " ".join(f"{m:.0f}" for m in rss))
    print(f"CPU time of the export: {csv_cpu:.1f} s; load average after: "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
