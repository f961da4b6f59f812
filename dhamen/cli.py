"""``flask --app app dhamen ...`` commands."""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import AppGroup

from dhamen.claims.operations import redeliver_missing_events
from dhamen.core.services import services
from dhamen.core.storage import StorageError
from dhamen.core.unit import committed
from dhamen.reconciliation.cli import due_command
from dhamen.seed.bulk import generate_claims
from dhamen.seed.demo import DEMO_PASSWORD, seed_demo

dhamen_cli = AppGroup("dhamen", help="Commandes Dhamen (données de démonstration, maintenance).")


@dhamen_cli.command("seed")
@click.option("--claims", type=click.IntRange(min=0), default=0, show_default=True,
              help="Nombre total de demandes générées en masse (benchmarks) : complète jusqu'à N, "
                   "relancer la commande n'en ajoute pas d'autres.")
@click.option("--members", type=click.IntRange(min=1, max=1_000_000), default=300, show_default=True,
              help="Nombre d'adhérents de démonstration.")
@click.option("--batch-size", type=click.IntRange(min=100, max=100_000), default=5000, show_default=True)
@committed
def seed_command(claims: int, members: int, batch_size: int) -> None:
    """Charge le jeu de données tunisien de démonstration (idempotent)."""
    settings = current_app.config["DHAMEN"]
    report = seed_demo(members=members, with_demo_users=settings.is_development)
    click.echo(report.summary())
    if settings.is_development:
        click.echo(f"Comptes de démonstration (mot de passe: {DEMO_PASSWORD}):")
        for email, role in report.demo_users:
            click.echo(f"  {role:<14} {email}")
    else:
        click.echo("ENVIRONMENT hors développement: aucun compte de démonstration créé.")
    if claims:
        created = generate_claims(claims, batch_size=batch_size, progress=click.echo)
        click.echo(f"{created} demandes générées.")


@dhamen_cli.command("storage-init")
@click.option("--wait", "wait_seconds", type=click.IntRange(min=0, max=600), default=60, show_default=True,
              help="Secondes pendant lesquelles réessayer si le serveur S3 démarre encore.")
def storage_init_command(wait_seconds: int) -> None:
    """Crée le compartiment S3 de STORAGE_URL (ou le dossier local) s'il n'existe pas, puis vérifie l'accès."""

    storage = services().storage
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            storage.ensure_bucket()
            storage.probe()
            break
        except StorageError as exc:
            if time.monotonic() >= deadline:
                raise click.ClickException(f"Stockage inaccessible : {exc}") from exc
            time.sleep(2)
    where = f"compartiment S3 « {storage.bucket} »" if storage.kind == "s3" else f"dossier {storage.root}"
    click.echo(f"Stockage prêt : {where}.")


@dhamen_cli.command("events-redeliver")
@click.option("--older-than", "older_than", type=click.IntRange(min=0), default=120, show_default=True,
              help="Âge minimal (secondes) d'une demande sans son événement.")
@click.option("--within", "within", type=click.IntRange(min=1), default=None,
              help="Seulement les demandes créées depuis moins de N secondes (la période d'une panne).")
@committed
def events_redeliver_command(older_than: int, within: int | None) -> None:
    """Remet en file l'événement « claim.created » des demandes qui ne l'ont jamais eu (Redis
    injoignable au moment de la mise en file). Sans effet double : l'événement est idempotent."""

    click.echo(f"{redeliver_missing_events(older_than, within)} événement(s) remis en file.")


def register_cli(app) -> None:
    dhamen_cli.add_command(due_command)
    app.cli.add_command(dhamen_cli)
