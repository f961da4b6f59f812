"""users.phone is encrypted at rest; the migration encrypts existing rows and is reversible
(SQLite here, PostgreSQL in the second pass)."""

from __future__ import annotations

import sqlalchemy as sa
from db_helpers import fresh_database_url
from flask_migrate import downgrade, upgrade

from dhamen import create_app
from dhamen.extensions import db

BEFORE = "f1a2b3c4d5e6"
PHONE = "+216 98 765 432"



def _raw(column: str) -> dict:
    with db.engine.connect() as conn:
        return dict(conn.execute(sa.text(f"SELECT id, {column} FROM users ORDER BY id")).all())


class TestUsersPhoneEncryption:
    def test_migration_encrypts_existing_numbers_and_back(self, app_env, tmp_path):
        app = create_app(dict(app_env, DHAMEN_INSTANCE_PATH=str(tmp_path),
                              DATABASE_URL=fresh_database_url(app_env, tmp_path, "phone")))
        with app.app_context():
            upgrade(revision=BEFORE)
            with db.engine.begin() as conn:
                for uid, phone in (("u1", PHONE), ("u2", None)):
                    conn.execute(sa.text(
                        "INSERT INTO users (id, email, password_hash, role, first_name, last_name, phone, "
                        "mfa_enabled, is_active, created_at, updated_at) VALUES (:id, :email, 'h', 'PHARMACIST', "
                        "'A', 'B', :phone, false, true, '2026-01-01', '2026-01-01')"),
                        {"id": uid, "email": f"{uid}@t.tn", "phone": phone})
            upgrade()
            stored = _raw("phone_encrypted")
            assert stored["u2"] is None
            assert "$" in stored["u1"] and "98 765" not in stored["u1"]
            assert "phone" not in {c["name"] for c in sa.inspect(db.engine).get_columns("users")}
            from dhamen.models import User

            assert db.session.get(User, "u1").phone == PHONE
            db.session.remove()
            downgrade(revision=BEFORE)
            assert _raw("phone") == {"u1": PHONE, "u2": None}
            upgrade()
            assert db.session.get(User, "u1").phone == PHONE
            db.session.remove()
            downgrade(revision="base")
            db.engine.dispose()

    def test_new_numbers_are_stored_encrypted(self, ctx):
        from auth_helpers import make_user

        user = make_user("PHARMACIST", phone=PHONE)
        raw = _raw("phone_encrypted")[user.id]
        assert raw and PHONE not in raw and "765" not in raw
        db.session.expire_all()
        from dhamen.models import User

        assert db.session.get(User, user.id).phone == PHONE
