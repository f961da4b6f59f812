"""Password hashing and policy (ASVS 6.2).

bcrypt reads at most 72 bytes, so a long UTF-8 password would be silently
truncated.  We pre-hash: bcrypt(base64(SHA-256(password))) — 44 ASCII bytes,
no NUL — so every character of a password up to 128 characters counts.
Policy: 12 to 128 characters, no composition rules, not a common password.
"""

from __future__ import annotations

import base64
import hashlib
import unicodedata
from functools import lru_cache
from pathlib import Path

import bcrypt

MIN_LENGTH = 12
MAX_LENGTH = 128
BCRYPT_ROUNDS = 12
PREFIX = "bcrypt-sha256$"


def _prehash(password: str) -> bytes:
    normalised = unicodedata.normalize("NFKC", password)
    return base64.b64encode(hashlib.sha256(normalised.encode("utf-8")).digest())


def hash_password(password: str, rounds: int | None = None) -> str:
    salt = bcrypt.gensalt(rounds or BCRYPT_ROUNDS)
    return PREFIX + bcrypt.hashpw(_prehash(password), salt).decode()


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith(PREFIX) or password is None:
        return False
    try:
        return bcrypt.checkpw(_prehash(password), stored.removeprefix(PREFIX).encode())
    except ValueError:
        return False


# A constant hash to compare against when the account does not exist, so the
# answer time does not reveal whether an email is registered.
@lru_cache(maxsize=1)
def dummy_hash() -> str:
    return hash_password("dhamen-dummy-password-for-timing")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    return frozenset(
        line.strip().lower()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )


def policy_errors(password: str, *, email: str | None = None) -> list[str]:
    """French messages for every rule the password breaks (empty = acceptable)."""
    errors = []
    length = len(password or "")
    if length < MIN_LENGTH:
        errors.append(f"Le mot de passe doit contenir au moins {MIN_LENGTH} caractères.")
    if length > MAX_LENGTH:
        errors.append(f"Le mot de passe ne peut pas dépasser {MAX_LENGTH} caractères.")
    lowered = (password or "").strip().lower()
    if lowered in common_passwords():
        errors.append("Ce mot de passe est trop courant ; choisissez-en un autre.")
    elif email and lowered == email.strip().lower():
        errors.append("Le mot de passe ne peut pas être votre adresse e-mail.")
    return errors
