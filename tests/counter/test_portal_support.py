"""Helpers of the provider-portal tests (no test here).

The data set is ``claims_helpers.shop`` (insurer A under convention with one
provider of each type, insurer B with none, one member per contract
situation).  ``PORTALS`` gives, per provider role, the portal's URL, the lines
a counter types and what the engine must answer for them on the ``active``
contract (coverage 80 % / generic 90 % / consultation 70 % / lab 80 % /
hospitalization 90 % with a 120 TND room-day cap; barème = catalogue prices;
convention tariff PH0001 = 5,000 TND; exclusion ``cat:cosmetique``).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from auth_helpers import PASSWORD, csrf_from, web_login


@dataclass(frozen=True)
class PortalCase:
    role: str
    provider: str  # key of shop.providers
    prefix: str
    lines: tuple[dict, ...]
    total: str
    covered: str
    copay: str
    status: str  # status label the claim gets
    extra: dict = field(default_factory=dict)


PORTALS = {
    "PHARMACIST": PortalCase(
        "PHARMACIST", "pharmacist", "/pharmacie",
        ({"code": "PH0001", "qty": "2", "price": "5,600", "generic": True},  # convention tariff 5,000, generic 90 %
         {"code": "PH0009", "qty": "1", "price": "2.5"},  # barème 2,100, 80 %
         {"code": "PH0057", "qty": "1", "price": "38"}),  # cosmetic: excluded
        "51,700 TND", "10,680 TND", "41,020 TND", "Approuvée"),
    "DOCTOR": PortalCase(
        "DOCTOR", "doctor", "/medecin", ({"code": "C1", "qty": "1", "price": "45"},),
        "45,000 TND", "31,500 TND", "13,500 TND", "Approuvée"),
    "LAB_MANAGER": PortalCase(
        "LAB_MANAGER", "lab", "/laboratoire",
        ({"code": "B-NFS", "qty": "1", "price": "12"}, {"code": "B-GLY", "qty": "1", "price": "4,000"}),
        "16,000 TND", "12,800 TND", "3,200 TND", "Approuvée"),
    "CLINIC_ADMIN": PortalCase(
        "CLINIC_ADMIN", "clinic", "/clinique",
        ({"code": "CH-J", "qty": "3", "price": "180"},  # room day capped at 120,000 by the contract
         {"code": "BLOC", "qty": "1", "price": "400"}),
        "940,000 TND", "684,000 TND", "256,000 TND", "En attente de validation",
        # a three-night stay ending today: three room days at most (issue 9)
        extra={"care_date": (date.today() - timedelta(days=3)).isoformat(),
               "discharge_date": date.today().isoformat(), "room": "214"}),
}
USERS = {"PHARMACIST": "pharmacist", "DOCTOR": "doctor", "LAB_MANAGER": "lab", "CLINIC_ADMIN": "clinic"}


def text(response) -> str:
    """The page with HTML entities decoded (French texts are full of apostrophes)."""
    return html.unescape(response.get_data(as_text=True))


def login(client, user) -> str:
    """Sign in through the real login page; returns the session's CSRF token."""
    response = web_login(client, user.email, PASSWORD)
    assert response.status_code == 302, text(response)
    return csrf_from(text(client.get(response.headers["Location"])))


def line_fields(lines, start: int = 0) -> dict:
    data = {}
    for n, line in enumerate(lines, start=start):
        data[f"lines-{n}-code"] = line["code"]
        data[f"lines-{n}-label"] = line.get("label", "")
        data[f"lines-{n}-qty"] = line.get("qty", "1")
        data[f"lines-{n}-price"] = line.get("price", "")
        if line.get("generic"):
            data[f"lines-{n}-generic"] = "1"
    return data


def entry_form(html: str) -> dict:
    """The hidden fields of a rendered entry page (CSRF, idempotency token)."""
    return {"csrf_token": csrf_from(html), "idem": re.search(r'name="idem" value="([^"]+)"', html).group(1)}


def entry_url(case: PortalCase, contract) -> str:
    return f"{case.prefix}/saisie/{contract.id}"


def open_entry(client, case: PortalCase, contract) -> tuple[str, dict]:
    response = client.get(entry_url(case, contract))
    assert response.status_code == 200, text(response)
    return text(response), entry_form(text(response))


def claim_data(case: PortalCase, hidden: dict, lines=None, **extra) -> dict:
    data = {**hidden, **line_fields(case.lines if lines is None else lines)}
    data.update({k: v for k, v in case.extra.items() if v is not None})
    data.update(extra)
    return data


def claims_of(provider) -> list:
    """The claims a provider stored (the shop holds one of another provider's)."""
    from sqlalchemy import select

    from dhamen.extensions import db
    from dhamen.models import Claim

    db.session.expire_all()
    return list(db.session.scalars(select(Claim).where(Claim.provider_id == provider.id)))


def add_claim(shop, provider: str, contract: str = "active", *, total: int = 1_000, covered: int = 800,
              status: str = "approved", care_date=None):
    """A stored pharmacy claim of ``provider`` (a key of shop.providers), flushed, not committed."""
    from datetime import date

    from dhamen.extensions import db
    from dhamen.models import Claim

    c = shop.contracts[contract]
    claim = Claim(type="pharmacy", contract_id=c.id, provider_id=shop.providers[provider].id,
                  adherent_id=c.adherent_id, insurer_id=c.insurer_id, care_date=care_date or date.today(),
                  total_amount=total, covered_amount=covered, copay_amount=total - covered, status=status)
    db.session.add(claim)
    db.session.flush()
    return claim
