"""Nothing lost under faults: 20 pharmacy clients post claims while PostgreSQL and Redis
restart and the object storage goes away.

    .venv/bin/python bench/faults.py [--duration 180] [--clients 20]

1. Starts its OWN services on loopback, so restarting them disturbs nobody: a PostgreSQL
   cluster (``initdb`` in a temporary folder, port ``--pg-port``, run as the ``postgres``
   user), a ``redis-server`` (``--redis-port``, append-only file as in production) and a
   TCP relay in front of the S3 server (``--s3``, bucket ``--bucket``) that can be cut;
2. migrates, loads the demo data, starts ``gunicorn wsgi:app`` (2 × 4 threads) and one
   ``rq worker --with-scheduler``, rate limits off (faults are measured, not throttling);
3. ``--clients`` threads behave like pharmacy software: each claim gets a fresh
   ``Idempotency-Key``; on a timeout, a connection error or a 5xx the same request is
   sent again with the same key (back-off 0.25 s → 4 s) until it gets an answer; a 401
   logs in again;
4. meanwhile: PostgreSQL restarted (``pg_ctl restart -m fast``) at 20 % of the run,
   Redis restarted (``SHUTDOWN`` then start) at 45 %, the storage cut from 65 % to 80 %;
5. once the clients stop and the queue is drained (plus ``flask dhamen
   events-redeliver`` for events queued while Redis was away), checks and prints: every
   key answered 201 has exactly one claim (the same id on every 201 of that key); no
   claim without its lines, its ``claim.create`` audit row or its event; the amounts
   counted against the annual limits equal the 201 answers' (nothing counted twice); the
   per-insurer Redis counters count each claim once; the error answers seen; how long
   each outage lasted for the clients.

Bounded in time (every wait has a deadline), loopback only; everything it started is
stopped at the end and its temporary folder removed (``--keep-dir`` keeps the logs).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from claims_bench import PHARMACIST, Server, contracts_for_pharmacist, make_bodies  # noqa: E402

PYTHON = sys.executable
HOST = "127.0.0.1"
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- services of our own --------------------------------------------------------------------

class Postgres:
    def __init__(self, folder: Path, port: int):
        self.dir, self.port = folder / "pg", port
        self.dir.mkdir()
        shutil.chown(folder, "postgres")
        shutil.chown(self.dir, "postgres")
        self._as_postgres([str(PG_BIN / "initdb"), "-D", str(self.dir), "-U", "postgres", "--auth=trust",
                           "-E", "UTF8", "--locale=C.UTF-8"])
        self.start()

    def _as_postgres(self, cmd: list[str], timeout: float = 120) -> None:
        out = subprocess.run(["runuser", "-u", "postgres", "--", *cmd], capture_output=True, text=True,
                             timeout=timeout)
        if out.returncode:
            raise SystemExit(f"{' '.join(cmd)} : {out.stdout}{out.stderr}")

    def _ctl(self, *args: str) -> None:
        self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-l", str(self.dir / "server.log"), "-w",
                           "-t", "60", *args])

    def start(self) -> None:
        self._ctl("-o", f"-p {self.port} -k {self.dir} -c listen_addresses={HOST} -c fsync=on", "start")

    def restart(self) -> None:
        self._ctl("-m", "fast", "restart")

    def stop(self) -> None:
        try:
            self._ctl("-m", "fast", "stop")
        except SystemExit as exc:
            log(f"arrêt de PostgreSQL : {exc}")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/dhamen_faults"


class Redis:
    def __init__(self, folder: Path, port: int):
        self.dir, self.port = folder / "redis", port
        self.dir.mkdir()
        self.proc = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", HOST, "--dir", str(self.dir), "--save", "",
             "--appendonly", "yes", "--appendfsync", "everysec"], stdout=open(self.dir / "log", "a"),  # noqa: SIM115
            stderr=subprocess.STDOUT)
        wait_port(self.port, 30)

    def restart(self) -> None:
        import redis

        with contextlib.suppress(redis.ConnectionError):  # SHUTDOWN closes the connection
            redis.Redis(host=HOST, port=self.port).shutdown()
        self.proc.wait(30)
        self.start()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"


class Relay:
    """A TCP relay to the S3 server that can be cut (listener closed, connections reset)."""

    def __init__(self, port: int, target: tuple[str, int]):
        self.port, self.target = port, target
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.listener = None
        self.open()

    def open(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        for _ in range(50):
            try:
                self.listener.bind((HOST, self.port))
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit(f"relais S3 : port {self.port} toujours occupé")
        self.listener.listen(64)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the relay's thread
        self.listener.close()
        with self.lock:
            for s in list(self.sockets):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.sockets.clear()

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a, b) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()
            with self.lock:
                self.sockets.discard(a)
                self.sockets.discard(b)


class Supervised:
    """The RQ worker, restarted when it exits (an RQ worker stops when Redis goes away), as
    compose's ``restart: unless-stopped`` does in production."""

    def __init__(self, cmd: list[str], env: dict, out):
        self.cmd, self.env, self.out, self.restarts, self.stopping = cmd, env, out, 0, False
        self.proc = self._spawn()
        threading.Thread(target=self._watch, daemon=True).start()

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=self.out, stderr=subprocess.STDOUT)

    def _watch(self) -> None:
        while not self.stopping:
            if self.proc.poll() is not None and not self.stopping:
                time.sleep(1)
                self.restarts += 1
                self.proc = self._spawn()
            time.sleep(0.5)

    def stop(self) -> None:
        self.stopping = True
        Process(self.proc).stop()


