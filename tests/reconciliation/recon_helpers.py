"""Data for the reconciliation tests: the claims shop (insurer A with providers under convention)
plus approved claims with known amounts, and helpers to run the generation job."""

from __future__ import annotations

import subprocess
from datetime import date, timedelta

from claims_helpers import build_shop

PERIOD_START = date.today().replace(day=1) - timedelta(days=1)
PERIOD_START = PERIOD_START.replace(day=1)  # first day of last month
PERIOD_END = date.today().replace(day=1) - timedelta(days=1)  # last day of last month


def add_claims(shop, n: int, provider: str = "pharmacist", contract: str = "active", status: str = "approved",
               care_date: date | None = None, start: int = 0, commit: bool = True) -> list:
    """``n`` claims with distinct amounts (total 10 000 + 7·i millimes, covered 80 % rounded down)."""
    from dhamen.extensions import db
    from dhamen.models import Claim

    c = shop.contracts[contract]
    kind = {"pharmacist": "pharmacy", "pharmacist2": "pharmacy", "doctor": "consultation", "lab": "lab"}[provider]
    claims = []
    for i in range(start, start + n):
        total = 10_000 + 7 * i
        covered = total * 8 // 10
        day = care_date or (PERIOD_START + timedelta(days=i % 28))
        claims.append(Claim(type=kind, contract_id=c.id, provider_id=shop.providers[provider].id,
                            adherent_id=c.adherent_id, insurer_id=c.insurer_id, care_date=day, total_amount=total,
                            covered_amount=covered, copay_amount=total - covered, status=status))
    db.session.add_all(claims)
    if commit:
        db.session.commit()
    return claims


def run_jobs(app) -> None:
    """Generation jobs run inline with the embedded Redis; with a real Redis, work the RQ queue here."""
    svc = app.extensions["dhamen.services"]
    if svc.inline_jobs:
        from dhamen.core.services import run_inline_jobs

        run_inline_jobs()
        return
    from rq import SimpleWorker

    SimpleWorker([svc.queues["reconciliation"]], connection=svc.redis).work(burst=True)


def pdf_text(data: bytes) -> str:
    """The PDF's text as ``pdftotext -layout`` reads it (poppler-utils)."""
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return out.stdout.decode().replace("\u00a0", " ")


__all__ = ["PERIOD_END", "PERIOD_START", "add_claims", "build_shop", "pdf_text", "run_jobs"]
