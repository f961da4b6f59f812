"""Column types shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator
from ulid import ULID

from dhamen.core import crypto

JSONType = JSON().with_variant(JSONB(), "postgresql")


def new_id() -> str:
    """A ULID as its 26-character Crockford base32 string."""
    return str(ULID())


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EncryptedText(TypeDecorator):
    """AES-256-GCM encrypted text; the associated data binds it to its column.

    The rest of the code reads and writes plaintext; the database only ever
    holds ``kid$base64`` ciphertext.
    """

    impl = Text
    cache_ok = True

    def __init__(self, aad: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.aad = aad

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return crypto.keyring().encrypt(str(value), self.aad)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return crypto.keyring().decrypt(value, self.aad)

    def copy(self, **kw):
        return EncryptedText(self.aad)
