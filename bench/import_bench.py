"""Onboarding import benchmark: 50,000 CSV lines, time and peak memory, against a floor.

Each measure runs in its own child process (so its peak RSS is its own):

* **import**: ``dhamen.admin.imports.run_import`` on a generated file of N lines (one
  member + one contract each, every optional column filled): storage read, every line
  checked, national IDs hashed and encrypted, members and contracts compared with the
  database and written in one transaction, audit row, report;
* **again**: the same file a second time (every line already there: the idempotent path);
* **floor**: the least any import of that file does: ``csv`` parses it and one
  ``executemany`` writes the raw lines, as text, into a scratch table in the same
  database and transaction — no checks, no hashing, no encryption.

Prints the import's progress as it runs (the record the status page polls), then seconds,
process CPU and peak RSS of each, the ratios import/floor and the load average.  The issue's target:
50,000 lines in under a minute.

    .venv/bin/python bench/import_bench.py                       # SQLite file, 50 000 lines
    .venv/bin/python bench/import_bench.py --pg postgresql://postgres@127.0.0.1:5432/h_admin_bench
    .venv/bin/python bench/import_bench.py --rows 5000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


LAST = ("Ben Salah", "Trabelsi", "Gharbi", "Haddad", "Jebali", "Ayari", "Mansouri", "Bouazizi", "Chebbi", "Kefi")
FIRST = ("Amira", "Sami", "Hela", "Zied", "Mouna", "Karim", "Ines", "Walid", "Sonia", "Nizar", "Rim")


def generate(path: Path, rows: int) -> None:
    from dhamen.admin.onboarding import COLUMN_NAMES

    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(";".join(COLUMN_NAMES) + "\r\n")
        for i in range(rows):
            values = {"cin": f"{20_000_000 + i}", "nom": LAST[i % len(LAST)], "prenom": FIRST[i % len(FIRST)],
                      "date_naissance": f"{1 + i % 28:02d}/{1 + i % 12:02d}/{1950 + i % 60}", "sexe": "MF"[i % 2],
                      "telephone": f"+216 9{i % 10} {i % 1000:03d} {i % 997:03d}", "email": f"m{i}@exemple.tn",
                      "adresse": f"{i % 200} rue de la République", "ville": ("Tunis", "Sfax", "Sousse")[i % 3],
                      "numero_contrat": f"BENCH-{i:07d}", "formule": ("individuel", "famille", "groupe")[i % 3],
                      "debut": "01/01/2026", "fin": "31/12/2026", "carence_jours": str((0, 30, 60)[i % 3]),
                      "plafond_annuel": ("", "3000", "5 000,000")[i % 3], "pharmacie_taux": "80",
                      "pharmacie_taux_generique": "90", "consultation_taux": "70", "laboratoire_taux": "72,5",
                      "hospitalisation_taux": ("", "90")[i % 2], "hospitalisation_plafond_chambre": ("", "120")[i % 2],
                      "exclusions": "cat:cosmetique|KC*"}
            out.write(";".join(values[c] for c in COLUMN_NAMES) + "\r\n")


def _env(args, instance: str) -> dict:
    env = {"ENVIRONMENT": "development", "DHAMEN_INSTANCE_PATH": instance, "RATELIMIT_ENABLED": "false"}
    if args.pg:
        env["DATABASE_URL"] = args.pg
    return env


def child(args) -> dict:
    """One measure, in this (child) process; prints a JSON line."""
    import logging

    logging.disable(logging.WARNING)
    from dhamen import create_app
    from dhamen.extensions import db

    app = create_app(_env(args, args.instance))
    data = Path(args.file).read_bytes()
    with app.app_context():
        if args.child == "setup":
            import sqlalchemy as sa
            from flask_migrate import upgrade

            if db.engine.dialect.name == "postgresql":
                with db.engine.begin() as conn:
                    conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            upgrade()
            from dhamen.access.auth.passwords import hash_password
            from dhamen.models import Insurer, User

            db.session.add(Insurer(id="01BENCHINSURER000000000000", code="BENCH", name="Bench", config_json={}))
            db.session.add(User(id="01BENCHUSER00000000000000A", email="bench@dhamen.tn", role="ADMIN",
                                first_name="B", last_name="B", password_hash=hash_password("x" * 16)))
            db.session.commit()
            return {}
        if args.child == "floor":
            import csv
            import io

            import sqlalchemy as sa

            started = time.perf_counter()
            text = data.decode("utf-8-sig")
            reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
            header = next(reader)
            table = sa.Table("bench_floor", sa.MetaData(), *[sa.Column(h, sa.Text) for h in header])
            table.drop(db.engine, checkfirst=True)
            table.create(db.engine)
            batch = []
            for cells in reader:
                batch.append(dict(zip(header, cells, strict=True)))
                if len(batch) == 2000:
                    db.session.execute(table.insert(), batch)
                    batch = []
            if batch:
                db.session.execute(table.insert(), batch)
            db.session.commit()
            seconds = time.perf_counter() - started
            table.drop(db.engine)
            return {"seconds": seconds, "summary": {}}
        from dhamen.admin import imports
        from dhamen.core.services import services

        import_id = f"01BENCH{args.child.upper():0<19}"[:26]
        services().storage.put(f"imports/{import_id}.csv", data, "text/csv")
        imports._save(import_id, status="queued", insurer_id="01BENCHINSURER000000000000",
                      user_id="01BENCHUSER00000000000000A", filename="bench.csv", sha256="-", created="-")
        watcher = _progress_watcher(app, import_id, args.child)
        started = time.perf_counter()
        summary = imports.run_import(import_id)
        watcher.set()
        return {"seconds": time.perf_counter() - started, "summary": summary,
                "status": imports._record(import_id)["status"]}


def _progress_watcher(app, import_id: str, name: str):
    """A thread printing the job's progress record (what the status page polls) every 2 s, on stderr."""
    import threading

    from dhamen.admin import imports

    stop = threading.Event()
    started = time.perf_counter()

    def watch() -> None:
        with app.app_context():
            while not stop.wait(2.0):
                r = imports._record(import_id) or {}
                if r.get("status") == "writing":
                    step = (f"écriture {r['written']}/{r['to_write']} enregistrements" if r.get("to_write", "0") != "0"
                            else "comparaison avec la base")
                else:
                    step = f"vérification {r.get('processed', '0')} lignes"
                print(f"  [{name} {time.perf_counter() - started:5.1f} s] {step}", file=sys.stderr, flush=True)

    threading.Thread(target=watch, daemon=True).start()
    return stop


