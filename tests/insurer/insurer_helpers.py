"""Claims waiting for an insurer's decision, made through the claims API (the engine decides)."""

from __future__ import annotations

from datetime import date, timedelta

from claims_helpers import claim_body, post_claim


def stay_claim(client, shop, contract="active", items=None, days_ago=5, nights=3) -> dict:
    """A hospitalization at the clinic: PRIOR_APPROVAL → pending_review."""
    admission = date.today() - timedelta(days=days_ago)
    items = items or [{"code": "CH-J", "label": "Chambre individuelle", "quantity": nights, "unitPrice": 100_000},
                      {"code": "BLOC", "label": "Forfait bloc", "quantity": 1, "unitPrice": 400_000}]
    body = claim_body(shop, contract, items=items, admissionDate=admission.isoformat(),
                      dischargeDate=(admission + timedelta(days=nights)).isoformat(), room="12")
    r = post_claim(client, shop, "hospitalization", "clinic", body=body)
    assert r.status_code == 201, r.get_json()
    data = r.get_json()["data"]
    assert data["status"] == "pending_review", data
    return data


def insurer_admin(shop, label="A"):
    from auth_helpers import make_user

    return make_user("INSURER_ADMIN", insurer=shop.insurers[label])


def signed_in(client, user):
    from auth_helpers import fast_web_session

    fast_web_session(client, user)
    return client
