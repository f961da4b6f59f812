import sqlalchemy as sa

from dhamen.extensions import db
from dhamen.models import Adherent, AuditLog, Contract, Convention, Insurer, Provider, User
from dhamen.seed.demo import DEMO_USERS, seed_demo

MODELS = (Insurer, Provider, Adherent, Contract, Convention, User, AuditLog)


def _counts():
    return {m.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in MODELS}


def test_seed_twice_changes_nothing_the_second_time(ctx):
    first = seed_demo(members=40)
    assert first.total > 0
    counts = _counts()
    snapshot = db.session.execute(sa.select(Contract.contract_number, Contract.updated_at).order_by(Contract.id)).all()
    second = seed_demo(members=40)
    assert second.total == 0
    assert _counts() == counts
    assert db.session.execute(sa.select(Contract.contract_number, Contract.updated_at).order_by(Contract.id)).all() == snapshot


def test_seed_is_realistic(ctx):
    seed_demo(members=60)
    assert {i.code for i in db.session.scalars(sa.select(Insurer))} >= {"STAR", "GAT", "COMAR"}
    providers = db.session.scalars(sa.select(Provider)).all()
    assert {p.type for p in providers} == {"pharmacist", "doctor", "lab", "clinic"}
    assert len({p.city for p in providers}) >= 5
    assert all(p.lat and p.lng for p in providers)
    contracts = db.session.scalars(sa.select(Contract)).all()
    assert {c.plan_type for c in contracts} == {"individual", "family", "corporate"}
    assert {"active", "suspended", "expired"} <= {c.status for c in contracts}
    assert any(c.carence_days > 0 for c in contracts)
    assert any(c.annual_limit is None for c in contracts) and any(c.annual_limit for c in contracts)
    assert any(c.exclusions_json for c in contracts)
    assert all(isinstance(c.annual_limit, int | None) for c in contracts)
    # some members hold contracts with two insurers
    per_member = {}
    for c in contracts:
        per_member.setdefault(c.adherent_id, set()).add(c.insurer_id)
    assert any(len(v) > 1 for v in per_member.values())
    star = db.session.scalar(sa.select(Insurer).where(Insurer.code == "STAR"))
    assert star.config_json["bareme"]["pharmacy"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Convention)) > 0
    roles = {u.role for u in db.session.scalars(sa.select(User))}
    assert roles == {r for _e, r, *_ in DEMO_USERS}


def test_no_demo_users_when_asked(ctx):
    seed_demo(members=5, with_demo_users=False)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_seed_cli_prints_demo_logins(app):
    result = app.test_cli_runner().invoke(args=["dhamen", "seed", "--members", "3"])
    assert result.exit_code == 0, result.output
    assert "admin@dhamen.tn" in result.output and "Dhamen-Demo-2026" in result.output
    again = app.test_cli_runner().invoke(args=["dhamen", "seed", "--members", "3"])
    assert "rien à ajouter" in again.output


def test_seed_cli_rejects_bad_numbers(app):
    result = app.test_cli_runner().invoke(args=["dhamen", "seed", "--claims", "-5"])
    assert result.exit_code != 0
