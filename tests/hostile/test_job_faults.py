"""Jobs under faults: retried with backoff, kept in RQ's failed registry after the last try,
never lost when a worker is killed mid-job, and never applied twice (issue 16)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import fakeredis
import pytest
from claims_helpers import post_claim
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from dhamen.core import services as services_module
from dhamen.core.services import JOB_RETRY_INTERVALS, Services

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def rq_services(app, conn) -> Services:
    svc = app.extensions["dhamen.services"]
    return Services(settings=svc.settings, redis=conn, storage=svc.storage, inline_jobs=False,
                    queues={name: Queue(name, connection=conn) for name in services_module.QUEUES})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TestRetriesAndFailedRegistry:
    def test_a_failing_job_is_retried_with_backoff_then_kept_as_failed(self, app):
        from jobs_for_tests import always_fails

        conn = fakeredis.FakeStrictRedis()
        svc = rq_services(app, conn)
        queue = svc.queues["events"]
        job = svc.enqueue("events", always_fails, "événement")
        assert job.retries_left == len(JOB_RETRY_INTERVALS) and job.retry_intervals == list(JOB_RETRY_INTERVALS)
        worker = SimpleWorker([queue], connection=conn)
        scheduled = ScheduledJobRegistry(queue=queue)
        for delay in JOB_RETRY_INTERVALS:
            worker.work(burst=True)
            assert job.id in scheduled.get_job_ids(), "retried later, not dropped"
            wait = (scheduled.get_scheduled_time(job.id) - datetime.now(UTC)).total_seconds()
            assert delay - 3 <= wait <= delay + 1, (delay, wait)
            scheduled.remove(job.id)  # the scheduler's part, once the delay has passed
            queue.enqueue_job(Job.fetch(job.id, connection=conn))
        worker.work(burst=True)
        failed = FailedJobRegistry(queue=queue)
        assert job.id in failed.get_job_ids()
        assert "panne simulée" in Job.fetch(job.id, connection=conn).latest_result().exc_string
        assert conn.ttl(failed.key) == -1 or conn.ttl(failed.key) > 0

    def test_the_claim_event_applies_once_however_often_delivered(self, app, client, shop):
        from dhamen.claims.events import claim_event
        from dhamen.extensions import db
        from dhamen.models import AuditLog, Claim

        assert post_claim(client, shop).status_code == 201
        claim = db.session.scalars(db.select(Claim).order_by(Claim.created_at.desc())).first()
        from dhamen.claims.serialisation import claim_event_payload

        payload = claim_event_payload({c.key: getattr(claim, c.key) for c in Claim.__table__.c}, "claim.created")
        payload["status"] = claim.status
        from claims_helpers import run_event_jobs

        run_event_jobs(app)
        r = app.extensions["dhamen.services"].redis

        def insurer_counters(insurer_id):
            return r.hgetall(f"stats:insurer:{insurer_id}")

        before = insurer_counters(claim.insurer_id)
        assert before
        for _ in range(3):  # redelivered: a retry, a requeued job of a killed worker, the sweep
            claim_event(payload)
            db.session.commit()
        assert insurer_counters(claim.insurer_id) == before
        rows = db.session.scalars(db.select(AuditLog).where(AuditLog.entity_id == claim.id,
                                                            AuditLog.action == "event.claim.created")).all()
        assert len(rows) == 1

    def test_events_that_never_ran_are_redelivered(self, app, client, shop, monkeypatch):
        from dhamen.claims.operations import claims_without_event, redeliver_missing_events
        from dhamen.extensions import db
        from dhamen.models import AuditLog

        svc = app.extensions["dhamen.services"]

        def redis_down(*_a, **_k):
            raise ConnectionError("Redis injoignable au moment de la mise en file")

        seeded = len(claims_without_event(older_than_seconds=0))  # the shop's claim, inserted without events
        monkeypatch.setattr(svc, "enqueue", redis_down)  # the request commits; its job is not queued
        assert post_claim(client, shop).status_code == 201
        monkeypatch.undo()
        assert len(claims_without_event(older_than_seconds=0)) == seeded + 1
        assert redeliver_missing_events(older_than_seconds=0) == seeded + 1
        db.session.commit()
        from claims_helpers import run_event_jobs

        run_event_jobs(app)
        assert claims_without_event(older_than_seconds=0) == []
        assert db.session.scalar(db.select(db.func.count()).select_from(AuditLog)
                                 .where(AuditLog.action == "event.claim.created")) == seeded + 1


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
class TestWorkerKilledMidJob:
    @pytest.fixture
    def own_redis(self, tmp_path):
        """A Redis of its own (never the shared ones): killing workers must disturb nobody."""
        import redis

        port = free_port()
        proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
        conn = redis.Redis(port=port)
        for _ in range(50):
            try:
                conn.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        yield conn, f"redis://127.0.0.1:{port}/0"
        proc.terminate()
        proc.wait(10)

    def _worker(self, url: str, *extra: str) -> subprocess.Popen:
        # The production worker class (the app built once, jobs in its process), on the embedded defaults.
        env = dict(os.environ, PYTHONPATH=f"{HERE}{os.pathsep}{ROOT}", ENVIRONMENT="development",
                   DHAMEN_INSTANCE_PATH=str(self.instance))
        for name in ("DATABASE_URL", "REDIS_URL", "STORAGE_URL"):
            env.pop(name, None)
        return subprocess.Popen([sys.executable, "-m", "rq.cli", "worker", "-w", "dhamen.core.jobs.AppWorker",
                                 "--url", url, *extra, "events"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)

    def test_the_job_of_a_killed_worker_runs_again(self, app, own_redis, tmp_path):
        from jobs_for_tests import slow_first_time

        self.instance = tmp_path / "instance"

        conn, url = own_redis
        svc = rq_services(app, conn)
        queue = svc.queues["events"]
        folder = tmp_path / "job"
        folder.mkdir()
        job = svc.enqueue("events", slow_first_time, str(folder), job_timeout=30)
        worker = self._worker(url)
        deadline = time.monotonic() + 60
        while not (folder / "attempt-1").exists():
            assert time.monotonic() < deadline, "the worker never started the job"
            time.sleep(0.2)
        os.kill(worker.pid, signal.SIGKILL)  # mid-job: no chance to clean up
        worker.wait(10)
        started = StartedJobRegistry(queue=queue)
        assert job.id in started.get_job_ids()
        # What the next worker's maintenance does once the dead worker's lease has run out.
        started.cleanup(timestamp=time.time() + 3600)
        assert job.id not in FailedJobRegistry(queue=queue).get_job_ids()
        scheduled = ScheduledJobRegistry(queue=queue)
        assert job.id in scheduled.get_job_ids()
        time.sleep(max(0.0, (scheduled.get_scheduled_time(job.id) - datetime.now(UTC)).total_seconds()) + 1)
        second = self._worker(url, "--with-scheduler", "--burst")
        second.wait(90)
        assert (folder / "done").read_text() == "2"
        assert Job.fetch(job.id, connection=conn).get_status() == "finished"
