"""Claim submission benchmark: Dhamen vs a bare Flask endpoint, same server setup.

    .venv/bin/python bench/claims_bench.py [--duration 20] [--clients 20] [--bulk 100000]

1. (Re)creates the PostgreSQL database ``bench`` (``--pg``), migrates it and
   loads the demo data (``flask dhamen seed``, optionally ``--bulk`` claims);
2. starts ``gunicorn wsgi:app`` (``--workers`` × ``--threads``, gthread) on a
   loopback port with ENVIRONMENT=development, that DATABASE_URL, a real
   REDIS_URL (``--redis``, its own database number, flushed) and
   RATELIMIT_ENABLED=false; logs a pharmacist in through the API;
3. ``--clients`` threads, each with its own keep-alive ``http.client``
   connection, POST ``/api/v1/claims/pharmacy`` (1 to 4 lines, a unique
   ``Idempotency-Key``) for ``--duration`` seconds, after a short warm-up;
4. does the same against ``bench/bare_app.py`` served by gunicorn the same way;
5. prints p50/p95/p99 latency and throughput of both, the ratio, and whether
   the targets hold (p95 < 100 ms, throughput ≥ 1/3 of the bare endpoint's).

Everything listens on 127.0.0.1; every loop is bounded by time; the servers
it started are stopped at the end (also on Ctrl-C).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PHARMACIST = "pharmacie@dhamen.tn"
HOST = "127.0.0.1"


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    elapsed: float = 0.0
    per_client: list[tuple[int, float]] = field(default_factory=list)  # (ok, mean ms) per client

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))] * 1000

    def line(self) -> str:
        mean = statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan")
        return (f"{self.name:<8} {self.ok:>7} ok {self.errors:>4} err  {self.throughput:8.1f} req/s   "
                f"p50 {self.pct(50):6.1f} ms  p95 {self.pct(95):6.1f} ms  p99 {self.pct(99):6.1f} ms  "
                f"mean {mean:6.1f} ms  statuses {dict(sorted(self.statuses.items()))}")


# --- environment --------------------------------------------------------------------------------

def app_env(args) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "STORAGE_"))}
    env.update({
        "ENVIRONMENT": "development",
        "DATABASE_URL": args.pg.rsplit("/", 1)[0] + f"/{args.database}",
        "REDIS_URL": args.redis,
        "RATELIMIT_ENABLED": "false",
        "DHAMEN_INSTANCE_PATH": str(Path(args.workdir) / "instance"),
        "PYTHONUNBUFFERED": "1",
    })
    return env


def prepare_database(args, env) -> None:
    import psycopg
    import redis

    admin_url = args.pg.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (args.database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{args.database}"')
    if not args.keep:
        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        redis.Redis.from_url(args.redis).flushdb()
        run(["-m", "flask", "--app", "wsgi", "db", "upgrade"], env)
        seed = ["-m", "flask", "--app", "wsgi", "dhamen", "seed", "--members", str(args.members)]
        if args.bulk:
            seed += ["--claims", str(args.bulk)]
        t = time.perf_counter()
        run(seed, env)
        print(f"   données chargées en {time.perf_counter() - t:.1f} s")


def run(cmd: list[str], env) -> None:
    out = subprocess.run([PYTHON, *cmd], cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    if out.returncode:
        sys.exit(f"échec de {' '.join(cmd)} :\n{out.stdout}\n{out.stderr}")


def contracts_for_pharmacist(env) -> list[str]:
    import psycopg

    with psycopg.connect(env["DATABASE_URL"]) as conn:
        rows = conn.execute("""
            SELECT c.id FROM contracts c
            JOIN conventions v ON v.insurer_id = c.insurer_id AND v.is_active
            JOIN users u ON u.provider_id = v.provider_id
            WHERE u.email = %s AND c.status = 'active' AND c.end_date >= current_date
              AND c.start_date + c.carence_days <= current_date AND v.start_date <= current_date
            ORDER BY c.id""", (PHARMACIST,)).fetchall()
    return [r[0] for r in rows]


# --- servers -------------------------------------------------------------------------------------

class Server:
    def __init__(self, name: str, target: str, port: int, env: dict, args, chdir: Path | None = None):
        self.name, self.port = name, port
        log = Path(args.workdir) / f"{name}.log"
        cmd = [PYTHON, "-m", "gunicorn", "-k", args.worker_class, "-w", str(args.workers), "--threads", str(args.threads),
               "-b", f"{HOST}:{port}", "--keep-alive", "30", "--graceful-timeout", "5", "--log-level", "warning"]
        if chdir:
            cmd += ["--chdir", str(chdir)]
        cmd += args.gunicorn_arg
        self.log = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([*cmd, target], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"{name} : gunicorn s'est arrêté, voir {log}")
            try:
                conn = http.client.HTTPConnection(HOST, port, timeout=2)
                conn.request("GET", "/api/v1/health")
                if conn.getresponse().status in (200, 503):
                    conn.close()
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        sys.exit(f"{name} : pas de réponse sur le port {port}, voir {log}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def login(port: int) -> str:
    from dhamen.seed.demo import DEMO_PASSWORD

    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    conn.request("POST", "/api/v1/auth/login", json.dumps({"email": PHARMACIST, "password": DEMO_PASSWORD}),
                 {"Content-Type": "application/json"})
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    if resp.status != 200 or "accessToken" not in body.get("data", {}):
        sys.exit(f"connexion du pharmacien impossible : {resp.status} {body}")
    return body["data"]["accessToken"]


# --- load ----------------------------------------------------------------------------------------

def make_bodies(contracts: list[str], n: int, seed: int = 1) -> list[bytes]:
    from dhamen.domain.catalogue import items_for

    rng = random.Random(seed)
    drugs = [i for i in items_for("pharmacy") if i.category != "cosmetique"]
    today = date.today().isoformat()
    out = []
    for _ in range(n):
        lines = [{"code": d.code, "label": d.label, "quantity": rng.choice((1, 1, 2)), "unitPrice": d.unit_price,
                  "isGeneric": d.is_generic} for d in rng.sample(drugs, rng.randint(1, 4))]
        out.append(json.dumps({"contractId": rng.choice(contracts), "careDate": today, "items": lines}).encode())
    return out


def drive(name: str, port: int, token: str | None, bodies: list[bytes], clients: int, duration: float,
          warmup: float, new_connection: bool = False) -> Result:
    result = Result(name)
    lock = threading.Lock()
    start_at = time.monotonic() + warmup
    stop_at = start_at + duration

    def client(n: int) -> None:
        rng = random.Random(n)
        lat, statuses, errors = [], {}, 0
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if new_connection:  # one connection per request, as behind a reverse proxy without upstream keep-alive
            headers["Connection"] = "close"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        while True:
            now = time.monotonic()
            if now >= stop_at:
                break
            body = bodies[rng.randrange(len(bodies))]
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/claims/pharmacy", body, {**headers, "Idempotency-Key": uuid.uuid4().hex})
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                if new_connection:
                    conn.close()
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                time.sleep(0.01)  # a dead server is not hammered
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
                continue
            elapsed = time.perf_counter() - t0
            if now >= start_at:  # requests sent during the warm-up are not counted
                statuses[status] = statuses.get(status, 0) + 1
                if status == 201:
                    lat.append(elapsed)
                else:
                    errors += 1
        conn.close()
        with lock:
            result.latencies.extend(lat)
            result.per_client.append((len(lat), statistics.fmean(lat) * 1000 if lat else float("nan")))
            result.errors += errors
            for k, v in statuses.items():
                result.statuses[k] = result.statuses.get(k, 0) + v

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(warmup + duration + 60)
    result.elapsed = duration
    return result


def measure(args, name: str, target: str, port: int, env: dict, bodies: list[bytes], token=None,
            chdir: Path | None = ROOT / "bench") -> Result:
    """Start ``target`` under gunicorn (from ``chdir``), drive it (``token(port)`` gives the Bearer
    token), stop it."""
    server = Server(name, target, port, env, args, chdir=chdir)
    try:
        result = drive(name, port, token(port) if token else None, bodies, args.clients, args.duration,
                       args.warmup, args.new_connection)
    finally:
        server.stop()
    print(result.line())
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=20.0, help="seconds of measured load per server")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--worker-class", default="gthread", choices=("gthread", "sync"))
    p.add_argument("--gunicorn-arg", action="append", default=[], help="passed to gunicorn (repeatable)")
    p.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--database", default="bench")
    p.add_argument("--redis", default=os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/8"))
    p.add_argument("--members", type=int, default=1000)
    p.add_argument("--bulk", type=int, default=0, help="bulk claims to load first (dhamen seed --claims)")
    p.add_argument("--keep", action="store_true", help="reuse the bench database as it is")
    p.add_argument("--port", type=int, default=8751)
    p.add_argument("--only", action="append", choices=("dhamen", "floor", "bare"),
                   help="run only these servers (repeatable); default: all three")
    p.add_argument("--new-connection", action="store_true",
                   help="a new connection per request (as behind a reverse proxy) instead of keep-alive")
    p.add_argument("--per-client", action="store_true", help="print the spread of per-client mean latencies")
    args = p.parse_args()
    if args.duration > 600 or args.clients > 200:
        sys.exit("--duration ≤ 600 s et --clients ≤ 200")
    sys.path.insert(0, str(ROOT))
    args.workdir = tempfile.mkdtemp(prefix="dhamen-bench-")
    env = app_env(args)
    print(f"→ base {env['DATABASE_URL']}, Redis {args.redis}, journaux dans {args.workdir}")
    wanted = set(args.only or ("dhamen", "floor", "bare"))
    results: dict[str, Result] = {}
    if wanted & {"dhamen", "floor"}:
        print("→ préparation de la base…")
        prepare_database(args, env)
    if "dhamen" in wanted:
        contracts = contracts_for_pharmacist(env)
        if not contracts:
            sys.exit("aucun contrat utilisable par le pharmacien de démonstration")
        bodies = make_bodies(contracts, 2000)
        print(f"→ Dhamen : gunicorn {args.workers} workers × {args.threads} threads sur :{args.port}, "
              f"{len(contracts)} contrats")
        results["dhamen"] = measure(args, "dhamen", "wsgi:app", args.port, env, bodies, token=login, chdir=None)
    if "floor" in wanted:
        import jwt
        import psycopg

        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS bench_floor")
            conn.execute("CREATE TABLE bench_floor (id varchar(26) PRIMARY KEY, body jsonb NOT NULL)")
        secret = os.urandom(32).hex()
        token = jwt.encode({"sub": PHARMACIST, "exp": int(time.time()) + 3600}, secret, algorithm="HS256")
        bodies = make_bodies(["01FLOOR000000000000000000"], 2000)
        print(f"→ plancher (JWT + une écriture PostgreSQL) sur :{args.port + 2}")
        results["floor"] = measure(args, "floor", "floor_app:app", args.port + 2,
                                   {**env, "BENCH_FLOOR_SECRET": secret}, bodies, token=lambda _port: token)
    if "bare" in wanted:
        bodies = make_bodies(["01BARE0000000000000000000"], 2000)
        print(f"→ Flask nu : gunicorn {args.workers} workers × {args.threads} threads sur :{args.port + 1}")
        results["bare"] = measure(args, "bare", "bare_app:app", args.port + 1, env, bodies)
    print()
    for r in results.values():
        print(r.line())
        if args.per_client and r.per_client:
            means = sorted(m for _, m in r.per_client)
            print(f"         moyenne par client : de {means[0]:.1f} à {means[-1]:.1f} ms "
                  f"(connexions réparties inégalement entre les workers quand l'écart est grand)")
    bare = results.get("bare")
    for name, label in (("dhamen", "Dhamen"), ("floor", "plancher")):
        if name in results and bare and bare.throughput:
            print(f"ratio de débit {label} / Flask nu : {results[name].throughput / bare.throughput:.2f}")
    if "dhamen" in results:
        dhamen = results["dhamen"]
        if bare and bare.throughput:
            ratio = dhamen.throughput / bare.throughput
            print(f"\nobjectif débit ≥ 1/3 du Flask nu : {ratio:.2f} — {'atteint' if ratio >= 1 / 3 else 'manqué'}")
        print(f"objectif p95 Dhamen < 100 ms : {dhamen.pct(95):.1f} ms — "
              f"{'atteint' if dhamen.pct(95) < 100 else 'manqué'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
