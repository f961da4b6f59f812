import base64

import pytest

from dhamen.config import ConfigError, load_config

KEY_A = base64.b64encode(b"A" * 32).decode()
KEY_B = base64.b64encode(b"B" * 32).decode()
PROD = {
    "ENVIRONMENT": "production",
    "SECRET_KEY": "s" * 48,
    "JWT_SECRET": "j" * 48,
    "DATABASE_URL": "postgresql://u@db/dhamen",
    "REDIS_URL": "redis://cache:6379/0",
    "STORAGE_URL": "s3://dhamen-files",
    "S3_ENDPOINT_URL": "http://s3:8333",
    "DATA_ENCRYPTION_KEY": KEY_A,
    "LOOKUP_HMAC_KEY": KEY_B,
    "SMS_SENDER": "http",
    "SMS_API_URL": "https://sms.example/api",
    "SMTP_HOST": "smtp.example",
    "MAIL_FROM": "Dhamen <no-reply@dhamen.tn>",
    "PUBLIC_BASE_URL": "https://dhamen.example",
}


def test_spec_defaults_in_development(tmp_path):
    s = load_config({}, instance_path=str(tmp_path))
    assert s.environment == "development"
    assert (s.api_version, s.jwt_issuer, s.jwt_expires_in, s.refresh_expires_in) == ("v1", "dhamen", 900, 86400)
    assert s.database_url.startswith("sqlite:///")
    assert s.embedded_redis and s.storage.kind == "local"
    assert s.api_session_absolute_hours == 168
    assert load_config({"API_SESSION_ABSOLUTE_HOURS": "24"}, instance_path=str(tmp_path)).api_session_absolute_hours == 24


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "JWT_SECRET", "DATABASE_URL", "REDIS_URL", "STORAGE_URL", "DATA_ENCRYPTION_KEY", "LOOKUP_HMAC_KEY"]
)
@pytest.mark.parametrize("environment", ["staging", "production"])
def test_missing_variable_stops_the_app_naming_it(missing, environment):
    env = dict(PROD, ENVIRONMENT=environment)
    del env[missing]
    with pytest.raises(ConfigError, match=missing):
        load_config(env)


def test_production_config_complete():
    s = load_config(PROD)
    assert s.storage.kind == "s3" and s.storage.bucket == "dhamen-files"
    assert s.database_url.startswith("postgresql+psycopg://")
    assert not s.embedded_redis


@pytest.mark.parametrize(
    "override, message",
    [
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"JWT_EXPIRES_IN": "abc"}, "JWT_EXPIRES_IN"),
        ({"JWT_EXPIRES_IN": "0"}, "JWT_EXPIRES_IN"),
        ({"DATA_ENCRYPTION_KEY": "not base64!"}, "DATA_ENCRYPTION_KEY"),
        ({"DATA_ENCRYPTION_KEY": base64.b64encode(b"x" * 16).decode()}, "32 octets"),
        ({"LOOKUP_HMAC_KEY": KEY_A}, "distincte"),
        ({"STORAGE_URL": "ftp://x"}, "STORAGE_URL"),
        ({"ENVIRONMENT": "prod"}, "ENVIRONMENT"),
        ({"SMS_SENDER": "log"}, "SMS_SENDER"),
        ({"API_SESSION_ABSOLUTE_HOURS": "0"}, "API_SESSION_ABSOLUTE_HOURS"),
        ({"API_SESSION_ABSOLUTE_HOURS": "une semaine"}, "API_SESSION_ABSOLUTE_HOURS"),
    ],
)
def test_invalid_values_are_refused(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(dict(PROD, **override))


def test_development_secrets_refused_outside_development():
    from dhamen.config import _DEV_SECRET_KEY

    with pytest.raises(ConfigError, match="développement"):
        load_config(dict(PROD, SECRET_KEY=_DEV_SECRET_KEY))


def test_keyring_rotation_first_key_encrypts():
    s = load_config(dict(PROD, DATA_ENCRYPTION_KEY=f"k2:{KEY_A},k1:{base64.b64encode(b'C' * 32).decode()}"))
    assert s.data_encryption_key_id == "k2" and set(s.data_encryption_keys) == {"k1", "k2"}


def test_create_app_refuses_incomplete_production(tmp_path):
    from dhamen import create_app

    with pytest.raises(ConfigError, match="REDIS_URL"):
        create_app({k: v for k, v in PROD.items() if k != "REDIS_URL"}, instance_path=str(tmp_path))


def test_mail_sender_log_in_development_smtp_elsewhere(tmp_path):
    dev = load_config({}, instance_path=str(tmp_path))
    assert dev.mail.kind == "log" and dev.public_base_url is None
    prod = load_config(PROD)
    assert (prod.mail.kind, prod.mail.host, prod.mail.port, prod.mail.security) == ("smtp", "smtp.example", 587,
                                                                                    "starttls")
    assert load_config(dict(PROD, SMTP_SECURITY="ssl")).mail.port == 465
    assert load_config({"SMTP_HOST": "localhost", "MAIL_FROM": "a@b.tn"}, instance_path=str(tmp_path)).mail.kind == "smtp"


@pytest.mark.parametrize(("override", "message"), [
    ({"SMTP_HOST": ""}, "SMTP_HOST"),
    ({"MAIL_FROM": ""}, "MAIL_FROM"),
    ({"MAIL_SENDER": "log"}, "MAIL_SENDER=log"),
    ({"MAIL_SENDER": "pigeon"}, "MAIL_SENDER"),
    ({"SMTP_SECURITY": "none"}, "SMTP_SECURITY"),
    ({"SMTP_SECURITY": "tls13"}, "SMTP_SECURITY"),
    ({"SMTP_USERNAME": "u"}, "SMTP_USERNAME"),
    ({"SMTP_PORT": "99999"}, "SMTP_PORT"),
    ({"SMTP_PORT": "abc"}, "SMTP_PORT"),
    ({"PUBLIC_BASE_URL": ""}, "PUBLIC_BASE_URL"),
    ({"PUBLIC_BASE_URL": "http://dhamen.example"}, "PUBLIC_BASE_URL"),
])
def test_mail_configuration_checked_at_start(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(dict(PROD, **override))
