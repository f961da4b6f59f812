from datetime import date

import pytest
import sqlalchemy as sa

from dhamen.core import crypto
from dhamen.extensions import db
from dhamen.models import Adherent


def _member(**kw):
    values = dict(national_id="08 123 456", first_name="Amira", last_name="Gharbi", date_of_birth=date(1990, 5, 4),
                  gender="F", phone="+216 98 765 432")
    values.update(kw)
    return Adherent(**values)


def test_database_holds_no_plaintext(ctx):
    db.session.add(_member())
    db.session.commit()
    row = db.session.execute(sa.text("SELECT national_id_encrypted, phone_encrypted, national_id_hash FROM adherents")).one()
    dump = " ".join(row)
    for plain in ("08123456", "08 123 456", "123456", "98 765 432", "98765432"):
        assert plain not in dump
    assert row.national_id_encrypted.startswith("1$")
    db.session.expire_all()
    m = db.session.scalar(sa.select(Adherent))
    assert m.national_id == "08123456" and m.phone == "+216 98 765 432"


def test_lookup_by_keyed_hash_with_normalisation(ctx):
    db.session.add(_member())
    db.session.commit()
    found = db.session.scalar(sa.select(Adherent).where(Adherent.national_id_hash == crypto.national_id_hash("08-123-456")))
    assert found is not None and found.first_name == "Amira"
    assert db.session.scalar(sa.select(Adherent).where(Adherent.national_id_hash == crypto.national_id_hash("08123457"))) is None


def test_each_value_gets_a_fresh_nonce(ctx):
    ring = crypto.keyring()
    assert ring.encrypt("08123456", "a") != ring.encrypt("08123456", "a")


def test_ciphertext_is_bound_to_its_column(ctx):
    ring = crypto.keyring()
    token = ring.encrypt("08123456", "adherents.national_id_encrypted")
    with pytest.raises(crypto.DecryptionError):
        ring.decrypt(token, "adherents.phone_encrypted")


def test_tampered_ciphertext_is_refused(ctx):
    ring = crypto.keyring()
    token = ring.encrypt("08123456", "x")
    kid, body = token.split("$")
    import base64

    raw = bytearray(base64.b64decode(body))
    raw[-1] ^= 1
    with pytest.raises(crypto.DecryptionError):
        ring.decrypt(kid + "$" + base64.b64encode(bytes(raw)).decode(), "x")


def test_key_rotation_old_values_still_decrypt():
    old = crypto.Keyring({"1": b"a" * 32}, "1", b"l" * 32)
    token = old.encrypt("08123456", "c")
    new = crypto.Keyring({"2": b"b" * 32, "1": b"a" * 32}, "2", b"l" * 32)
    assert new.decrypt(token, "c") == "08123456"
    assert new.encrypt("x", "c").startswith("2$")


def test_hash_depends_on_the_lookup_key():
    a = crypto.Keyring({"1": b"a" * 32}, "1", b"l" * 32)
    b = crypto.Keyring({"1": b"a" * 32}, "1", b"m" * 32)
    assert a.lookup_hash("08123456", "national_id") != b.lookup_hash("08123456", "national_id")


def test_mask():
    assert crypto.mask("08123456") == "•••••456"
    assert crypto.mask(None) == ""
