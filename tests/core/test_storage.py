import pytest

from dhamen.core.storage import LocalStorage, StorageError


def test_local_roundtrip(tmp_path):
    s = LocalStorage(str(tmp_path))
    s.put("reconciliations/2026/01/x.pdf", b"%PDF-1.7")
    assert s.exists("reconciliations/2026/01/x.pdf")
    assert s.get("reconciliations/2026/01/x.pdf") == b"%PDF-1.7"
    s.delete("reconciliations/2026/01/x.pdf")
    assert not s.exists("reconciliations/2026/01/x.pdf")


@pytest.mark.parametrize("key", ["../etc/passwd", "a/../../b", "/abs", "", "a//b", "a\\b"])
def test_bad_keys_refused(tmp_path, key):
    with pytest.raises(StorageError):
        LocalStorage(str(tmp_path)).put(key, b"x")


def test_configured_backend_roundtrip(ctx):
    """Runs against the local folder, or the real S3 server in CI's second pass."""
    from dhamen.core.services import services

    storage = services().storage
    storage.put("tests/hello.txt", "bonjour é".encode(), "text/plain")
    assert storage.exists("tests/hello.txt")
    assert storage.get("tests/hello.txt").decode() == "bonjour é"
    storage.delete("tests/hello.txt")
    assert not storage.exists("tests/hello.txt")
    storage.probe()


def test_s3_unreachable_raises_storage_error():
    from dhamen.config import StorageSettings
    from dhamen.core.storage import S3Storage

    s = S3Storage(StorageSettings(kind="s3", endpoint_url="http://127.0.0.1:9", access_key_id="a", secret_access_key="b"),
                  connect_timeout=0.5, read_timeout=0.5)
    with pytest.raises(StorageError):
        s.put("x.txt", b"x")
    with pytest.raises(StorageError):
        s.probe()
