"""Brute-force back-off for login and MFA, per account and per IP.

After ``FREE_FAILURES`` failures the key is locked for 30 s, then 60 s,
120 s… capped at 15 minutes: an attacker cannot lock a real user out for long,
and a success resets the account's counter.  The key for an account is a
hash of the (lower-cased) email, so unknown emails behave exactly like known
ones.  Counters live in Redis and expire after an hour without failures.
"""

from __future__ import annotations

import hashlib
import math
import time

from dhamen.core.services import services

FREE_FAILURES = 5
IP_FREE_FAILURES = 20
BASE_LOCK = 30
MAX_LOCK = 15 * 60
WINDOW = 3600


def account_key(kind: str, identity: str) -> str:
    return f"thr:{kind}:{hashlib.sha256(identity.strip().lower().encode()).hexdigest()[:32]}"


def ip_key(kind: str, ip: str | None) -> str:
    return f"thr:{kind}-ip:{ip or 'unknown'}"


def retry_after(*keys: str) -> int:
    """Seconds to wait before trying again (0 = allowed).

    The lock holds its end time (checked here) and expires in Redis at that time.
    """
    r = services().redis
    now = time.time()
    waits = []
    for raw in r.mget([f"{k}:lock" for k in keys]):
        if raw is None:
            continue
        try:
            until = float(raw)
        except ValueError:
            continue
        waits.append(int(math.ceil(until - now)))
    return max([w for w in waits if w > 0] or [0])


def fail(key: str, free: int = FREE_FAILURES) -> int:
    """Count a failure; from the ``free``-th one on, lock the key 30 s, 60 s, 120 s… (15 min at most)."""
    r = services().redis
    pipe = r.pipeline()
    pipe.incr(f"{key}:n")
    pipe.expire(f"{key}:n", WINDOW)
    count = pipe.execute()[0]
    if count >= free:
        lock = int(min(BASE_LOCK * 2 ** min(count - free, 10), MAX_LOCK))
        r.set(f"{key}:lock", int(time.time()) + lock, ex=lock)
        return lock
    return 0


def reset(key: str) -> None:
    services().redis.delete(f"{key}:n", f"{key}:lock")
