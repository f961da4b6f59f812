"""Field encryption at rest and keyed lookup hashes (no Flask).

Values are encrypted with AES-256-GCM, a fresh random 96-bit nonce per value,
and associated data naming the column, so a ciphertext copied into another
column does not decrypt.  The stored form is ``<kid>$<base64(nonce|ct|tag)>``
so keys can rotate: the first key of the keyring encrypts, every key decrypts.

Looking a member up by national ID uses an HMAC-SHA256 of the normalised
value under a separate key (``LOOKUP_HMAC_KEY``), kept outside the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class DecryptionError(ValueError):
    pass


@dataclass
class Keyring:
    keys: dict[str, bytes]
    current: str
    lookup_key: bytes

    def _aead(self, kid: str) -> AESGCM:
        """One AESGCM per key, built once (an import encrypts 100 000 values in a loop)."""
        key = self.keys[kid]
        ciphers = self.__dict__.setdefault("_ciphers", {})  # by key bytes: a replaced key gets its own
        if (cipher := ciphers.get(key)) is None:
            cipher = ciphers[key] = AESGCM(key)
        return cipher

    def encrypt(self, plaintext: str, aad: str) -> str:
        nonce = os.urandom(12)
        ct = self._aead(self.current).encrypt(nonce, plaintext.encode(), aad.encode())
        return f"{self.current}${base64.b64encode(nonce + ct).decode()}"

    def decrypt(self, token: str, aad: str) -> str:
        kid, sep, body = token.partition("$")
        if not sep or kid not in self.keys:
            raise DecryptionError("clé de chiffrement inconnue pour cette valeur")
        raw = base64.b64decode(body)
        try:
            return self._aead(kid).decrypt(raw[:12], raw[12:], aad.encode()).decode()
        except InvalidTag:
            raise DecryptionError("valeur chiffrée altérée ou mauvaise clé") from None

    def lookup_hash(self, value: str, purpose: str) -> str:
        return hmac.digest(self.lookup_key, f"{purpose}:{value}".encode(), hashlib.sha256).hex()


_keyring: Keyring | None = None


def configure(keyring: Keyring) -> None:
    global _keyring
    _keyring = keyring


def keyring() -> Keyring:
    if _keyring is None:
        raise RuntimeError("crypto.configure() n'a pas été appelé (create_app le fait au démarrage)")
    return _keyring


_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")


def normalise_national_id(value: str) -> str:
    """Strip spaces, dots and dashes; upper-case letters (passports)."""
    return _NON_ALNUM.sub("", value or "").upper()


def national_id_hash(value: str) -> str:
    return keyring().lookup_hash(normalise_national_id(value), "national_id")


def mask(value: str | None, visible: int = 3) -> str:
    """``12345678`` → ``•••••678``, for roles that need not see the value."""
    if not value:
        return ""
    return "•" * max(len(value) - visible, 0) + value[-visible:]
