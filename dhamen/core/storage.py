"""Object storage: a local folder (embedded default) or any S3-compatible server.

Both backends answer the same small interface; keys are relative paths such
as ``reconciliations/2026/01/<id>.pdf``.  A failure raises ``StorageError`` so
callers fail visibly and never record a path to an object that was not
written.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from dhamen.config import StorageSettings

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,400}$")


class StorageError(RuntimeError):
    pass


def _check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key.split("/") or "//" in key:
        raise StorageError(f"clé de stockage invalide: {key!r}")
    return key


class LocalStorage:
    kind = "local"

    def __init__(self, root: str):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except OSError as exc:
            raise StorageError(f"écriture impossible dans le stockage local: {exc.strerror}") from exc

    def put_file(self, key: str, source: str | Path, content_type: str = "application/octet-stream") -> None:
        """Copy the file ``source`` under ``key`` without reading it into memory."""

        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh, open(source, "rb") as src:
                shutil.copyfileobj(src, fh)
            os.replace(tmp, path)
        except OSError as exc:
            raise StorageError(f"écriture impossible dans le stockage local: {exc.strerror}") from exc

    def open(self, key: str):
        """A binary file object to stream ``key`` from."""
        try:
            return self._path(key).open("rb")
        except OSError as exc:
            raise StorageError(f"lecture impossible: {key}") from exc

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except OSError as exc:
            raise StorageError(f"lecture impossible: {key}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"suppression impossible: {key}") from exc

    def ensure_bucket(self) -> None:
        """Counterpart of ``S3Storage.ensure_bucket``: the folder is the bucket."""
        self.probe()

    def probe(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"dossier de stockage non accessible en écriture: {self.root}")


class S3Storage:
    kind = "s3"

    def __init__(self, settings: StorageSettings, connect_timeout: float = 3, read_timeout: float = 10):
        # boto3 is slow to import and only the S3 backend needs it
        import boto3
        from botocore.config import Config

        self.bucket = settings.bucket

        def client(**config):
            return boto3.client(
                "s3",
                endpoint_url=settings.endpoint_url,
                aws_access_key_id=settings.access_key_id,
                aws_secret_access_key=settings.secret_access_key,
                region_name=None if settings.region == "auto" else settings.region,
                config=Config(s3={"addressing_style": "path"}, **config),
            )

        self._client = client(connect_timeout=connect_timeout, read_timeout=read_timeout,
                              retries={"max_attempts": 2, "mode": "standard"}, signature_version="s3v4")
        self._probe_client = client(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1})

    def _call(self, fn, **kwargs):
        # boto3 is slow to import and only the S3 backend needs it
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(Bucket=self.bucket, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"stockage S3 indisponible ou en erreur: {exc.__class__.__name__}") from exc

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._call(self._client.put_object, Key=_check_key(key), Body=data, ContentType=content_type)

    def put_file(self, key: str, source: str | Path, content_type: str = "application/octet-stream") -> None:
        """Upload the file ``source`` (multipart above a few MB) without reading it into memory."""
        # boto3 is slow to import and only the S3 backend needs it
        from boto3.exceptions import S3UploadFailedError
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.upload_file(str(source), self.bucket, _check_key(key),
                                     ExtraArgs={"ContentType": content_type},
                                     Config=TransferConfig(use_threads=False))
        except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
            raise StorageError(f"stockage S3 indisponible ou en erreur: {exc.__class__.__name__}") from exc

    def open(self, key: str):
        """A streaming body for ``key`` (``.read(n)``, ``.close()``)."""
        return self._call(self._client.get_object, Key=_check_key(key))["Body"]

    def get(self, key: str) -> bytes:
        return self._call(self._client.get_object, Key=_check_key(key))["Body"].read()

    def exists(self, key: str) -> bool:
        # boto3 is slow to import and only the S3 backend needs it
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=_check_key(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StorageError("stockage S3 en erreur") from exc

    def delete(self, key: str) -> None:
        self._call(self._client.delete_object, Key=_check_key(key))

    def ensure_bucket(self) -> None:
        """Create the bucket unless it exists; an unreachable server raises ``StorageError``."""
        # boto3 is slow to import and only the S3 backend needs it
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.head_bucket(Bucket=self.bucket)
            return
        except ClientError:
            pass  # missing (or not visible yet): try to create it
        except BotoCoreError as exc:
            raise StorageError(f"stockage S3 indisponible ou en erreur: {exc.__class__.__name__}") from exc
        self._call(self._client.create_bucket)

    def probe(self) -> None:
        self._call(self._probe_client.head_bucket)

    def presigned_url(self, key: str, expires: int = 300, filename: str | None = None) -> str:
        params = {"Bucket": self.bucket, "Key": _check_key(key)}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)


def make_storage(settings: StorageSettings):
    if settings.kind == "local":
        return LocalStorage(settings.local_path)
    return S3Storage(settings)


def timed_probe(storage) -> tuple[bool, int, str | None]:
    start = time.perf_counter()
    try:
        storage.probe()
        return True, round((time.perf_counter() - start) * 1000), None
    except Exception as exc:  # noqa: BLE001 - the health check reports any failure
        return False, round((time.perf_counter() - start) * 1000), str(exc)
