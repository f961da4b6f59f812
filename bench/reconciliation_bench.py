"""Reconciliation benchmark: one bordereau of N claims (database + PDF + upload), PostgreSQL and real S3.

    .venv/bin/python bench/reconciliation_bench.py                       # 10 000 and 100 000 claims
    .venv/bin/python bench/reconciliation_bench.py --sizes 10000 --textrun-reference 10000

What it does:

1. drops and recreates the ``public`` schema of ``--database`` (default ``recon_bench`` on
   ``--pg``), migrates it, loads the demo data (300 members) and, for each size N, inserts N
   ``approved`` claims of the insurer STAR with care dates in their own past month (amounts
   drawn at random, spread over STAR's contracts and the providers under convention);
2. for each size, in a fresh process: creates the app on that database, the real Redis
   (``--redis``) and the S3 server (``--s3``, bucket ``--bucket``), then times
   ``request_generation`` + ``run_generation`` — claiming the claims, the domain's totals,
   the bordereau rendered in parts by two processes and joined as they arrive, each
   provider's statement, the uploads and the final commit — and reports the wall and CPU
   time, the claiming step's time and the peak RSS of the job's process and of the rendering
   processes;
3. the reference, in a fresh process too, measured in the same run: the **floor** — reading
   the same N claim rows from PostgreSQL in the same chunks, and uploading a file of the
   bordereau's size to the same S3 server (what any generation must at least do);
4. with ``--textrun-reference N``: the issue's reference rendering — N claim lines, one
   ``<div>`` text run per line, in one WeasyPrint document (not stored).

Prints, per measure, wall seconds, CPU seconds (the job's process; the rendering processes
apart), peak RSS (MB) and the load average, the ratios to the references, then a summary
against the targets: 10 000 claims in under 10 s and 400 MB; 100 000 claims with a peak no
higher than at 10 000.  Wall times on a shared machine follow its load: read them with the
load average and the CPU times.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def month_back(n: int) -> tuple[date, date]:
    first = date.today().replace(day=1)
    for _ in range(n):
        first = (first - timedelta(days=1)).replace(day=1)
    end = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return first, end


def env_for(args) -> dict:
    import sqlalchemy as sa

    url = sa.engine.make_url(args.pg).set(database=args.database)
    return {"ENVIRONMENT": "development", "DHAMEN_INSTANCE_PATH": str(ROOT / "instance" / "recon-bench"),
            "DATABASE_URL": url.render_as_string(hide_password=False), "REDIS_URL": args.redis,
            "STORAGE_URL": f"s3://{args.bucket}", "S3_ENDPOINT_URL": args.s3, "S3_ACCESS_KEY_ID": "dev",
            "S3_SECRET_ACCESS_KEY": "dev-secret", "S3_REGION": "us-east-1", "RATELIMIT_ENABLED": "false"}


# --- preparation --------------------------------------------------------------------------------

def prepare(args) -> list[dict]:
    import sqlalchemy as sa
    from flask_migrate import upgrade
    from sqlalchemy import insert, select
    from ulid import ULID

    admin = sa.create_engine(sa.engine.make_url(args.pg), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": args.database}):
            conn.execute(sa.text(f'CREATE DATABASE "{args.database}"'))
    admin.dispose()
    from dhamen import create_app
    from dhamen.extensions import db
    from dhamen.models import Claim, Contract, Convention, Insurer
    from dhamen.seed.demo import seed_demo

    app = create_app(env_for(args))
    out = []
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        seed_demo(members=300, with_demo_users=False)
        db.session.commit()
        app.extensions["dhamen.services"].storage.ensure_bucket()
        star = db.session.scalar(select(Insurer).where(Insurer.code == "STAR"))
        contracts = db.session.execute(select(Contract.id, Contract.adherent_id)
                                       .where(Contract.insurer_id == star.id)).all()
        providers = list(db.session.scalars(select(Convention.provider_id).where(Convention.insurer_id == star.id)))
        rng = random.Random(13)
        # References given here, one counter apart: drawn at random, 110 000 of them would collide
        # now and then (birthday bound of the 7-symbol space).
        from dhamen.domain.reference import SPACE, new_reference

        serial = rng.randrange(SPACE)
        for n, size in enumerate(args.sizes):
            start, end = month_back(2 + n)
            days = (end - start).days + 1
            t = time.perf_counter()
            for first in range(0, size, 5000):
                rows = []
                for _ in range(first, min(size, first + 5000)):
                    contract_id, adherent_id = rng.choice(contracts)
                    total = rng.randint(2_000, 400_000)
                    covered = total * rng.choice((70, 80, 90)) // 100
                    serial += 1
                    rows.append({"id": str(ULID()), "type": "pharmacy", "contract_id": contract_id,
                                 "reference": new_reference("pharmacy", date.today(), serial),
                                 "provider_id": rng.choice(providers), "adherent_id": adherent_id,
                                 "insurer_id": star.id, "care_date": start + timedelta(days=rng.randrange(days)),
                                 "total_amount": total, "covered_amount": covered, "copay_amount": total - covered,
                                 "status": "approved"})
                db.session.execute(insert(Claim), rows)
                db.session.commit()
            print(f"  {size} demandes approuvées insérées ({start} – {end}) en {time.perf_counter() - t:.1f} s",
                  flush=True)
            out.append({"size": size, "insurer_id": star.id, "start": start.isoformat(), "end": end.isoformat()})
    return out


# --- measured children ------------------------------------------------------------------------

class TreeMemory:
    """Peak of the memory of this process and all its descendants *at the same moment* (sampled
    every 50 ms from /proc): the sum of RSS (shared pages counted once per process) and of PSS
    (shared pages split between the processes that map them)."""

    def __init__(self):
        import threading

        self.rss = self.pss = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _tree(pid: int) -> list[int]:
        out, todo = [], [pid]
        while todo:
            p = todo.pop()
            out.append(p)
            try:
                for task in os.listdir(f"/proc/{p}/task"):
                    with open(f"/proc/{p}/task/{task}/children") as f:
                        todo += [int(c) for c in f.read().split()]
            except OSError:
                continue
        return out

    def sample(self) -> None:
        rss = pss = 0
        for pid in self._tree(os.getpid()):
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith("Rss:"):
                            rss += int(line.split()[1])
                        elif line.startswith("Pss:"):
                            pss += int(line.split()[1])
            except OSError:
                continue
        self.rss, self.pss = max(self.rss, rss / 1024), max(self.pss, pss / 1024)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.sample()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()


def child_generate(args) -> dict:
    from dhamen import create_app
    from dhamen.extensions import db
    from dhamen.models import Reconciliation, ReconciliationRun
    from dhamen.reconciliation import generation
    from dhamen.reconciliation.generation import Period, request_generation, run_generation

    app = create_app(env_for(args))
    claiming = {}
    take = generation.claim_claims

    def timed_claim(run_id):  # the first step (PostgreSQL: UPDATE, totals), timed on its own
        t0 = time.perf_counter()
        try:
            return take(run_id)
        finally:
            claiming["seconds"], claiming["peak_mb"] = time.perf_counter() - t0, rss_mb()

    generation.claim_claims = timed_claim
    with app.app_context():
        db.session.execute(db.text("SELECT 1"))
        base = rss_mb()
        t, cpu = time.perf_counter(), time.process_time()
        with TreeMemory() as tree:
            run = request_generation(args.insurer, Period(date.fromisoformat(args.start),
                                                          date.fromisoformat(args.end)), "cron")
            db.session.info.pop("dhamen_jobs", None)
            db.session.commit()
            state = run_generation(run.id)
            seconds = time.perf_counter() - t
        found = db.session.get(ReconciliationRun, run.id)
        recon = db.session.get(Reconciliation, found.reconciliation_id)
        cpu = time.process_time() - cpu
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {"state": state, "error": found.error, "seconds": seconds, "peak_mb": rss_mb(), "base_mb": base,
                "worker_peak_mb": kids.ru_maxrss / 1024, "cpu": cpu, "worker_cpu": kids.ru_utime + kids.ru_stime,
                "load": os.getloadavg()[0], "claim_seconds": claiming.get("seconds", 0.0),
                "claim_peak_mb": claiming.get("peak_mb", 0.0),
                "claims": recon.total_claims, "pages": recon.page_count, "pdf_mb": recon.pdf_size / 1e6,
                "statements": len(recon.statements), "tree_rss_mb": tree.rss, "tree_pss_mb": tree.pss}


def child_floor(args) -> dict:
    import tempfile

    from sqlalchemy import select

    from dhamen import create_app
    from dhamen.extensions import db
    from dhamen.models import Claim, Contract, Provider
    from dhamen.reconciliation.generation import CHUNK

    app = create_app(env_for(args))
    with app.app_context():
        db.session.execute(db.text("SELECT 1"))
        base = rss_mb()
        t, cpu = time.perf_counter(), time.process_time()
        last, count = "", 0
        while True:
            rows = db.session.execute(
                select(Claim.id, Claim.provider_id, Provider.name, Claim.care_date, Contract.contract_number,
                       Claim.total_amount, Claim.copay_amount, Claim.covered_amount)
                .join(Provider, Provider.id == Claim.provider_id).join(Contract, Contract.id == Claim.contract_id)
                .where(Claim.insurer_id == args.insurer, Claim.care_date >= date.fromisoformat(args.start),
                       Claim.care_date <= date.fromisoformat(args.end),
                       Claim.id > last).order_by(Claim.id).limit(CHUNK)).all()
            count += len(rows)
            if len(rows) < CHUNK:
                break
            last = rows[-1].id
        with tempfile.NamedTemporaryFile(suffix=".bin") as fh:
            fh.write(os.urandom(int(args.bytes)))
            fh.flush()
            app.extensions["dhamen.services"].storage.put_file("bench/floor.bin", fh.name)
        return {"seconds": time.perf_counter() - t, "peak_mb": rss_mb(), "base_mb": base, "rows": count,
                "cpu": time.process_time() - cpu, "load": os.getloadavg()[0]}


def child_textrun(args) -> dict:
    from weasyprint import HTML

    HTML(string="<p>x</p>").write_pdf()
    base = rss_mb()
    text = "01JD3K8M2Q7X9V4B6N8M2Q7X9V  12/01/2026  STAR-2026-000123    123 456,789     24 691,358     98 765,431"
    body = "".join(f'<div class="l">{text}</div>' for _ in range(args.lines))
    html = ("<html><head><style>@page{size:A4;margin:10mm} .l{white-space:pre;"
            "font:7.4pt/9.6pt 'DejaVu Sans Mono'}</style></head><body>" + body + "</body></html>")
    t, cpu = time.perf_counter(), time.process_time()
    HTML(string=html).write_pdf()
    return {"seconds": time.perf_counter() - t, "peak_mb": rss_mb(), "base_mb": base, "lines": args.lines,
            "cpu": time.process_time() - cpu, "load": os.getloadavg()[0]}


def run_child(args, kind: str, **extra) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--pg", args.pg, "--database", args.database,
           "--redis", args.redis, "--s3", args.s3, "--bucket", args.bucket]
    for key, value in extra.items():
        cmd += [f"--{key}", str(value)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=7200)
    if out.returncode != 0:
        sys.exit(f"échec de l'étape {kind} :\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def line(label: str, result: dict) -> None:
    print(f"{label:<46} {result['seconds']:>9.1f} {result['cpu']:>9.1f} {result['peak_mb']:>12.0f} "
          f"{result['peak_mb'] - result['base_mb']:>10.0f} {result['load']:>7.1f}", flush=True)


def preflight(args) -> None:
    """PostgreSQL, Redis and the S3 server answer, or a clear message says which one does not."""
    import boto3
    import redis
    import sqlalchemy as sa

    env = env_for(args)
    checks = (("PostgreSQL", args.pg, lambda: sa.create_engine(args.pg).connect().close()),
              ("Redis", args.redis, lambda: redis.Redis.from_url(args.redis, socket_timeout=3).ping()),
              ("S3", args.s3, lambda: boto3.client("s3", endpoint_url=args.s3, aws_access_key_id=env["S3_ACCESS_KEY_ID"],
                                                   aws_secret_access_key=env["S3_SECRET_ACCESS_KEY"],
                                                   region_name=env["S3_REGION"]).list_buckets()))
    for name, where, check in checks:
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - reported, then stop
            sys.exit(f"{name} ne répond pas ({where}) : {type(exc).__name__}. Démarrez-le ou passez "
                     f"--{'pg' if name == 'PostgreSQL' else name.lower()} (voir bench/README.md).")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--database", default="recon_bench")
    p.add_argument("--redis", default="redis://127.0.0.1:6387/9")
    p.add_argument("--s3", default="http://127.0.0.1:28333")
    p.add_argument("--bucket", default="h-recon-bench")
    p.add_argument("--sizes", default="10000,100000", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--textrun-reference", type=int, default=0, metavar="N")
    p.add_argument("--child", choices=("generate", "floor", "textrun"))
    p.add_argument("--insurer")
    p.add_argument("--start")
    p.add_argument("--end")
    p.add_argument("--bytes", type=float, default=0)
    p.add_argument("--lines", type=int, default=0)
    args = p.parse_args()
    if args.child:
        import logging

        logging.getLogger("dhamen").setLevel(logging.WARNING)
        result = {"generate": child_generate, "floor": child_floor, "textrun": child_textrun}[args.child](args)
        print(json.dumps(result))
        return

    preflight(args)
    print(f"Préparation de la base {args.database}…", flush=True)
    periods = prepare(args)
    print(f"\n{'mesure':<46} {'temps (s)':>9} {'CPU (s)':>9} {'pic RSS Mo':>12} {'dont tâche':>10} {'charge':>7}")
    results = {}
    for period in periods:
        size = period["size"]
        gen = run_child(args, "generate", insurer=period["insurer_id"], start=period["start"], end=period["end"])
        if gen["state"] != "done" or gen["claims"] != size:
            sys.exit(f"génération {size}: {gen}")
        floor = run_child(args, "floor", insurer=period["insurer_id"], start=period["start"], end=period["end"],
                          bytes=gen["pdf_mb"] * 1e6)
        results[size] = gen
        line(f"bordereau {size} demandes ({gen['pages']} p., {gen['pdf_mb']:.1f} Mo)", gen)
        print(f"{'  dont rattachement des demandes (PostgreSQL)':<46} {gen['claim_seconds']:>9.1f} {'':>9} "
              f"{gen['claim_peak_mb']:>12.0f}")
        print(f"{'  processus de rendu (CPU cumulé, pic du plus gros)':<46} {'':>9} {gen['worker_cpu']:>9.1f} "
              f"{gen['worker_peak_mb']:>12.0f}")
        print(f"{'  tous les processus au même instant : RSS / PSS':<46} {'':>9} {'':>9} "
              f"{gen['tree_rss_mb']:>12.0f} {gen['tree_pss_mb']:>10.0f}")
        line("  référence plancher (lecture + dépôt S3)", floor)
        print(f"{'  ratio bordereau / plancher':<46} {gen['seconds'] / floor['seconds']:>9.1f}", flush=True)
    if args.textrun_reference:
        ref = run_child(args, "textrun", lines=args.textrun_reference)
        line(f"référence issue : {ref['lines']} lignes, une <div> par ligne", ref)
        per_line = ref["seconds"] / ref["lines"]
        for size, gen in sorted(results.items()):
            ratio = gen["seconds"] / (per_line * size)
            cpu_ratio = (gen["cpu"] + gen["worker_cpu"]) / (ref["cpu"] / ref["lines"] * size)
            print(f"{f'  bordereau {size} / même nombre de lignes en <div>':<46} {ratio:>9.2f} {cpu_ratio:>9.2f}"
                  "   (temps, CPU ; cible de l'issue en temps : 10 s / 17 s = 0,59)")
    if len(results) >= 2:
        small, large = min(results), max(results)
        for key, label in (("peak_mb", "processus principal"), ("worker_peak_mb", "processus de rendu"),
                           ("tree_rss_mb", "tous les processus, RSS simultané")):
            ratio = results[large][key] / max(results[small][key], 1)
            print(f"pic mémoire {large} / {small} ({label}) : {ratio:.2f} (cible ≤ 1)")
    small = results.get(10_000)
    print("\nRésumé")
    if small:
        ok_time = small["seconds"] < 10
        ok_mem = small["tree_rss_mb"] < 400  # every process of the generation, at the same moment
        print(f"  10 000 demandes : {small['seconds']:.1f} s (cible < 10 s : {'atteinte' if ok_time else 'NON atteinte'}"
              f", charge {small['load']:.1f}) ; CPU {small['cpu']:.1f} s (tâche) + {small['worker_cpu']:.1f} s "
              f"(rendu) ; pic {small['peak_mb']:.0f} Mo (tâche), {small['worker_peak_mb']:.0f} Mo (par processus "
              f"de rendu) ; tous les processus au même instant {small['tree_rss_mb']:.0f} Mo RSS, "
              f"{small['tree_pss_mb']:.0f} Mo PSS (cible < 400 Mo : {'atteinte' if ok_mem else 'NON atteinte'})")
    large = results.get(100_000)
    if small and large:
        growth = [large[key] - small[key] for key in ("peak_mb", "worker_peak_mb")]
        # ru_maxrss moves by a few hundred kB from run to run: within 1 MB counts as "no higher".
        ok = max(growth) <= 1.0
        print(f"  100 000 demandes : {large['seconds']:.1f} s (charge {large['load']:.1f}) ; pic {large['peak_mb']:.1f} Mo "
              f"(tâche, {growth[0]:+.1f} Mo par rapport à 10 000), {large['worker_peak_mb']:.1f} Mo (rendu, "
              f"{growth[1]:+.1f} Mo) (cible « pas plus haut », à 1 Mo près : "
              f"{'atteinte' if ok else 'NON atteinte'})")


if __name__ == "__main__":
    main()