class Process:
    def __init__(self, proc: subprocess.Popen):
        self.proc = proc

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def wait_port(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"port {port} : pas de réponse en {seconds} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# --- clients ---------------------------------------------------------------------------------

@dataclass
class Seen:
    answers: Counter = field(default_factory=Counter)  # status or exception name -> count
    confirmed: dict = field(default_factory=dict)  # key -> (claim id, contract id, covered)
    ids_per_key: dict = field(default_factory=lambda: defaultdict(set))
    refused: Counter = field(default_factory=Counter)  # final 4xx codes (business refusals)
    abandoned: list = field(default_factory=list)  # keys never answered (deadline)
    failures: list = field(default_factory=list)  # (time, client) of every failed attempt
    successes: list = field(default_factory=list)  # time of every 201
    lock: threading.Lock = field(default_factory=threading.Lock)


def login(port: int, password: str) -> str | None:
    try:
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        conn.request("POST", "/api/v1/auth/login", json.dumps({"email": PHARMACIST, "password": password}),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        body = json.loads(resp.read() or b"{}")
        conn.close()
        return body.get("data", {}).get("accessToken") if resp.status == 200 else None
    except (OSError, ValueError, http.client.HTTPException):
        return None


class Token:
    """One pharmacist session shared by the clients (one login, as the claims benchmark does:
    twenty bcrypt checks at once would only measure bcrypt); a 401 logs in again, once."""

    def __init__(self, port: int, password: str):
        self.port, self.password, self.value, self.lock = port, password, None, threading.Lock()

    def get(self) -> str | None:
        with self.lock:
            if self.value is None:
                self.value = login(self.port, self.password)
            return self.value

    def expired(self, value: str) -> None:
        with self.lock:
            if self.value == value:
                self.value = None


def client(n: int, port: int, tokens: Token, bodies: list[bytes], stop_at: float, grace: float, seen: Seen) -> None:
    rng = random.Random(n)
    token = None
    conn = None
    while time.monotonic() < stop_at:
        body = rng.choice(bodies)
        key = f"pos-{n}-{uuid.uuid4()}"
        delay = 0.25
        while True:
            if time.monotonic() > stop_at + grace:
                seen.abandoned.append(key)
                break
            if token is None:
                token = tokens.get()
                if token is None:
                    time.sleep(delay)
                    delay = min(delay * 2, 4)
                    continue
            try:
                conn = conn or http.client.HTTPConnection(HOST, port, timeout=5)
                conn.request("POST", "/api/v1/claims/pharmacy", body, {
                    "Content-Type": "application/json", "Authorization": f"Bearer {token}", "Idempotency-Key": key})
                resp = conn.getresponse()
                raw = resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                if conn is not None:
                    conn.close()
                conn = None
            now = time.monotonic()
            with seen.lock:
                seen.answers[status] += 1
            if status == 201:
                data = json.loads(raw)["data"]
                with seen.lock:
                    seen.successes.append(now)
                    seen.ids_per_key[key].add(data["id"])
                    seen.confirmed[key] = (data["id"], json.loads(body)["contractId"], data["coveredAmount"])
                break
            if status == 401:
                tokens.expired(token)
                token = None
                continue
            if isinstance(status, int) and 400 <= status < 500 and status not in (408, 429):
                with seen.lock:
                    seen.refused[status] += 1
                break
            with seen.lock:
                seen.failures.append((now, n))
            time.sleep(delay * (0.5 + rng.random()))
            delay = min(delay * 2, 4)
    if conn is not None:
        conn.close()


def health_probe(port: int, stop: threading.Event, samples: list) -> None:
    while not stop.is_set():
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=3)
            conn.request("GET", "/api/v1/health")
            resp = conn.getresponse()
            failed = json.loads(resp.read()).get("failed", [])
            conn.close()
        except (OSError, ValueError, http.client.HTTPException):
            failed = ["web"]
        samples.append((time.monotonic(), failed))
        stop.wait(0.5)


def outage_seen(failures: list, successes: list, start: float, end: float) -> tuple[float, int]:
    """(seconds from the first failed attempt after ``start`` to the next success, failures in it)."""
    after = sorted(t for t, _ in failures if start <= t <= end)
    if not after:
        return 0.0, 0
    first = after[0]
    back = min((t for t in successes if t > first), default=end)
    return back - first, len([t for t in after if t <= back])


# --- checks ----------------------------------------------------------------------------------

def insurer_counters(redis_url: str) -> dict[str, int]:
    import redis

    r = redis.Redis.from_url(redis_url)
    return {k.decode().split(":")[2]: int(r.hget(k, "claims") or 0) for k in r.scan_iter("stats:insurer:*")
            if k.decode().count(":") == 2}


def checks(pg_url: str, redis_url: str, seen: Seen, counters_before: dict[str, int]) -> dict:
    import psycopg

    from dhamen.claims.queries import NOT_PAYABLE

    with psycopg.connect(pg_url) as conn:
        q = lambda sql, *a: conn.execute(sql, a).fetchall()  # noqa: E731
        # "c.id IN (SELECT claim_id FROM idempotency_keys)": the run's claims, not the demo data's.
        keys = dict(q("SELECT k.key, k.claim_id FROM idempotency_keys k"))
        claims = {r[0]: r[1:] for r in q("SELECT id, contract_id, insurer_id, covered_amount FROM claims "
                                         "WHERE id IN (SELECT claim_id FROM idempotency_keys)")}
        per_key = Counter(q("SELECT key FROM idempotency_keys WHERE key LIKE 'pos-%%'"))
        no_lines = q("SELECT count(*) FROM claims c WHERE c.id IN (SELECT claim_id FROM idempotency_keys) AND NOT EXISTS (SELECT 1 FROM claim_items i "
                     "WHERE i.claim_id = c.id)")[0][0]
        no_audit = q("SELECT count(*) FROM claims c WHERE c.id IN (SELECT claim_id FROM idempotency_keys) AND NOT EXISTS (SELECT 1 FROM audit_logs a "
                     "WHERE a.entity_id = c.id AND a.action = 'claim.create')")[0][0]
        no_event = q("SELECT count(*) FROM claims c WHERE c.id IN (SELECT claim_id FROM idempotency_keys) AND NOT EXISTS (SELECT 1 FROM audit_logs a "
                     "WHERE a.entity_id = c.id AND a.action = 'event.claim.created')")[0][0]
        events_twice = q("SELECT count(*) FROM (SELECT entity_id FROM audit_logs WHERE action = "
                         "'event.claim.created' GROUP BY entity_id HAVING count(*) > 1) x")[0][0]
        by_insurer = dict(q("SELECT insurer_id, count(*) FROM claims c WHERE c.id IN (SELECT claim_id FROM idempotency_keys) GROUP BY insurer_id"))
        # What the annual limit counts (queries._USED): every claim not in NOT_PAYABLE.
        covered_db = dict(q("SELECT contract_id, sum(covered_amount) FROM claims c WHERE c.id IN (SELECT claim_id FROM idempotency_keys) "
                            "AND status <> ALL(%s) GROUP BY contract_id", list(NOT_PAYABLE)))
        status_of = dict(q("SELECT id, status FROM claims"))
    after = insurer_counters(redis_url)
    counters = {ins: after.get(ins, 0) - counters_before.get(ins, 0) for ins in by_insurer}
    lost = [k for k, (cid, _c, _a) in seen.confirmed.items() if keys.get(k) != cid or cid not in claims]
    twice = [k for k, ids in seen.ids_per_key.items() if len(ids) > 1] + [k for (k,), n in per_key.items() if n > 1]
    unconfirmed = [k for k in keys if k.startswith("pos-") and k not in seen.confirmed]
    covered_answers = defaultdict(int)
    for _k, (cid, contract, covered) in seen.confirmed.items():
        if status_of.get(cid) not in NOT_PAYABLE:
            covered_answers[contract] += covered
    limit_mismatch = [c for c in set(covered_db) | set(covered_answers)
                      if covered_db.get(c, 0) != covered_answers.get(c, 0)]
    return {"confirmed": len(seen.confirmed), "claims_in_db": len(claims), "lost": len(lost),
            "duplicates": len(twice), "unconfirmed_claims": len(unconfirmed), "without_lines": no_lines,
            "without_audit": no_audit, "without_event": no_event, "events_twice": events_twice,
            "limit_mismatch": len(limit_mismatch),
            "counter_mismatch": sum(1 for ins, n in by_insurer.items() if counters[ins] != n)}


# --- main ------------------------------------------------------------------------------------

def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=180.0, help="seconds of load")
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--grace", type=float, default=60.0, help="seconds a client keeps retrying after the end")
    p.add_argument("--pg-port", type=int, default=55432)
    p.add_argument("--redis-port", type=int, default=56389)
    p.add_argument("--s3", default="127.0.0.1:28333", help="the S3 server behind the relay")
    p.add_argument("--bucket", default="h-hostile-faults")
    p.add_argument("--members", type=int, default=100)
    p.add_argument("--keep-dir", action="store_true")
    args = p.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="dhamen-faults-"))
    log(f"dossier de travail : {folder}")
    started: list = []
    try:
        pg = Postgres(folder, args.pg_port)
        started.append(pg)
        redis_srv = Redis(folder, args.redis_port)
        started.append(redis_srv)
        s3_host, s3_port = args.s3.rsplit(":", 1)
        relay = Relay(free_port(), (s3_host, int(s3_port)))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "STORAGE_", "S3_"))}
        env.update({
            "ENVIRONMENT": "development", "DATABASE_URL": pg.url, "REDIS_URL": redis_srv.url,
            "STORAGE_URL": f"s3://{args.bucket}", "S3_ENDPOINT_URL": f"http://{HOST}:{relay.port}",
            "S3_ACCESS_KEY_ID": os.environ.get("S3_ACCESS_KEY_ID", "dev"),
            "S3_SECRET_ACCESS_KEY": os.environ.get("S3_SECRET_ACCESS_KEY", "dev-secret"),
            "S3_REGION": "us-east-1", "RATELIMIT_ENABLED": "false", "PYTHONUNBUFFERED": "1",
            "DHAMEN_INSTANCE_PATH": str(folder / "instance"),
        })
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "createdb"), "-h", HOST, "-p",
                        str(args.pg_port), "dhamen_faults"], check=True, timeout=60)
        for cmd in (["db", "upgrade"], ["dhamen", "storage-init", "--wait", "10"],
                    ["dhamen", "seed", "--members", str(args.members)]):
            out = subprocess.run([PYTHON, "-m", "flask", "--app", "wsgi", *cmd], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=600)
            if out.returncode:
                raise SystemExit(f"flask {' '.join(cmd)} : {out.stdout}{out.stderr}")
        from dhamen.seed.demo import DEMO_PASSWORD

        contracts = contracts_for_pharmacist(env)
        bodies = make_bodies(contracts, 500)
        srv_args = argparse.Namespace(worker_class="gthread", workers=2, threads=4, workdir=str(folder),
                                      gunicorn_arg=["--timeout", "30"])
        web_port = free_port()
        web = Server("web", "wsgi:app", web_port, env, srv_args)
        started.append(web)
        worker_log = open(folder / "worker.log", "w")  # noqa: SIM115
        worker = Supervised([PYTHON, "-m", "rq.cli", "worker", "-w", "dhamen.core.jobs.AppWorker",
                             "--with-scheduler", "--url", redis_srv.url, "events", "reconciliation"],
                            env, worker_log)
        started.append(worker)
        log(f"{len(contracts)} contrats, {args.clients} clients, {args.duration:.0f} s")

        counters_before = insurer_counters(redis_srv.url)
        seen, samples, stop_probe = Seen(), [], threading.Event()
        t0 = time.monotonic()
        stop_at = t0 + args.duration
        tokens = Token(web_port, DEMO_PASSWORD)
        threads = [threading.Thread(target=client, args=(n, web_port, tokens, bodies, stop_at, args.grace, seen),
                                    daemon=True) for n in range(args.clients)]
        probe = threading.Thread(target=health_probe, args=(web_port, stop_probe, samples), daemon=True)
        for t in [*threads, probe]:
            t.start()

        faults = {}

        def at(fraction: float) -> None:
            time.sleep(max(0.0, t0 + fraction * args.duration - time.monotonic()))

        at(0.20)
        log("PostgreSQL : redémarrage")
        s = time.monotonic()
        pg.restart()
        faults["PostgreSQL (pg_ctl restart -m fast)"] = (s, time.monotonic())
        at(0.45)
        log("Redis : redémarrage")
        s = time.monotonic()
        redis_srv.restart()
        faults["Redis (SHUTDOWN + start)"] = (s, time.monotonic())
        at(0.65)
        log("stockage objet : coupé")
        s = time.monotonic()
        relay.cut()
        at(0.80)
        relay.open()
        log("stockage objet : rétabli")
        faults["stockage objet (relais coupé)"] = (s, time.monotonic())
        for t in threads:
            t.join(args.duration + args.grace + 30)
        stop_probe.set()
        probe.join(5)
        log("clients arrêtés ; réponses vues : " + ", ".join(f"{k}: {v}" for k, v in
                                                          sorted(seen.answers.items(), key=str)))

        import redis
        from rq import Queue

        conn = redis.Redis.from_url(redis_srv.url)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (Queue("events", connection=conn).count
                                               or Queue("events", connection=conn).started_job_registry.count):
            time.sleep(1)
        log("événements jamais traités : flask dhamen events-redeliver")
        within = str(int(time.monotonic() - t0) + 60)  # the run's claims, not the demo data's
        try:
            out = subprocess.run([PYTHON, "-m", "flask", "--app", "wsgi", "dhamen", "events-redeliver",
                                  "--older-than", "0", "--within", within], cwd=ROOT, env=env, capture_output=True,
                                 text=True, timeout=300)
            redelivered = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr[-300:]
        except subprocess.TimeoutExpired as exc:
            redelivered = f"délai dépassé : {(exc.stderr or b'')[-500:]!r}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (Queue("events", connection=conn).count
                                               or Queue("events", connection=conn).started_job_registry.count):
            time.sleep(1)
        time.sleep(2)
        started.pop().stop()

        result = checks(pg.url, redis_srv.url, seen, counters_before)
        failed_jobs = Queue("events", connection=conn).failed_job_registry.count
        print()
        print(f"clients {args.clients} · durée {args.duration:.0f} s · demandes confirmées (201) "
              f"{result['confirmed']} · refus métier {dict(seen.refused)} · abandonnées {len(seen.abandoned)}")
        print("réponses vues (toutes tentatives) : " + ", ".join(f"{k}: {v}" for k, v in
                                                                 sorted(seen.answers.items(), key=str)))
        for name, (s, e) in faults.items():
            lasted, fails = outage_seen(seen.failures, seen.successes, s - 1, e + 30)
            down = [t for t, failed in samples if s - 1 <= t <= e + 30 and failed]
            health = (down[-1] - down[0]) if len(down) > 1 else 0.0
            print(f"  {name} : injecté {e - s:.1f} s ; vu par les clients {lasted:.1f} s "
                  f"({fails} tentatives en échec) ; santé dégradée {health:.1f} s")
        print(f"événements remis en file après coup : {redelivered} · tâches en échec (registre RQ) : {failed_jobs}"
              f" · worker RQ redémarré {worker.restarts} fois")
        print(f"demandes perdues : {result['lost']} (doit être 0) · doublons : {result['duplicates']} (doit être 0)")
        print(f"sans lignes : {result['without_lines']} · sans audit : {result['without_audit']} · "
              f"sans événement : {result['without_event']} · événement appliqué deux fois : {result['events_twice']}")
        print(f"plafonds : contrats dont le montant compté diffère des réponses : {result['limit_mismatch']} · "
              f"compteurs Redis faux : {result['counter_mismatch']} · demandes créées mais jamais confirmées : "
              f"{result['unconfirmed_claims']}")
        (folder / "result.json").write_text(json.dumps(result, indent=2))
        bad = result["lost"] + result["duplicates"] + result["without_lines"] + result["without_audit"] + \
            result["without_event"] + result["limit_mismatch"] + result["events_twice"]
        return 1 if bad else 0
    finally:
        for svc in reversed(started):
            try:
                svc.stop()
            except Exception as exc:  # noqa: BLE001
                log(f"arrêt : {exc}")
        if not args.keep_dir:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
