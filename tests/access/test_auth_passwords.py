"""Password hashing and policy (SECURITY.md: Authentication; ASVS 6.2)."""

from __future__ import annotations

import bcrypt
import pytest

from dhamen.access.auth import passwords
from dhamen.access.auth.passwords import MAX_LENGTH, MIN_LENGTH, hash_password, policy_errors, verify_password


def test_hash_is_bcrypt_and_verifies():
    stored = hash_password("un mot de passe correct")
    assert stored.startswith(passwords.PREFIX + "$2b$")
    assert "un mot de passe correct" not in stored
    assert verify_password("un mot de passe correct", stored)
    assert not verify_password("un mot de passe correcT", stored)
    assert not verify_password("", stored)


def test_two_hashes_of_the_same_password_differ():
    assert hash_password("même mot de passe") != hash_password("même mot de passe")


def test_production_cost_is_at_least_12():
    # The tests lower it to 4 (conftest); the module's own value is what production uses.
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(passwords))
    rounds = next(node.value.value for node in tree.body if isinstance(node, ast.Assign)
                  and getattr(node.targets[0], "id", "") == "BCRYPT_ROUNDS")
    assert rounds >= 12


@pytest.mark.parametrize("stored", [None, "", "plain", "$2b$04$invalid", "bcrypt-sha256$garbage"])
def test_unusable_stored_hashes_never_verify(stored):
    assert verify_password("anything at all", stored) is False


def test_long_utf8_password_beyond_72_bytes_counts_fully():
    """bcrypt alone would ignore everything past 72 bytes; every character must count."""
    head = "é" * 40  # 80 bytes in UTF-8 already
    assert len(head.encode()) > 72
    stored = hash_password(head + "A")
    assert verify_password(head + "A", stored)
    assert not verify_password(head + "B", stored)
    assert not verify_password(head, stored)
    # The two passwords differ only after byte 72: a scheme that truncates (raw bcrypt)
    # could not tell them apart.
    assert (head + "A").encode()[:72] == (head + "B").encode()[:72]
    truncated = bcrypt.hashpw((head + "A").encode()[:72], bcrypt.gensalt(4))
    assert bcrypt.checkpw((head + "B").encode()[:72], truncated)


def test_longest_allowed_password_counts_fully_including_last_character():
    base = "ü" * (MAX_LENGTH - 1)  # 254 bytes
    stored = hash_password(base + "x")
    assert not policy_errors(base + "x")
    assert verify_password(base + "x", stored)
    assert not verify_password(base + "y", stored)


def test_password_with_nul_and_emoji_is_handled():
    pw = "pass\x00word-🙂-long-enough"
    stored = hash_password(pw)
    assert verify_password(pw, stored)
    assert not verify_password("pass", stored)


def test_unicode_normalisation_makes_equivalent_forms_match():
    composed, decomposed = "Café-crème-2026!", "Cafe\u0301-cre\u0300me-2026!"
    assert composed != decomposed
    assert verify_password(decomposed, hash_password(composed))


@pytest.mark.parametrize("length, ok", [(MIN_LENGTH - 1, False), (MIN_LENGTH, True), (64, True),
                                        (MAX_LENGTH, True), (MAX_LENGTH + 1, False)])
def test_length_bounds(length, ok):
    pw = ("Zk7q-" * 40)[:length]
    assert (policy_errors(pw) == []) is ok


def test_length_is_counted_in_characters_not_bytes():
    assert policy_errors("é" * MIN_LENGTH) == []  # 12 characters, 24 bytes
    assert policy_errors("é" * (MIN_LENGTH - 1)) != []


def test_no_composition_rules():
    for pw in ("tout en minuscules sans chiffres", "ABCDEFGHIJKLMNOPQ", "zz zz zz zz zz zz"):
        assert policy_errors(pw) == [], pw


@pytest.mark.parametrize("pw", ["qwerty123456", "QWERTY123456", "1q2w3e4r5t6y", "123456123456", " qwerty123456 "])
def test_common_passwords_are_refused(pw):
    errors = policy_errors(pw)
    assert any("trop courant" in e for e in errors)


def test_email_as_password_is_refused():
    assert policy_errors("someone@example.tn", email="Someone@Example.tn")


def test_messages_are_french():
    assert policy_errors("court") == ["Le mot de passe doit contenir au moins 12 caractères."]
    assert policy_errors("x" * 129) == ["Le mot de passe ne peut pas dépasser 128 caractères."]


def test_common_password_list_is_large():
    assert len(passwords.common_passwords()) > 10_000
