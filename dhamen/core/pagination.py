"""Keyset pagination: lists that stay as fast on page 10 000 as on page 1.

A list is ordered by a few NOT NULL columns whose last one is unique (for
claims: ``created_at, id``, newest first).  A page asks for the rows *past*
the last row shown (``WHERE (created_at, id) < (:t, :id) ORDER BY created_at
DESC, id DESC LIMIT n + 1``), which an index on ``(organisation, created_at,
id)`` answers by reading n + 1 entries, however deep the page.  Unlike
``OFFSET``, a claim inserted meanwhile neither shifts the next page (no row
shown twice) nor hides one (no row skipped).

The position travels as an opaque **cursor**: the sort-key values of a row,
JSON, signed with the application's ``SECRET_KEY`` (itsdangerous), salted
with the list's name — a cursor of one list is refused by another, and a
forged or truncated one is refused before any query.  A bad cursor raises
:class:`CursorError` (a ``ValueError``) whose ``message`` is French: views
answer 400 ``INVALID_CURSOR`` (API) or show the first page with the message
(portal pages), never a 500.

Usage::

    from dhamen.core.pagination import CursorError, Keyset, capped_count, paginate

    NEWEST = Keyset("claims.newest", (Claim.created_at, Claim.id))   # descending by default

    stmt = scoped(select(Claim), Claim, user).where(Claim.status == "pending_review")
    try:
        page = paginate(stmt, NEWEST, cursor=request.args.get("avant"), per_page=25)
        # or, going back towards the newest rows:
        # page = paginate(stmt, NEWEST, cursor=request.args.get("apres"), backwards=True)
    except CursorError as exc:
        flash(exc.message, "error")
        page = paginate(stmt, NEWEST, per_page=25)
    page.rows          # the rows (ORM entities or Core rows: anything with the key attributes)
    page.next_cursor   # for ?avant= : the older rows, None on the last page
    page.prev_cursor   # for ?apres= : the newer rows, None on the first page
    count, exact = capped_count(stmt, 1000)   # "plus de 1 000" rather than COUNT(*) of millions

Rules for a keyset: every column NOT NULL, the last one unique, one index
whose columns are the list's equality filters then the keyset's columns
(e.g. ``(provider_id, created_at, id)``).  Rows must expose the key columns
under their column keys (``row.created_at``, ``row.id``); pass ``names`` to
read them under other attribute names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import Select, func, literal_column, select, tuple_

from dhamen.extensions import db

MAX_CURSOR_LENGTH = 400
INVALID_CURSOR_MESSAGE = ("Position de pagination invalide ou périmée (paramètre modifié ?) : "
                          "la liste reprend à la première page.")


class CursorError(ValueError):
    """A cursor that is not one of ours (forged, truncated, of another list)."""

    code = "INVALID_CURSOR"

    def __init__(self, message: str = INVALID_CURSOR_MESSAGE):
        super().__init__(message)
        self.message = message


def _encode_value(value: Any) -> list:
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    if isinstance(value, date):
        return ["d", value.isoformat()]
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"keyset value of unsupported type {type(value).__name__}")
    return ["i" if isinstance(value, int) else "s", value]


def _decode_value(item: Any, expected: type | None) -> Any:
    if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
        raise CursorError()
    tag, raw = item
    try:
        if tag == "t" and isinstance(raw, str):
            value: Any = datetime.fromisoformat(raw)
            if value.tzinfo is None:  # our timestamps are aware (UTC)
                raise CursorError()
        elif tag == "d" and isinstance(raw, str):
            value = date.fromisoformat(raw)
        elif (tag == "i" and isinstance(raw, int) and not isinstance(raw, bool)) \
                or (tag == "s" and isinstance(raw, str) and len(raw) <= 200):
            value = raw
        else:
            raise CursorError()
    except ValueError:
        raise CursorError() from None
    if expected is not None and not isinstance(value, expected):
        raise CursorError()
    if expected is date and isinstance(value, datetime):
        raise CursorError()
    return value


def _python_type(column) -> type | None:
    kind = column.type
    for candidate in (kind, getattr(kind, "impl", None)):  # a TypeDecorator: its implementation's type
        try:
            return candidate.python_type if candidate is not None else None
        except NotImplementedError:
            continue
    return None


@dataclass(frozen=True)
class Keyset:
    """The order of a list: ``columns`` (ORM attributes or Core columns), all descending or all ascending."""

    name: str
    columns: tuple
    descending: bool = True
    names: tuple[str, ...] = ()
    _types: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not self.columns:
            raise ValueError("a keyset needs at least one column")
        if not self.names:
            object.__setattr__(self, "names", tuple(c.key for c in self.columns))
        object.__setattr__(self, "_types", tuple(_python_type(c) for c in self.columns))

    # --- cursors -------------------------------------------------------------------------

    def _serializer(self, secret: str | bytes | None) -> URLSafeSerializer:
        if secret is None:
            secret = current_app.config["SECRET_KEY"]
        return URLSafeSerializer(secret, salt=f"dhamen.cursor:{self.name}")

    def values_of(self, row) -> tuple:
        return tuple(getattr(row, name) for name in self.names)

    def encode(self, row, secret: str | bytes | None = None) -> str:
        """The opaque cursor of a row's position."""
        return self._serializer(secret).dumps([_encode_value(v) for v in self.values_of(row)])

    def decode(self, token: str, secret: str | bytes | None = None) -> tuple:
        """The sort-key values a cursor carries; :class:`CursorError` when it is not a valid one."""
        if not isinstance(token, str) or not token or len(token) > MAX_CURSOR_LENGTH:
            raise CursorError()
        try:
            payload = self._serializer(secret).loads(token)
        except (BadData, ValueError, TypeError, UnicodeError):
            raise CursorError() from None
        if not isinstance(payload, list) or len(payload) != len(self.columns):
            raise CursorError()
        return tuple(_decode_value(item, expected) for item, expected in zip(payload, self._types, strict=True))

    # --- SQL -----------------------------------------------------------------------------

    def order_by(self, reverse: bool = False) -> list:
        descending = self.descending != reverse
        return [c.desc() if descending else c.asc() for c in self.columns]

    def past(self, values: Sequence, reverse: bool = False):
        """Rows after ``values`` in the list's order (before it when ``reverse``)."""
        descending = self.descending != reverse
        if len(self.columns) == 1:
            column = self.columns[0]
            return column < values[0] if descending else column > values[0]
        # A row-value comparison: PostgreSQL uses it as one index bound on (…, created_at, id).
        left, right = tuple_(*self.columns), tuple_(*values, types=[c.type for c in self.columns])
        return left < right if descending else left > right


