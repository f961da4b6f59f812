"""Lists and pages at 1,000,000 claims: p50/p95 server time, EXPLAIN plans, submission throughput.

    .venv/bin/python bench/lists_bench.py --database keyset_1m --clone bench1m_tpl   # fresh clone + migrate
    .venv/bin/python bench/lists_bench.py --database keyset_1m                       # reuse it as it is
    .venv/bin/python bench/lists_bench.py --database keyset_1m --explain             # + EXPLAIN ANALYZE
    .venv/bin/python bench/lists_bench.py --database keyset_1m --submit --empty keyset_0

1. ``--clone T``: (re)creates ``--database`` from the template ``T`` (the demo data
   plus 1,000,000 claims: ``flask dhamen seed --claims 1000000``), migrates it
   (timing the migration: the indexes are built concurrently) and runs ``VACUUM
   ANALYZE claims``.  Without ``--clone`` the database is used as it is (migrated).
2. Builds the application in-process on that database (``ENVIRONMENT=development``,
   the real ``--redis``), signs the demo pharmacist and the demo STAR agent in
   (a web session for the pages, a Bearer token for the API) and, for each page
   and list — first page, a page 10,000 rows deep (the cursor of the 10,000th row,
   as a client walking there gets it), with filters (status, member name, care
   dates, care type) — sends ``--requests`` requests (after 5 of warm-up) through
   the WSGI application (Flask test client: server time, no network) and prints
   p50/p95/max, with the same figures for a reference request measured in the same
   run (``GET /api/v1/claims/<id>``: one claim by primary key) and the ratio.
3. ``--explain``: ``EXPLAIN (ANALYZE, BUFFERS)`` of the main queries.
4. ``--submit``: claim submission throughput (``bench/claims_bench.py``'s
   gunicorn server and load) on ``--empty`` (re-created: demo data only, no claims)
   and on the 1M database, alternated ``--rounds`` times, side by side.

The load of the machine (``os.getloadavg``) is printed with every section: other
processes share the cores, compare ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

PHARMACIST = "pharmacie@dhamen.tn"
AGENT = "agent@star.tn"
TARGET_MS = 50.0


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"charge {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min, {os.cpu_count()} cœurs)"


def psql_admin(args):
    import psycopg

    return psycopg.connect(args.pg.rsplit("/", 1)[0] + "/postgres", autocommit=True)


def database_url(args, name: str) -> str:
    return args.pg.rsplit("/", 1)[0] + f"/{name}"


def env_for(args, name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "STORAGE_"))}
    env.update({"ENVIRONMENT": "development", "DATABASE_URL": database_url(args, name), "REDIS_URL": args.redis,
                "RATELIMIT_ENABLED": "false", "PYTHONUNBUFFERED": "1",
                "DHAMEN_INSTANCE_PATH": str(Path(args.workdir) / f"instance-{name}")})
    return env


def flask(cmd: list[str], env: dict) -> None:
    out = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *cmd], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=7200)
    if out.returncode:
        sys.exit(f"échec de flask {' '.join(cmd)} :\n{out.stdout}\n{out.stderr}")


def clone(args) -> None:
    import psycopg

    with psql_admin(args) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}"')
        t = time.perf_counter()
        deadline = time.monotonic() + 600
        while True:  # another session copying the template at the same moment: wait for it
            try:
                conn.execute(f'CREATE DATABASE "{args.database}" TEMPLATE "{args.clone}"')
                break
            except psycopg.errors.ObjectInUse:
                if time.monotonic() > deadline:
                    raise
                time.sleep(5)
        print(f"   copie de {args.clone} : {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    flask(["db", "upgrade"], env_for(args, args.database))
    print(f"   flask db upgrade (index construits CONCURRENTLY) : {time.perf_counter() - t:.1f} s")
    with psycopg.connect(database_url(args, args.database), autocommit=True) as conn:
        t = time.perf_counter()
        conn.execute("VACUUM ANALYZE")  # every table: without claim_items' statistics the claim's
        # history query hash-joins a sequential scan of 2.2M lines (6 s instead of 24 ms)
        print(f"   VACUUM ANALYZE : {time.perf_counter() - t:.1f} s")


# --- in-process measurements ---------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        from dhamen import create_app

        os.environ.update(env_for(args, args.database))
        self.app = create_app()
        self.args = args
        self.ctx = self.app.app_context()
        self.ctx.push()
        from dhamen.extensions import db
        from dhamen.models import User

        self.db = db
        self.member_name = None
        self.pharmacist = db.session.scalar(db.select(User).where(User.email == PHARMACIST))
        self.agent = db.session.scalar(db.select(User).where(User.email == AGENT))
        if self.pharmacist is None or self.agent is None:
            sys.exit("utilisateurs de démonstration absents : la base a-t-elle les données de démonstration ?")
        self.web = {u.id: self._web_client(u) for u in (self.pharmacist, self.agent)}
        self.tokens = {u.id: self._token(u) for u in (self.pharmacist, self.agent)}
        db.session.remove()

    def _web_client(self, user):
        from dhamen.access.auth import sessions

        client = self.app.test_client()
        with self.app.test_request_context():
            sid = sessions.create(user, "web", 3600)
        with client.session_transaction() as sess:
            sess.update({"sid": sid, "_user_id": user.id, "_fresh": True})
        return client

    def _token(self, user) -> str:
        from dhamen.access.auth import tokens

        with self.app.test_request_context():
            return tokens.issue(user).access_token

    def get(self, user, url: str, api: bool):
        if api:
            return self.app.test_client().get(url, headers={"Authorization": f"Bearer {self.tokens[user.id]}"})
        return self.web[user.id].get(url)

    def time(self, user, url: str, api: bool, n: int) -> tuple[list[float], list[float]]:
        """Wall-clock and CPU (this process: Flask + SQLAlchemy, not PostgreSQL) ms per request."""
        for _ in range(5):
            r = self.get(user, url, api)
            if r.status_code != 200:
                sys.exit(f"{url} : {r.status_code} {r.get_data(as_text=True)[:300]}")
        wall, cpu = [], []
        for _ in range(n):
            t, c = time.perf_counter(), time.process_time()
            r = self.get(user, url, api)
            r.get_data()
            wall.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
            assert r.status_code == 200, url
        return wall, cpu

    # cursors "10,000 rows deep": what a client walking the list has in hand there
    def deep_cursor(self, user, filters, depth: int = 10_000) -> tuple[str | None, int]:
        from sqlalchemy import func, select

        from dhamen.claims import listing

        stmt = listing.statement(user, filters)
        total = self.db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
        depth = min(depth, max(0, total - 25))
        row = self.db.session.scalars(stmt.order_by(*filters.keyset.order_by()).offset(depth - 1).limit(1)).first() \
            if depth else None
        cursor = filters.keyset.encode(row) if row is not None else None
        self.db.session.remove()
        return cursor, depth


def pct(data: list[float], p: float) -> float:
    data = sorted(data)
    return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))]


def pick_member(b: Bench) -> str:
    """A member with claims at the pharmacy; its last name (first and last when the last name alone
    matches too many members), as typed at the counter."""
    from dhamen.claims import listing
    from dhamen.models import Adherent, Claim

    if b.member_name is None:
        member = b.db.session.scalar(b.db.select(Adherent).join(Claim, Claim.adherent_id == Adherent.id)
                                     .where(Claim.provider_id == b.pharmacist.provider_id).limit(1))
        b.member_name = member.last_name.lower()
        try:
            matched = listing.member_ids(b.member_name)
        except listing.TooManyMembers:  # a common name among many members: typed in full, as asked
            b.member_name = f"{member.first_name} {member.last_name}".lower()
            matched = listing.member_ids(b.member_name)
        print(f"   filtre adhérent « {b.member_name} » : {len(matched)} adhérents "
              f"correspondent (au plus {listing.MEMBER_CAP})")
    return b.member_name


def cases(b: Bench):
    """(label, user, url, api) of every page and list measured."""
    from urllib.parse import quote

    from dhamen.claims import listing
    from dhamen.models import Claim

    db, ph, ag = b.db, b.pharmacist, b.agent
    # A member with claims at the pharmacy, searched by the last name as typed at the counter (the
    # members matching it are found first: at most listing.MEMBER_CAP).
    name = pick_member(b)
    month_ago = date.today() - timedelta(days=30)
    quarter = (date.today() - timedelta(days=120), date.today() - timedelta(days=90))
    one = db.session.scalar(db.select(Claim.id).where(Claim.insurer_id == ag.insurer_id).limit(1))
    mine = db.session.scalar(db.select(Claim.id).where(Claim.provider_id == ph.provider_id)
                             .order_by(Claim.created_at.desc()).limit(1))
    db.session.remove()
    F = listing.ClaimFilters

    def variants(prefix: str, user, path: str, cursor_param: str, api: bool, filter_list) -> list:
        """First page and 10,000 rows deep (or the deepest page) of a list, for each filter."""
        found = []
        for label, filters, query in filter_list:
            if query:
                found.append((f"{prefix}{label}, 1re page", user, f"{path}?{query}", api))
            cursor, depth = b.deep_cursor(user, filters)
            if cursor:
                found.append((f"{prefix}{label}, " + f"{depth:,} lignes plus bas".replace(",", "\u202f"), user,
                               f"{path}?{query + '&' if query else ''}{cursor_param}={cursor}", api))
        return found

    quarter_q = f"du={quarter[0]}&au={quarter[1]}"
    out = [("référence : GET /api/v1/claims/<id> (agent)", ag, f"/api/v1/claims/{one}", True),
           ("pharmacie : comptoir /pharmacie/", ph, "/pharmacie/", False),
           ("pharmacie : historique, 1re page", ph, "/pharmacie/demandes", False)]
    out += variants("pharmacie : historique", ph, "/pharmacie/demandes", "avant", False, (
        ("", F(), ""),
        (" statut=pending_review", F(status="pending_review"), "statut=pending_review"),
        (f" adherent={name}", F(member=name), f"adherent={quote(name)}"),
        (f" du={month_ago}", F(date_from=month_ago), f"du={month_ago}"),
        (f" {quarter_q}", F(date_from=quarter[0], date_to=quarter[1]), quarter_q)))
    out += [("pharmacie : une demande /pharmacie/demandes/<id>", ph, f"/pharmacie/demandes/{mine}", False),
            ("pharmacie : API GET /api/v1/claims", ph, "/api/v1/claims", True)]
    out += variants("pharmacie : API", ph, "/api/v1/claims", "cursor", True, (("", F(), ""),))
    out += [("assureur : tableau de bord /assureur/", ag, "/assureur/", False),
            ("assureur : file d'examen /assureur/file, 1re page", ag, "/assureur/file", False),
            ("assureur : une demande /assureur/demandes/<id>", ag, f"/assureur/demandes/{one}", False),
            ("assureur : API GET /api/v1/claims, 1re page", ag, "/api/v1/claims", True),
            ("assureur : API ?page=40 (975 lignes, compatibilité)", ag, "/api/v1/claims?page=40", True)]
    out += variants("assureur : API", ag, "/api/v1/claims", "cursor", True, (
        ("", F(), ""),
        (" statut=pending_review", F(status="pending_review"), "statut=pending_review"),
        (" statut=eligible", F(status="eligible"), "statut=eligible"),
        (" type=hospitalization", F(care_type="hospitalization"), "type=hospitalization"),
        (f" du={month_ago}", F(date_from=month_ago), f"du={month_ago}"),
        (f" {quarter_q}&statut=approved", F(date_from=quarter[0], date_to=quarter[1], status="approved"),
         f"{quarter_q}&statut=approved")))
    return out


def run_lists(b: Bench, n: int) -> bool:
    print(f"\n→ pages et listes, {n} requêtes chacune (temps serveur, application en processus) — {load()}")
    rows, ok = [], True
    reference = None
    for label, user, url, api in cases(b):
        times, cpu = b.time(user, url, api, n)
        p50, p95 = statistics.median(times), pct(times, 95)
        if reference is None:
            reference = p50
        good = p95 < TARGET_MS
        ok &= good or label.startswith("référence")
        rows.append((label, p50, p95, max(times), p50 / reference))
        print(f"  {label:<74} p50 {p50:6.1f}  p95 {p95:6.1f}  max {max(times):6.1f} ms  "
              f"CPU p50 {statistics.median(cpu):5.1f} ms  ×{p50 / reference:4.1f} réf.  {'' if good else '≥ 50 ms'}",
              flush=True)
    print(f"  {load()}")
    print(f"objectif p95 < {TARGET_MS:.0f} ms pour chaque page et liste : {'atteint' if ok else 'manqué'}")
    return ok


# --- EXPLAIN ---------------------------------------------------------------------------------------

def explain(b: Bench) -> None:
    from dhamen.claims import listing
    from dhamen.claims.queries import _USED
    from dhamen.models import Claim

    db, ph, ag = b.db, b.pharmacist, b.agent
    F = listing.ClaimFilters
    month_ago = date.today() - timedelta(days=30)
    pick_member(b)

    def capture(user, filters, deep: bool):
        cursor = b.deep_cursor(user, filters)[0] if deep else None
        stmt = listing._with_names(listing.statement(user, filters))
        values = filters.keyset.decode(cursor) if cursor else None
        if values is not None:
            stmt = stmt.where(filters.keyset.past(values))
        return stmt.order_by(*filters.keyset.order_by()).limit(26)

    plans = [
        ("Historique pharmacie, 1re page", capture(ph, F(), False)),
        ("Historique pharmacie, 10 000 lignes plus bas", capture(ph, F(), True)),
        (f"Historique pharmacie, nom d'adhérent « {b.member_name} » : les clés de la page (puis 25 lignes par id)",
         listing.statement(ph, F(member=b.member_name)).with_only_columns(Claim.created_at, Claim.id)
         .order_by(*listing.NEWEST.order_by()).limit(26)),
        (f"Total plafonné, nom d'adhérent « {b.member_name} »", listing.statement(ph, F(member=b.member_name))
         .with_only_columns(Claim.id).order_by(None).limit(1001)),
        ("API assureur, 10 000 lignes plus bas", capture(ag, F(), True)),
        ("API assureur, statut=pending_review, 10 000 lignes plus bas", capture(ag, F(status="pending_review"), True)),
        ("API assureur, du=<il y a 30 jours>, 10 000 lignes plus bas", capture(ag, F(date_from=month_ago), True)),
        ("Total plafonné (assureur, sans filtre)", listing.statement(ag, F()).with_only_columns(
            Claim.id).order_by(None).limit(1001)),
    ]
    print("\n→ plans (EXPLAIN ANALYZE, BUFFERS)")
    with db.engine.connect() as conn:
        for title, stmt in plans:
            compiled = stmt.compile(dialect=db.engine.dialect, compile_kwargs={"render_postcompile": True})
            plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + str(compiled),
                                        compiled.construct_params()).scalars().all()
            print(f"\n### {title}\n```\n" + "\n".join(plan) + "\n```")
        # The annual-limit sum read at every claim, and the dashboard's month figures.
        contract = conn.exec_driver_sql("SELECT contract_id, adherent_id FROM claims WHERE provider_id = %(p)s "
                                        "ORDER BY created_at DESC LIMIT 1", {"p": ph.provider_id}).one()
        params = {"contract_id": contract.contract_id, "start": date.today() - timedelta(days=365),
                  "end": date.today()}
        used = _USED.params(**params).compile(dialect=db.engine.dialect, compile_kwargs={"render_postcompile": True})
        plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + str(used),
                                    used.construct_params()).scalars().all()
        print("\n### Somme annuelle du contrat (à chaque demande, contract_usage)\n```\n" + "\n".join(plan) + "\n```")
        # The counter home's month: the whole days from the roll-up, today from the claims.
        from dhamen.claims import figures

        statements = []
        real_execute = db.session.execute

        def spy(stmt, *a, **kw):
            statements.append(stmt)
            return real_execute(stmt, *a, **kw)

        db.session.execute = spy
        try:
            figures.period_figures(ph)
        finally:
            db.session.execute = real_execute
        for n, stmt in enumerate(statements, 1):
            compiled = stmt.compile(dialect=db.engine.dialect, compile_kwargs={"render_postcompile": True})
            plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + str(compiled),
                                        compiled.construct_params()).scalars().all()
            print(f"\n### Comptoir : chiffres du jour et du mois, requête {n}/{len(statements)}\n```\n"
                  + "\n".join(plan) + "\n```")


# --- submission throughput ------------------------------------------------------------------------------

def run_submit(args) -> None:
    import claims_bench

    print(f"\n→ débit de saisie : {args.empty} (données de démonstration seules) et {args.database} "
          f"(1 000 000 de demandes), {args.rounds} fois en alternance, {args.duration:.0f} s chacune — {load()}")
    base = argparse.Namespace(duration=args.duration, warmup=3.0, clients=args.clients, workers=args.workers,
                              threads=args.threads, worker_class="gthread", gunicorn_arg=[], pg=args.pg,
                              redis=args.redis, members=args.members, bulk=0, port=args.port,
                              new_connection=False, workdir=args.workdir)
    empty = argparse.Namespace(**vars(base), database=args.empty, keep=False)
    full = argparse.Namespace(**vars(base), database=args.database, keep=True)
    envs = {}
    for ns in (empty, full):
        envs[ns.database] = claims_bench.app_env(ns)
    claims_bench.prepare_database(empty, envs[args.empty])
    import psycopg

    for name in (args.empty, args.database):  # the spread decides what a claim's history read holds
        with psycopg.connect(database_url(args, name)) as conn:
            members, claims, holders = conn.execute(
                "SELECT (SELECT count(*) FROM adherents), count(*), count(DISTINCT adherent_id) FROM claims").fetchone()
        print(f"   {name:<12} {members} adhérents, {claims} demandes"
              + (f" sur {holders} d'entre eux ({claims / holders:,.0f} par adhérent)".replace(",", " ") if holders else ""))
    results: dict[str, list] = {args.empty: [], args.database: []}
    for _ in range(args.rounds):
        for ns in (empty, full):
            env = envs[ns.database]
            contracts = claims_bench.contracts_for_pharmacist(env)
            bodies = claims_bench.make_bodies(contracts, 2000)
            print(f"   {ns.database:<12}", end=" ", flush=True)
            results[ns.database].append(claims_bench.measure(ns, ns.database, "wsgi:app", args.port, env, bodies,
                                                             token=claims_bench.login, chdir=None))
    print(f"\n  {'':<14}{'0 demande':>22}{'1 000 000 de demandes':>26}")
    for i in range(args.rounds):
        a, c = results[args.empty][i], results[args.database][i]
        print(f"  tour {i + 1:<9}{a.throughput:10.1f} req/s p95 {a.pct(95):5.1f}   {c.throughput:10.1f} req/s "
              f"p95 {c.pct(95):5.1f}   ratio {c.throughput / a.throughput:.2f}")
    ta = sum(r.ok for r in results[args.empty]) / sum(r.elapsed for r in results[args.empty])
    tc = sum(r.ok for r in results[args.database]) / sum(r.elapsed for r in results[args.database])
    print(f"  ensemble      {ta:10.1f} req/s              {tc:10.1f} req/s              ratio {tc / ta:.2f}")
    print(f"objectif : débit à 1M ≥ 90 % du débit à vide : {tc / ta:.0%} — {'atteint' if tc >= 0.9 * ta else 'manqué'}")
    print(f"  {load()}")


def main() -> int:
    import tempfile

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database", default="keyset_1m")
    p.add_argument("--clone", metavar="TEMPLATE", help="re-create --database from this template, migrate it")
    p.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--redis", default=os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6385/8"))
    p.add_argument("--requests", type=int, default=50)
    p.add_argument("--explain", action="store_true")
    p.add_argument("--no-lists", action="store_true", help="skip the lists (e.g. --submit only)")
    p.add_argument("--submit", action="store_true", help="claim submission throughput at 0 and 1M claims")
    p.add_argument("--empty", default="keyset_0", help="database re-created with the demo data only (--submit)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--duration", type=float, default=15.0)
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--members", type=int, default=300)
    p.add_argument("--port", type=int, default=8791)
    args = p.parse_args()
    if not 1 <= args.requests <= 1000 or args.duration > 300 or args.rounds > 5:
        sys.exit("--requests 1 à 1000, --duration ≤ 300 s, --rounds ≤ 5")
    if args.empty == args.database:
        sys.exit("--empty doit être une autre base que --database (elle est recréée)")
    args.workdir = tempfile.mkdtemp(prefix="dhamen-lists-")
    print(f"→ base {args.database}, Redis {args.redis} — {load()}")
    if args.clone:
        print(f"→ copie du modèle {args.clone}…")
        clone(args)
    ok = True
    if not args.no_lists or args.explain:
        b = Bench(args)
        if not args.no_lists:
            ok = run_lists(b, args.requests)
        if args.explain:
            explain(b)
    if args.submit:
        run_submit(args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
