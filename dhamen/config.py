"""Configuration, read only from the environment and checked at start-up.

Names follow the spec's ``[vars]`` (``ENVIRONMENT``, ``API_VERSION``,
``JWT_ISSUER``, ``JWT_EXPIRES_IN``, ``REFRESH_EXPIRES_IN``) plus the service
settings DESIGN.md maps the Cloudflare bindings to.  In ``development`` every
service falls back to an embedded default (SQLite file, local storage folder,
in-process Redis stand-in); in ``staging`` and ``production`` a missing secret,
key or service URL stops the app with a message naming the variable.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENVIRONMENTS = ("development", "staging", "production")

# Development-only fallbacks.  They are public on purpose: they never leave
# development because ``load_config`` refuses to start elsewhere without the
# real variables.
_DEV_SECRET_KEY = "dev-only-secret-key-not-for-production-0123456789abcdef"  # noqa: S105
_DEV_JWT_SECRET = "dev-only-jwt-secret-not-for-production-0123456789abcdef"  # noqa: S105
_DEV_DATA_KEY = base64.b64encode(b"dev-only-data-key-32-bytes-long!").decode()
_DEV_LOOKUP_KEY = base64.b64encode(b"dev-only-lookup-key-32-bytes-ok!").decode()


class ConfigError(RuntimeError):
    """Raised at start-up when the environment is incomplete or invalid."""


@dataclass(frozen=True)
class StorageSettings:
    kind: str  # "local" or "s3"
    local_path: str | None = None
    bucket: str = "dhamen-files"
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    region: str = "auto"


@dataclass(frozen=True)
class MailSettings:
    kind: str  # "log" (development) or "smtp"
    host: str | None = None
    port: int = 587
    username: str | None = None
    password: str | None = None
    security: str = "starttls"  # starttls | ssl | none
    sender: str = "Dhamen <no-reply@dhamen.tn>"
    timeout: int = 10


@dataclass(frozen=True)
class Settings:
    environment: str
    api_version: str
    jwt_issuer: str
    jwt_expires_in: int
    refresh_expires_in: int
    secret_key: str
    jwt_secret: str
    database_url: str
    redis_url: str | None
    storage: StorageSettings
    data_encryption_keys: dict[str, bytes]
    data_encryption_key_id: str
    lookup_key: bytes
    instance_path: str
    ratelimit_enabled: bool = True
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    api_session_absolute_hours: int = 168
    sms_sender: str = "log"
    sms_api_url: str | None = None
    sms_api_token: str | None = None
    mail: MailSettings = field(default_factory=lambda: MailSettings(kind="log"))
    public_base_url: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url is None

    @property
    def is_development(self) -> bool:
        return self.environment == "development"


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} doit être un nombre entier (reçu {raw!r}).") from None
    if value < minimum:
        raise ConfigError(f"{name} doit valoir au moins {minimum} (reçu {value}).")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} doit valoir true ou false (reçu {raw!r}).")


def _key(name: str, raw: str) -> bytes:
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{name} doit être une clé de 32 octets encodée en base64.") from None
    if len(key) != 32:
        raise ConfigError(f"{name} doit être une clé de 32 octets encodée en base64 (reçu {len(key)} octets).")
    return key


def parse_keyring(name: str, raw: str) -> tuple[dict[str, bytes], str]:
    """``DATA_ENCRYPTION_KEY`` is ``base64`` or ``kid:base64,kid:base64``.

    The first key encrypts; all of them decrypt, so keys can be rotated by
    putting the new one first and re-encrypting at leisure.
    """
    keys: dict[str, bytes] = {}
    current = None
    for part in [p.strip() for p in raw.split(",") if p.strip()]:
        kid, sep, b64 = part.partition(":")
        if not sep:
            kid, b64 = "1", part
        if not kid.isalnum() or len(kid) > 8:
            raise ConfigError(f"{name}: identifiant de clé invalide {kid!r} (alphanumérique, 8 caractères au plus).")
        if kid in keys:
            raise ConfigError(f"{name}: identifiant de clé {kid!r} en double.")
        keys[kid] = _key(name, b64)
        current = current or kid
    if not keys or current is None:
        raise ConfigError(f"{name} est vide.")
    return keys, current


def load_config(env: Mapping[str, str] | None = None, instance_path: str | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    environment = env.get("ENVIRONMENT", "development") or "development"
    if environment not in ENVIRONMENTS:
        raise ConfigError(f"ENVIRONMENT doit valoir development, staging ou production (reçu {environment!r}).")
    dev = environment == "development"
    instance = Path(instance_path or env.get("DHAMEN_INSTANCE_PATH") or Path.cwd() / "instance")

    missing = []

    def required(name: str, dev_default: str | None) -> str | None:
        value = env.get(name) or None
        if value is None:
            if dev:
                return dev_default
            missing.append(name)
        return value

    secret_key = required("SECRET_KEY", _DEV_SECRET_KEY)
    jwt_secret = required("JWT_SECRET", _DEV_JWT_SECRET)
    database_url = required("DATABASE_URL", f"sqlite:///{instance / 'dhamen.db'}")
    redis_url = env.get("REDIS_URL") or None
    if redis_url is None and not dev:
        missing.append("REDIS_URL")
    data_key_raw = required("DATA_ENCRYPTION_KEY", _DEV_DATA_KEY)
    lookup_raw = required("LOOKUP_HMAC_KEY", _DEV_LOOKUP_KEY)

    storage_url = env.get("STORAGE_URL") or None
    if storage_url is None and not dev:
        missing.append("STORAGE_URL")
    if missing:
        raise ConfigError(
            f"Configuration incomplète pour ENVIRONMENT={environment}: "
            + ", ".join(missing)
            + " manquant(e)s. Définissez ces variables d'environnement."
        )

    for name, value in (("SECRET_KEY", secret_key), ("JWT_SECRET", jwt_secret)):
        if not dev and len(value.encode()) < 32:
            raise ConfigError(f"{name} doit contenir au moins 32 octets aléatoires.")
        if not dev and value in (_DEV_SECRET_KEY, _DEV_JWT_SECRET):
            raise ConfigError(f"{name} ne peut pas reprendre la valeur de développement.")

    keys, current = parse_keyring("DATA_ENCRYPTION_KEY", data_key_raw)
    lookup_key = _key("LOOKUP_HMAC_KEY", lookup_raw)
    if not dev and (lookup_raw == _DEV_LOOKUP_KEY or data_key_raw == _DEV_DATA_KEY):
        raise ConfigError("DATA_ENCRYPTION_KEY et LOOKUP_HMAC_KEY ne peuvent pas reprendre les clés de développement.")
    if lookup_key in keys.values():
        raise ConfigError("LOOKUP_HMAC_KEY doit être distincte de DATA_ENCRYPTION_KEY.")

    storage = _storage(env, storage_url, instance)
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgres://")
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")

    sms_sender = env.get("SMS_SENDER") or ("log" if dev else "http")
    if sms_sender not in ("log", "http"):
        raise ConfigError(f"SMS_SENDER doit valoir log ou http (reçu {sms_sender!r}).")
    if sms_sender == "http" and not env.get("SMS_API_URL"):
        if dev:
            sms_sender = "log"
        else:
            raise ConfigError("SMS_API_URL manquant: l'envoi des codes SMS en staging/production passe par HTTP.")
    if sms_sender == "log" and not dev:
        raise ConfigError("SMS_SENDER=log est réservé au développement (les codes seraient écrits dans les journaux).")

    mail = _mail(env, dev)
    public_base_url = (env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None
    if public_base_url is None and not dev:
        raise ConfigError("PUBLIC_BASE_URL manquant : les liens envoyés par e-mail (mot de passe oublié) "
                          "ne se fondent jamais sur l'en-tête Host de la requête hors développement.")
    if public_base_url is not None and not public_base_url.startswith(("https://", "http://")):
        raise ConfigError(f"PUBLIC_BASE_URL doit commencer par https:// (reçu {public_base_url!r}).")
    if public_base_url is not None and not dev and not public_base_url.startswith("https://"):
        raise ConfigError("PUBLIC_BASE_URL doit être en https:// hors développement.")

    return Settings(
        environment=environment,
        api_version=env.get("API_VERSION") or "v1",
        jwt_issuer=env.get("JWT_ISSUER") or "dhamen",
        jwt_expires_in=_int(env, "JWT_EXPIRES_IN", 900),
        refresh_expires_in=_int(env, "REFRESH_EXPIRES_IN", 86400),
        secret_key=secret_key,
        jwt_secret=jwt_secret,
        database_url=database_url,
        redis_url=redis_url,
        storage=storage,
        data_encryption_keys=keys,
        data_encryption_key_id=current,
        lookup_key=lookup_key,
        instance_path=str(instance),
        ratelimit_enabled=_bool(env, "RATELIMIT_ENABLED", True),
        session_idle_minutes=_int(env, "SESSION_IDLE_MINUTES", 30),
        session_absolute_hours=_int(env, "SESSION_ABSOLUTE_HOURS", 12),
        api_session_absolute_hours=_int(env, "API_SESSION_ABSOLUTE_HOURS", 168),
        sms_sender=sms_sender,
        sms_api_url=env.get("SMS_API_URL") or None,
        sms_api_token=env.get("SMS_API_TOKEN") or None,
        mail=mail,
        public_base_url=public_base_url,
        extra={
            "RATELIMIT_LOGIN": env.get("RATELIMIT_LOGIN") or "30 per minute",
            "RATELIMIT_API": env.get("RATELIMIT_API") or "300 per minute",
        },
    )


def _mail(env: Mapping[str, str], dev: bool) -> MailSettings:
    """``MAIL_SENDER=smtp`` (required outside development) or ``log`` (development: mails go to the log)."""
    kind = env.get("MAIL_SENDER") or ("smtp" if env.get("SMTP_HOST") or not dev else "log")
    if kind not in ("log", "smtp"):
        raise ConfigError(f"MAIL_SENDER doit valoir log ou smtp (reçu {kind!r}).")
    if kind == "log":
        if not dev:
            raise ConfigError("MAIL_SENDER=log est réservé au développement (les liens de réinitialisation "
                              "seraient écrits dans les journaux).")
        return MailSettings(kind="log")
    host = env.get("SMTP_HOST") or None
    sender = env.get("MAIL_FROM") or None
    missing = [name for name, value in (("SMTP_HOST", host), ("MAIL_FROM", sender)) if value is None]
    if missing:
        raise ConfigError("Envoi des e-mails par SMTP : " + ", ".join(missing) + " manquant(e)s.")
    security = (env.get("SMTP_SECURITY") or "starttls").lower()
    if security not in ("starttls", "ssl", "none"):
        raise ConfigError(f"SMTP_SECURITY doit valoir starttls, ssl ou none (reçu {security!r}).")
    if security == "none" and not dev:
        raise ConfigError("SMTP_SECURITY=none est réservé au développement (mots de passe SMTP en clair).")
    username, password = env.get("SMTP_USERNAME") or None, env.get("SMTP_PASSWORD") or None
    if (username is None) != (password is None):
        raise ConfigError("SMTP_USERNAME et SMTP_PASSWORD vont ensemble.")
    port = _int(env, "SMTP_PORT", 465 if security == "ssl" else 587)
    if port > 65535:
        raise ConfigError(f"SMTP_PORT doit être un port TCP (1 à 65535, reçu {port}).")
    return MailSettings(kind="smtp", host=host, port=port, username=username, password=password,
                        security=security, sender=sender, timeout=_int(env, "SMTP_TIMEOUT", 10))


def _storage(env: Mapping[str, str], storage_url: str | None, instance: Path) -> StorageSettings:
    if storage_url is None:
        return StorageSettings(kind="local", local_path=str(instance / "storage"))
    if storage_url.startswith("file://"):
        path = storage_url.removeprefix("file://")
        if not path:
            raise ConfigError("STORAGE_URL file:// doit nommer un dossier (ex: file:///var/lib/dhamen/storage).")
        return StorageSettings(kind="local", local_path=path)
    if storage_url.startswith("s3://"):
        bucket = storage_url.removeprefix("s3://").strip("/") or "dhamen-files"
        access = env.get("S3_ACCESS_KEY_ID") or None
        secret = env.get("S3_SECRET_ACCESS_KEY") or None
        if (access is None) != (secret is None):
            raise ConfigError("S3_ACCESS_KEY_ID et S3_SECRET_ACCESS_KEY vont ensemble.")
        return StorageSettings(
            kind="s3",
            bucket=bucket,
            endpoint_url=env.get("S3_ENDPOINT_URL") or None,
            access_key_id=access,
            secret_access_key=secret,
            region=env.get("S3_REGION") or "auto",
        )
    raise ConfigError(f"STORAGE_URL doit commencer par file:// ou s3:// (reçu {storage_url!r}).")
