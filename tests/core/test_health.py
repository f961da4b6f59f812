import pytest

from dhamen import create_app


def test_health_shape_on_configured_services(client):
    r = client.get("/api/v1/health")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "healthy"
    assert body["version"] == "1.0.0"
    assert body["environment"] == "development"
    for name in ("database", "cache", "storage"):
        assert body["checks"][name]["status"] == "ok"
        assert isinstance(body["checks"][name]["latencyMs"], int)
    assert body["uptime"].endswith("s") or body["uptime"].endswith("m")
    assert r.headers["Cache-Control"] == "no-store"


def test_uptime_format():
    from dhamen.core.health import format_uptime

    assert format_uptime(3 * 86400 + 12 * 3600 + 45 * 60 + 7) == "3d 12h 45m"
    assert format_uptime(3600 + 60) == "1h 1m"
    assert format_uptime(65) == "1m 5s"


def _broken_app(app_env, tmp_path, **override):
    env = dict(app_env, DHAMEN_INSTANCE_PATH=str(tmp_path), **override)
    return create_app(env)


@pytest.mark.parametrize(
    "override, failed, status",
    [
        ({"DATABASE_URL": "postgresql://postgres@127.0.0.1:9/nothing"}, "database", "unhealthy"),
        ({"REDIS_URL": "redis://127.0.0.1:9/0"}, "cache", "degraded"),
        ({"STORAGE_URL": "s3://dhamen-files", "S3_ENDPOINT_URL": "http://127.0.0.1:9",
          "S3_ACCESS_KEY_ID": "a", "S3_SECRET_ACCESS_KEY": "b"}, "storage", "degraded"),
    ],
)
def test_a_failed_dependency_gives_503_naming_it(app_env, tmp_path, override, failed, status):
    app = _broken_app(app_env, tmp_path, **override)
    r = app.test_client().get("/api/v1/health")
    assert r.status_code == 503
    body = r.get_json()
    assert body["status"] == status
    assert body["failed"] == [failed]
    assert body["checks"][failed]["status"] == "error"
    assert body["checks"][failed]["error"]
    others = {"database", "cache", "storage"} - {failed}
    assert all(body["checks"][o]["status"] == "ok" for o in others)


def test_redis_stopped_for_real(app_env, tmp_path):
    """A real redis-server that goes away: the health check notices."""
    import shutil
    import socket
    import subprocess
    import time

    if not shutil.which("redis-server"):
        pytest.skip("redis-server absent")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL)
    try:
        app = _broken_app(app_env, tmp_path, REDIS_URL=f"redis://127.0.0.1:{port}/0")
        client = app.test_client()
        for _ in range(50):
            if client.get("/api/v1/health").status_code == 200:
                break
            time.sleep(0.1)
        assert client.get("/api/v1/health").status_code == 200
    finally:
        proc.kill()
        proc.wait()
    r = client.get("/api/v1/health")
    assert r.status_code == 503 and r.get_json()["failed"] == ["cache"]


def test_health_shows_the_sms_sender_and_job_mode(client):
    body = client.get("/api/v1/health").get_json()
    assert body["config"]["smsSender"] == "log"
    assert body["config"]["mailSender"] == "log"
    assert body["config"]["jobs"] in ("inline", "rq")
    assert body["config"]["storage"] in ("local", "s3")
