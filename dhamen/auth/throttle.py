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

from dhamen.services import services

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
    """Seconds to wait before trying again (0 = allowed)."""
    r = services().redis
    ttls = [r.ttl(f"{k}:lock") for k in keys]
    return max([t for t in ttls if t and t > 0] or [0])


def fail(key: str, free: int = FREE_FAILURES) -> int:
    r = services().redis
    count = r.incr(f"{key}:n")
    r.expire(f"{key}:n", WINDOW)
    if count >= free:
        lock = min(BASE_LOCK * 2 ** (count - free), MAX_LOCK)
        r.set(f"{key}:lock", 1, ex=int(math.ceil(lock)))
        return lock
    return 0


def reset(key: str) -> None:
    services().redis.delete(f"{key}:n", f"{key}:lock")
