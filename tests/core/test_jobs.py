from dhamen.core.services import after_commit, run_inline_jobs
from dhamen.extensions import db
from dhamen.models import Insurer

CALLS = []


def job(value):
    CALLS.append(value)


def test_job_runs_only_after_commit(ctx):
    CALLS.clear()
    db.session.add(Insurer(code="TJOB", name="Test"))
    after_commit("events", job, "committed")
    assert CALLS == []
    db.session.commit()
    run_inline_jobs()
    assert CALLS == ["committed"] or ctx.app.extensions["dhamen.services"].inline_jobs is False


def test_job_dropped_on_rollback(ctx):
    CALLS.clear()
    db.session.add(Insurer(code="TJOB2", name="Test"))
    after_commit("events", job, "rolled back")
    db.session.rollback()
    db.session.commit()
    run_inline_jobs()
    assert CALLS == []


def test_unknown_queue_refused(ctx):
    import pytest

    with pytest.raises(ValueError):
        ctx.app.extensions["dhamen.services"].enqueue("nope", job, 1)
