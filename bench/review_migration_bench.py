"""The insurer portal's migrations on a copy of the 1M-claim template: time, plans before/after, exactness.

    .venv/bin/python bench/review_migration_bench.py --template bench1m_tpl --database insurerperf_1m

1. (re)creates ``--database`` from ``--template`` (``createdb -T``), at the revision the
   template has (the head before this work, ``f16a0b1c2d3e``);
2. EXPLAIN (ANALYZE, BUFFERS) of the insurer's month figures (the range of
   ``(insurer_id, created_at…)``), with both overlapping indexes present;
3. ``flask db upgrade b7e4d2a9c1f0`` (review indexes built CONCURRENTLY, the wide
   ``idx_claims_insurer_created`` dropped) then ``flask db upgrade c3d9e8f1a2b4`` (roll-up
   tables, triggers, backfill month by month), each timed, with the load average;
4. the same EXPLAIN after the drop; the roll-ups compared with a GROUP BY of the claims
   (must be 0 differing rows); ``VACUUM ANALYZE`` for the benchmarks that follow.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-X", "-q"]

MONTH_FIGURES = """
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT count(*), sum(total_amount), sum(covered_amount) FILTER (WHERE status NOT IN ('rejected', 'blocked'))
FROM claims WHERE insurer_id = (SELECT id FROM insurers WHERE code = 'STAR')
  AND created_at >= date_trunc('month', now() AT TIME ZONE 'Africa/Tunis') AT TIME ZONE 'Africa/Tunis'
"""
DIFF = """
SELECT count(*) FROM (
  SELECT insurer_id, (created_at AT TIME ZONE 'Africa/Tunis')::date AS day, status, type, provider_id,
         count(*) AS n, sum(total_amount) AS t, sum(covered_amount) AS c
  FROM claims GROUP BY 1, 2, 3, 4, 5) g
FULL JOIN (SELECT * FROM claim_day_totals WHERE claims <> 0) r
  ON (g.insurer_id, g.day, g.status, g.type, g.provider_id) = (r.insurer_id, r.day, r.status, r.type, r.provider_id)
WHERE g.n IS DISTINCT FROM r.claims OR g.t IS DISTINCT FROM r.total_amount OR g.c IS DISTINCT FROM r.covered_amount
"""


def psql(db: str, sql: str) -> str:
    return subprocess.run([*PSQL, "-d", db, "-At", "-c", sql], check=True, capture_output=True, text=True).stdout


def upgrade(url: str, revision: str) -> float:
    env = dict(os.environ, DATABASE_URL=url, ENVIRONMENT="development")
    env.pop("REDIS_URL", None)
    start = time.perf_counter()
    subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "app", "db", "upgrade", revision], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--template", default="bench1m_tpl")
    parser.add_argument("--database", default="insurerperf_1m")
    parser.add_argument("--no-clone", action="store_true")
    args = parser.parse_args()
    url = f"postgresql://postgres@127.0.0.1:5432/{args.database}"
    if not args.no_clone:
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", args.database], check=True)
        start = time.perf_counter()
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", "-T", args.template, args.database],
                       check=True)
        print(f"cloned {args.template} in {time.perf_counter() - start:.1f} s")
    print("claims:", psql(args.database, "SELECT count(*) FROM claims").strip(),
          "revision:", psql(args.database, "SELECT version_num FROM alembic_version").strip())
    psql(args.database, "VACUUM ANALYZE claims")
    print("\n-- insurer month figures, before (both indexes)\n" + psql(args.database, MONTH_FIGURES))
    for revision in ("b7e4d2a9c1f0", "c3d9e8f1a2b4"):
        load = os.getloadavg()[0]
        print(f"flask db upgrade {revision}: {upgrade(url, revision):.1f} s (load average {load:.1f})")
    psql(args.database, "VACUUM ANALYZE claims")
    psql(args.database, "VACUUM ANALYZE claim_day_totals")
    psql(args.database, "VACUUM ANALYZE claim_day_flags")
    print("\n-- insurer month figures, after (idx_claims_insurer_created dropped)\n" + psql(args.database, MONTH_FIGURES))
    print("roll-up rows:", psql(args.database, "SELECT count(*), sum(claims) FROM claim_day_totals").strip(),
          "| flag rows:", psql(args.database, "SELECT count(*) FROM claim_day_flags").strip())
    print("roll-up rows differing from GROUP BY of the claims:", psql(args.database, DIFF).strip())


if __name__ == "__main__":
    sys.exit(main())
