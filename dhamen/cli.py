"""``flask --app app dhamen ...`` commands."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

dhamen_cli = AppGroup("dhamen", help="Commandes Dhamen (données de démonstration, maintenance).")


@dhamen_cli.command("seed")
@click.option("--claims", type=click.IntRange(min=0), default=0, show_default=True,
              help="Nombre total de demandes générées en masse (benchmarks) : complète jusqu'à N, "
                   "relancer la commande n'en ajoute pas d'autres.")
@click.option("--members", type=click.IntRange(min=1, max=1_000_000), default=300, show_default=True,
              help="Nombre d'adhérents de démonstration.")
@click.option("--batch-size", type=click.IntRange(min=100, max=100_000), default=5000, show_default=True)
def seed_command(claims: int, members: int, batch_size: int) -> None:
    """Charge le jeu de données tunisien de démonstration (idempotent)."""
    from dhamen.seed.demo import DEMO_PASSWORD, seed_demo

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
        from dhamen.seed.bulk import generate_claims

        created = generate_claims(claims, batch_size=batch_size, progress=click.echo)
        click.echo(f"{created} demandes générées.")


def register_cli(app) -> None:
    from dhamen.reconciliation.cli import due_command

    dhamen_cli.add_command(due_command)
    app.cli.add_command(dhamen_cli)
