"""Server-side sessions in Redis, shared by the portal and the API.

A session is ``sess:<sid>`` (a Redis hash) with the user id, the user's
session version at login, the kind (``web`` or ``api``), creation and last
activity times.  The browser cookie only carries the random ``sid``; an API
access token carries it as its ``sid`` claim.  Deleting the hash ends the
session everywhere at once: logout, refresh-token reuse, deactivation and
password change all do that (``end_user_sessions``).

Redis unreachable → ``SessionStoreDown``: callers answer 503 and never
accept a session they cannot verify (fail closed).
"""

from __future__ import annotations

import secrets
import time

import redis

from dhamen.core.services import services


class SessionStoreDown(RuntimeError):
    pass


def _r():
    return services().redis


def _guard(fn):
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except redis.exceptions.RedisError as exc:
            raise SessionStoreDown("magasin de sessions (Redis) injoignable") from exc

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@_guard
def create(user, kind: str, ttl: int) -> str:
    sid = secrets.token_urlsafe(32)
    now = int(time.time())
    pipe = _r().pipeline()
    pipe.hset(f"sess:{sid}", mapping={"uid": user.id, "sv": user.session_version, "kind": kind,
                                      "created": now, "last": now})
    pipe.expire(f"sess:{sid}", ttl)
    pipe.sadd(f"usess:{user.id}", sid)
    pipe.expire(f"usess:{user.id}", max(ttl, 86400 * 2))
    pipe.execute()
    return sid


@_guard
def load(sid: str | None) -> dict | None:
    if not sid or len(sid) > 64:
        return None
    raw = _r().hgetall(f"sess:{sid}")
    if not raw:
        return None
    data = {k.decode(): v.decode() for k, v in raw.items()}
    return {"uid": data["uid"], "sv": int(data["sv"]), "kind": data["kind"],
            "created": int(data["created"]), "last": int(data["last"])}


@_guard
def touch(sid: str, ttl: int) -> None:
    pipe = _r().pipeline()
    pipe.hset(f"sess:{sid}", "last", int(time.time()))
    pipe.expire(f"sess:{sid}", ttl)
    pipe.execute()


@_guard
def end(sid: str | None) -> None:
    if sid:
        _r().delete(f"sess:{sid}")


@_guard
def end_user_sessions(user_id: str) -> int:
    key = f"usess:{user_id}"
    sids = [s.decode() for s in _r().smembers(key)]
    pipe = _r().pipeline()
    for sid in sids:
        pipe.delete(f"sess:{sid}")
    pipe.delete(key)
    pipe.execute()
    return len(sids)


def valid_for(session: dict | None, user, *, now: int | None = None, idle: int | None = None,
              absolute: int | None = None) -> bool:
    """The session belongs to this active user, at its current session version, within its timeouts."""
    if session is None or user is None or not user.is_active:
        return False
    if session["uid"] != user.id or session["sv"] != user.session_version:
        return False
    now = now or int(time.time())
    if idle is not None and now - session["last"] > idle:
        return False
    return not (absolute is not None and now - session["created"] > absolute)