def measure(args, name: str, instance: str, file: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", name, "--instance", instance, "--file", str(file)]
    if args.pg:
        cmd += ["--pg", args.pg]
    # stderr goes to the terminal as it comes: the progress lines of the import
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=900, cwd=ROOT, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{name} a échoué (code {out.returncode})")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=50_000)
    p.add_argument("--pg", help="PostgreSQL URL of a scratch database (its public schema is dropped)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--instance", help=argparse.SUPPRESS)
    p.add_argument("--file", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        cpu = time.process_time()
        result = child(args)
        result["cpu_seconds"] = time.process_time() - cpu
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return 0
    with tempfile.TemporaryDirectory(prefix="dhamen-import-bench-") as tmp:
        file = Path(tmp) / "bench.csv"
        generate(file, args.rows)
        print(f"{args.rows} lignes, {file.stat().st_size / 1e6:.1f} Mo, base "
              f"{'PostgreSQL' if args.pg else 'SQLite (fichier)'}; charge "
              + ", ".join(f"{x:.1f}" for x in os.getloadavg()), flush=True)
        measure(args, "setup", tmp, file)
        results = {name: measure(args, name, tmp, file) for name in ("floor", "import", "again")}
    for name, r in results.items():
        summary = {k: v for k, v in (r.get("summary") or {}).items() if k.startswith(("members", "contracts"))}
        print(f"{name:7s} {r['seconds']:7.2f} s (CPU du processus {r['cpu_seconds']:6.2f} s)  pic mémoire {r['peak_rss_mb']:7.1f} Mo  {r.get('status', '')} {summary}")
    base, measure_base = results["floor"], results["import"]
    print(f"ratios import/floor : temps {measure_base['seconds'] / base['seconds']:.1f}, "
          f"mémoire {measure_base['peak_rss_mb'] / base['peak_rss_mb']:.2f}; "
          f"second import/floor : temps {results['again']['seconds'] / base['seconds']:.1f}")
    print("charge de la machine (1, 5, 15 min) : " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    ok = measure_base["status"] == "done" and measure_base["seconds"] < 60
    print(f"objectif (< 60 s pour {args.rows} lignes) : {'atteint' if ok else 'MANQUÉ'}")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
