"""The rate limiter is one object shared by every app of the process."""

from dhamen import create_app
from dhamen.extensions import limiter


def test_a_second_app_does_not_take_over_the_first_apps_limits(app, client, app_env, tmp_path):
    other = create_app(dict(app_env, DHAMEN_INSTANCE_PATH=str(tmp_path), REDIS_URL="redis://127.0.0.1:9/0"))
    assert other is not app
    # The first app still counts its limits in its own storage: a normal answer, not a 503.
    r = client.post("/api/v1/auth/login", json={"email": "personne@exemple.tn", "password": "x" * 12})
    assert r.status_code == 401, r.get_data(as_text=True)
    # And the second app really uses its own (dead) Redis for its limits.
    r = other.test_client().post("/api/v1/auth/login", json={"email": "personne@exemple.tn", "password": "x" * 12})
    assert r.status_code == 503


def test_the_api_limit_is_registered_once_whatever_the_number_of_apps(app_env, tmp_path):
    for n in range(3):
        create_app(dict(app_env, DHAMEN_INSTANCE_PATH=str(tmp_path / str(n))))
    manager = getattr(limiter, "limit_manager", limiter)
    assert len(manager._blueprint_limits["api"]) == 1
