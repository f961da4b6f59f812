"""``flask --app app dhamen bordereaux`` — generate every reconciliation that is due (for cron).

For each active insurer, the last closed period of its cycle (weekly,
monthly, quarterly) is due when it still has approved claims not on a
bordereau and no reconciliation of that exact period exists nor a generation
in progress: running the command twice generates nothing more.  The jobs run
in this process (cron is already a background process), one after the other.
"""

from __future__ import annotations

from datetime import date

import click

from dhamen.extensions import db
from dhamen.models import ReconciliationRun
from dhamen.reconciliation.generation import due_periods, request_generation, run_generation


@click.command("bordereaux")
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Date du jour à considérer (AAAA-MM-JJ ; par défaut aujourd'hui).")
@click.option("--dry-run", is_flag=True, help="Afficher les bordereaux dus sans les générer.")
def due_command(on, dry_run: bool) -> None:
    """Génère les bordereaux dus selon le cycle de chaque assureur (idempotent)."""

    today = on.date() if on else date.today()
    due = due_periods(today)
    if not due:
        click.echo("Aucun bordereau dû.")
        return
    failed = 0
    for insurer, period in due:
        label = f"{insurer.code} du {period.start:%d/%m/%Y} au {period.end:%d/%m/%Y}"
        if dry_run:
            click.echo(f"dû : {label}")
            continue
        run = request_generation(insurer.id, period, "cron")
        db.session.info.pop("dhamen_jobs", None)  # run here, now, rather than through a queue
        db.session.commit()
        state = run_generation(run.id)
        found = db.session.get(ReconciliationRun, run.id)
        click.echo(f"{label} : {found.step or ''} ({state}){' — ' + found.error if found.error else ''}")
        failed += state == "failed"
    if failed:
        raise SystemExit(1)
