"""``flask --app app dhamen storage-init``: the one-shot that prepares the bucket
before web and worker start (compose.yaml's ``storage-init`` service)."""

from __future__ import annotations

import uuid

from dhamen import create_app


def test_storage_init_prepares_the_configured_storage(app):
    """Local folder on the embedded defaults, the real S3 bucket in CI's second pass."""
    result = app.test_cli_runner().invoke(args=["dhamen", "storage-init", "--wait", "0"])
    assert result.exit_code == 0, result.output
    assert "Stockage prêt" in result.output
    with app.app_context():
        storage = app.extensions["dhamen.services"].storage
        storage.probe()


def test_storage_init_creates_a_missing_local_folder(tmp_path, app_env):
    target = tmp_path / "neuf" / "stockage"
    env = dict(app_env, STORAGE_URL=f"file://{target}")
    env.pop("S3_ENDPOINT_URL", None)
    result = create_app(env).test_cli_runner().invoke(args=["dhamen", "storage-init", "--wait", "0"])
    assert result.exit_code == 0, result.output
    assert target.is_dir()
    assert str(target) in result.output


def test_storage_init_creates_a_missing_bucket_and_is_idempotent(app_env):
    env = dict(app_env)
    if not env.get("STORAGE_URL", "").startswith("s3://"):
        env.update(STORAGE_URL="file://" + env["DHAMEN_INSTANCE_PATH"] + "/autre")
    else:
        env["STORAGE_URL"] = f"s3://dhamen-init-{uuid.uuid4().hex[:12]}"
    app = create_app(env)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["dhamen", "storage-init", "--wait", "0"])
    second = runner.invoke(args=["dhamen", "storage-init", "--wait", "0"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    storage = app.extensions["dhamen.services"].storage
    storage.probe()
    if storage.kind == "s3":  # leave the shared S3 server as it was
        storage._client.delete_bucket(Bucket=storage.bucket)


def test_storage_init_fails_clearly_when_s3_is_unreachable(app_env):
    env = dict(app_env, STORAGE_URL="s3://dhamen-files", S3_ENDPOINT_URL="http://127.0.0.1:9",
               S3_ACCESS_KEY_ID="a", S3_SECRET_ACCESS_KEY="b")
    result = create_app(env).test_cli_runner().invoke(args=["dhamen", "storage-init", "--wait", "0"])
    assert result.exit_code == 1
    assert "Stockage inaccessible" in result.output
