"""Claim events, consumed from the ``events`` queue after the commit.

Each event adds an audit-trail row (``event.<type>``) and updates the
per-insurer counters in Redis.  The fraud rule "amount far above the usual"
reads them (``usual_amount``); the insurer dashboard still counts claims by
status in SQL, which stays exact when the embedded Redis is reset:

- ``stats:insurer:<id>`` hash: ``claims``, ``status:<status>`` counts,
  ``covered`` and ``total`` sums (millimes);
- ``stats:insurer:<id>:<care_type>`` hash: ``n`` and ``sum`` of claim totals;
- ``stats:insurer:<id>:<care_type>:approved`` list: the totals of the latest
  :data:`USUAL_SAMPLE` claims that became ``approved`` (at submission or by an
  agent's decision; a claim paid later is not counted twice). Their median is
  the usual amount for that care type (``usual_amount``): rejected, blocked or
  pending claims never move it, one outlier cannot, and the claim being scored
  is not in it (events run after the commit).
"""

from __future__ import annotations

import logging

import redis
from sqlalchemy import select

from dhamen.core import audit
from dhamen.core.jobs import with_app
from dhamen.core.services import services
from dhamen.domain.fraud import usual_amount_of
from dhamen.extensions import db
from dhamen.models import AuditLog

log = logging.getLogger("dhamen.events")
USUAL_MIN_SAMPLE = 20
USUAL_SAMPLE = 201


def _approved_key(insurer_id: str, care_type: str) -> str:
    return f"stats:insurer:{insurer_id}:{care_type}:approved"


DONE_TTL = 35 * 24 * 3600  # longer than a job can wait in the failed registry


def event_key(event: dict) -> str:
    return f"{event['claimId']}:{event['type']}:{event.get('previousStatus') or ''}:{event['status']}"


@with_app
def claim_event(event: dict) -> None:
    """Apply one claim event, at most once however many times it is delivered.

    RQ delivers at least once: a job retried after a failure, or re-queued because its
    worker was killed mid-job, may have done part of its work.  The counters move in one
    MULTI/EXEC with a marker ``stats:done:<event>`` (all or nothing, never twice); the
    audit row is written unless already there.
    """
    r = services().redis
    key = f"stats:insurer:{event['insurerId']}"
    done = f"stats:done:{event_key(event)}"
    with r.pipeline() as pipe:
        while True:
            try:
                pipe.watch(done)
                if pipe.exists(done):
                    pipe.reset()
                    break
                pipe.multi()
                pipe.set(done, 1, ex=DONE_TTL)
                if event["type"] == "claim.created":
                    pipe.hincrby(key, "claims", 1)
                    pipe.hincrby(key, f"status:{event['status']}", 1)
                    pipe.hincrby(key, "total", int(event["totalAmount"]))
                    pipe.hincrby(key, "covered", int(event["coveredAmount"]))
                    pipe.hincrby(f"{key}:{event['careType']}", "n", 1)
                    pipe.hincrby(f"{key}:{event['careType']}", "sum", int(event["totalAmount"]))
                elif event.get("previousStatus"):
                    pipe.hincrby(key, f"status:{event['previousStatus']}", -1)
                    pipe.hincrby(key, f"status:{event['status']}", 1)
                if event["status"] == "approved" and event.get("previousStatus") not in ("approved", "paid") \
                        and event.get("careType"):
                    approved = _approved_key(event["insurerId"], event["careType"])
                    pipe.lpush(approved, int(event["totalAmount"]))
                    pipe.ltrim(approved, 0, USUAL_SAMPLE - 1)
                pipe.execute()
                break
            except redis.WatchError:
                continue
    changes = {"status": event["status"], "previousStatus": event.get("previousStatus")}
    earlier = db.session.scalars(select(AuditLog.changes_json).where(
        AuditLog.entity_type == "claim", AuditLog.entity_id == event["claimId"],
        AuditLog.action == f"event.{event['type']}")).all()
    if changes not in earlier:
        audit.record(f"event.{event['type']}", "claim", event["claimId"], changes,
                     user=None, insurer_id=event["insurerId"], provider_id=event.get("providerId"))


def usual_amount(insurer_id: str, care_type: str) -> int | None:
    """Median total of the insurer's latest approved claims of this care type, once the sample
    is large enough (see the module docstring)."""
    try:
        raw = services().redis.lrange(_approved_key(insurer_id, care_type), 0, USUAL_SAMPLE - 1)
    except redis.exceptions.RedisError:
        log.warning("compteurs indisponibles: règle du montant inhabituel ignorée")
        return None
    return usual_amount_of([int(v) for v in raw], USUAL_MIN_SAMPLE)