@dataclass
class Page:
    rows: list
    next_cursor: str | None = None
    prev_cursor: str | None = None

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_prev(self) -> bool:
        return self.prev_cursor is not None


def _execute(stmt: Select, session, scalars: bool) -> list:
    session = session or db.session
    return list(session.scalars(stmt) if scalars else session.execute(stmt))


def paginate(stmt: Select, keyset: Keyset, *, cursor: str | None = None, backwards: bool = False,
             per_page: int = 25, offset: int = 0, session=None, scalars: bool | None = None,
             secret: str | bytes | None = None) -> Page:
    """One page of ``stmt`` (filtered, not ordered) in ``keyset`` order.

    ``cursor``: a ``next_cursor`` (the rows after it) or, with ``backwards``, a
    ``prev_cursor`` (the rows before it, in list order).  ``offset`` (no cursor)
    serves compatibility page numbers: keep it bounded, it costs what it skips.
    ``scalars``: ORM entities (default for ``select(Model)``) or Core rows.
    Raises :class:`CursorError` for a bad cursor.
    """
    if per_page < 1:
        raise ValueError("per_page must be positive")
    if scalars is None:  # select(Model): entities; select(columns…): rows
        described = stmt.column_descriptions
        scalars = len(described) == 1 and described[0]["entity"] is not None \
            and described[0]["expr"] is described[0]["entity"]
    values = keyset.decode(cursor, secret) if cursor else None
    if values is not None and backwards:
        rows = _execute(stmt.where(keyset.past(values, reverse=True)).order_by(*keyset.order_by(reverse=True))
                        .limit(per_page + 1), session, scalars)
        if len(rows) <= per_page:
            # Back at the top: show a full first page rather than the few rows left.
            return paginate(stmt, keyset, per_page=per_page, session=session, scalars=scalars, secret=secret)
        rows = rows[:per_page][::-1]
        return Page(rows, keyset.encode(rows[-1], secret), keyset.encode(rows[0], secret))
    page_stmt = stmt.order_by(*keyset.order_by())
    if values is not None:
        page_stmt = page_stmt.where(keyset.past(values))
    elif offset:
        page_stmt = page_stmt.offset(offset)
    rows = _execute(page_stmt.limit(per_page + 1), session, scalars)
    more = len(rows) > per_page
    rows = rows[:per_page]
    next_cursor = keyset.encode(rows[-1], secret) if more else None
    prev_cursor = keyset.encode(rows[0], secret) if rows and (values is not None or offset) else None
    return Page(rows, next_cursor, prev_cursor)


def capped_count(stmt: Select, cap: int = 1000, session=None) -> tuple[int, bool]:
    """``(n, exact)``: the number of rows of ``stmt`` if it is at most ``cap``, else ``(cap, False)``.

    Reads at most ``cap + 1`` rows: show "plus de 1 000" instead of counting millions.
    """
    session = session or db.session
    limited = stmt.with_only_columns(literal_column("1"), maintain_column_froms=True) \
        .order_by(None).limit(cap + 1).subquery()
    n = int(session.scalar(select(func.count()).select_from(limited)) or 0)
    return (n, True) if n <= cap else (cap, False)


__all__ = ["CursorError", "Keyset", "Page", "capped_count", "paginate"]
