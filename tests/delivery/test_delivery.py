"""Delivery files: compose.yaml, the GitHub Actions workflows, .ci/deploy-env and the README.

Run by bin/test and, first, by .ci/check (the workflow's lint job and .ci/run), beside
actionlint and the schema checks.  The rules for the variables:

* named in compose.yaml: every ``${NAME}`` interpolated anywhere, and the environment keys of
  the services that run the Dhamen image (the environment of a third-party image —
  ``POSTGRES_USER``, ``AWS_ACCESS_KEY_ID`` — is that image's interface, not ours);
* named in a workflow: every ``env:`` key of a workflow, job or step (not of a service
  container) and every ``secrets.NAME`` / ``vars.NAME``, GitHub's own names aside;
* all of them are in the README's configuration tables, and every name of those tables is
  named in compose.yaml or a workflow, or its row says it is optional (« facultative »).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from dhamen.config import load_config

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
WORKFLOWS = ROOT / ".github" / "workflows"
CI_WORKFLOW = WORKFLOWS / "ci.yml"
DEPLOY_WORKFLOW = WORKFLOWS / "deploy.yml"
README = ROOT / "README.md"
VENV_BIN = Path(sys.executable).parent

NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
INTERPOLATION = re.compile(r"\$\$|\$\{([A-Z][A-Z0-9_]*)(?:(:?[-?])([^}]*))?\}")
GITHUB_OWN = re.compile(r"^(GITHUB_|RUNNER_)")

# Long-running services and the one-shots that must succeed before web and worker start.
LONG_RUNNING = {"db", "redis", "s3", "web", "worker"}
ONE_SHOTS = {"migrate", "storage-init"}


def load_yaml(path: Path):
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml(COMPOSE)


@pytest.fixture(scope="module")
def ci() -> dict:
    return load_yaml(CI_WORKFLOW)


@pytest.fixture(scope="module")
def deploy() -> dict:
    return load_yaml(DEPLOY_WORKFLOW)


# --- README ------------------------------------------------------------------------------

def readme_tables() -> tuple[set[str], set[str], set[str]]:
    """(application names, deployment/CI names, names whose row says « facultative »)."""
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Configuration.*?(?=^## )", text, flags=re.S | re.M)
    assert match, "README : section « ## Configuration » introuvable"
    app, deploy, optional = set(), set(), set()
    current = app
    for line in match.group(0).splitlines():
        if line.startswith("### "):
            current = deploy
        if not line.startswith("|") or set(line) <= set("|- "):
            continue
        first_cell = line.split("|")[1]
        names = {n for n in re.findall(r"`([^`]+)`", first_cell) if NAME.match(n)}
        current |= names
        if "facultati" in line.lower():
            optional |= names
    assert app and deploy, "README : les deux tableaux de configuration doivent nommer des variables"
    return app, deploy, optional


# --- compose.yaml --------------------------------------------------------------------------

def strings(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)
    elif isinstance(node, str):
        yield node


def interpolated_names(node) -> set[str]:
    return {m.group(1) for s in strings(node) for m in INTERPOLATION.finditer(s) if m.group(1)}


def dhamen_services(compose: dict) -> dict[str, dict]:
    return {name: svc for name, svc in compose["services"].items() if "DHAMEN_IMAGE" in str(svc.get("image", ""))}


def compose_names(compose: dict) -> set[str]:
    names = interpolated_names(compose)
    for svc in dhamen_services(compose).values():
        names |= set(svc["environment"])
    return names


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's interpolation: ``$$``, ``${X}``, ``${X:-default}``, ``${X-default}``, ``${X:?err}``."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        value = env.get(name)
        unset = value is None or (op.startswith(":") and value == "")
        if op.endswith("?") and unset:
            raise KeyError(f"{name}: {arg}")
        if op.endswith("-") and unset:
            return arg
        return value or ""

    return INTERPOLATION.sub(replace, value)


def container_env(compose: dict, service: str, dotenv: dict[str, str]) -> dict[str, str]:
    env = compose["services"][service]["environment"]
    return {key: interpolate(str(value), dotenv) for key, value in env.items()}


def fake_secrets() -> dict[str, str]:
    import base64

    return {
        "DHAMEN_IMAGE": "ghcr.io/exemple/dhamen:0123abc",
        "POSTGRES_PASSWORD": "a" * 48,
        "SECRET_KEY": "s" * 48,
        "JWT_SECRET": "j" * 48,
        "DATA_ENCRYPTION_KEY": base64.b64encode(b"d" * 32).decode(),
        "LOOKUP_HMAC_KEY": base64.b64encode(b"l" * 32).decode(),
        "S3_ACCESS_KEY_ID": "dhamen-admin",
        "S3_SECRET_ACCESS_KEY": "x" * 40,
        "SMS_API_URL": "https://sms.exemple.tn/envoi",
        "SMTP_HOST": "smtp.exemple.tn",
        "MAIL_FROM": "Dhamen <no-reply@exemple.tn>",
        "PUBLIC_BASE_URL": "https://dhamen.exemple.tn",
    }


def test_compose_runs_the_production_processes(compose):
    services = compose["services"]
    assert set(services) == LONG_RUNNING | ONE_SHOTS
    command = {name: " ".join(svc.get("command", [])) for name, svc in services.items()}
    assert command["web"].startswith("gunicorn wsgi:app --bind 0.0.0.0:8000")
    assert "rq worker" in command["worker"] and command["worker"].endswith("events reconciliation imports")
    assert services["migrate"]["command"] == ["flask", "--app", "app", "db", "upgrade"]
    assert command["storage-init"].startswith("flask --app app dhamen storage-init")
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["s3"]["image"].startswith("chrislusf/seaweedfs:")
    assert services["s3"]["command"][0] == "server" and "-s3" in services["s3"]["command"]
    assert set(dhamen_services(compose)) == {"web", "worker", "migrate", "storage-init"}


def test_the_commands_compose_runs_exist():
    from dhamen.cli import dhamen_cli

    assert "storage-init" in dhamen_cli.commands
    assert (ROOT / "wsgi.py").read_text().count("app = create_app()") == 1
    queues = re.findall(r"""Queue\(\s*["'](\w+)["']""", "".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "dhamen").rglob("*.py")))
    assert set(queues) <= {"events", "reconciliation"}, f"files RQ sans worker dans compose.yaml : {queues}"


def test_long_running_services_have_health_checks(compose):
    for name in LONG_RUNNING:
        svc = compose["services"][name]
        assert svc.get("restart") == "unless-stopped", name
        test = svc.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, f"{name} : contrôle de santé absent"


def test_one_shots_run_before_web_and_worker(compose):
    services = compose["services"]
    for one_shot in ONE_SHOTS:
        assert services[one_shot]["restart"] == "no"
        for dependent in ("web", "worker"):
            # Also what lets `docker compose up --wait` succeed once the one-shot has exited.
            assert services[dependent]["depends_on"][one_shot] == {"condition": "service_completed_successfully"}
    assert services["migrate"]["depends_on"]["db"] == {"condition": "service_healthy"}
    assert services["storage-init"]["depends_on"]["s3"] == {"condition": "service_healthy"}


def test_every_dependency_can_be_met(compose):
    """The schema does not know that a depends_on target exists or has a health check."""
    services = compose["services"]
    for name, svc in services.items():
        for target, rule in svc.get("depends_on", {}).items():
            assert target in services, f"{name} dépend d'un service inconnu : {target}"
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{name} attend {target} sain, sans contrôle de santé"
            if rule["condition"] == "service_completed_successfully":
                assert target in ONE_SHOTS


def test_dhamen_services_receive_every_application_variable(compose):
    app, _, optional = readme_tables()
    for name, svc in dhamen_services(compose).items():
        keys = set(svc["environment"])
        assert app - optional <= keys <= app, (
            f"{name} : variables du tableau absentes de compose.yaml {sorted(app - optional - keys)}, "
            f"inconnues du tableau {sorted(keys - app)}"
        )


def test_every_variable_the_configuration_reads_is_in_the_readme():
    """dhamen/config.py is the one reader of the environment: its names are the table's."""
    source = (ROOT / "dhamen" / "config.py").read_text(encoding="utf-8")
    read = set(re.findall(r"""(?:env\.get|required|_int|_bool)\((?:env, )?["']([A-Z][A-Z0-9_]*)["']""", source))
    assert {"SECRET_KEY", "DATABASE_URL", "S3_ENDPOINT_URL", "SESSION_IDLE_MINUTES"} <= read
    app, _, _ = readme_tables()
    assert read <= app, f"variables lues par dhamen/config.py absentes du README : {sorted(read - app)}"


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_compose_environment_is_a_valid_configuration(compose, environment):
    """With only the required values in .env, the containers get a configuration the app accepts."""
    dotenv = dict(fake_secrets(), ENVIRONMENT=environment)
    env = container_env(compose, "web", dotenv)
    settings = load_config(env, instance_path="/tmp/dhamen")
    assert settings.environment == environment
    assert settings.database_url == f"postgresql+psycopg://dhamen:{'a' * 48}@db:5432/dhamen"
    assert settings.redis_url == "redis://redis:6379/0"
    assert (settings.storage.kind, settings.storage.bucket, settings.storage.endpoint_url) == (
        "s3", "dhamen-files", "http://s3:8333")
    # The optional variables arrive empty: the application's defaults apply.
    assert (settings.jwt_expires_in, settings.session_idle_minutes, settings.ratelimit_enabled) == (900, 30, True)
    assert settings.sms_sender == "http"
    s3 = container_env(compose, "s3", dotenv)
    assert (s3["AWS_ACCESS_KEY_ID"], s3["AWS_SECRET_ACCESS_KEY"]) == (
        settings.storage.access_key_id, settings.storage.secret_access_key)
    db = container_env(compose, "db", dotenv)
    assert f":{db['POSTGRES_PASSWORD']}@" in settings.database_url


def test_compose_refuses_to_start_without_a_required_secret(compose):
    required = {m.group(1) for s in strings(compose) for m in INTERPOLATION.finditer(s) if (m.group(2) or "").endswith("?")}
    assert {"DHAMEN_IMAGE", "SECRET_KEY", "JWT_SECRET", "DATA_ENCRYPTION_KEY", "LOOKUP_HMAC_KEY",
            "POSTGRES_PASSWORD", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "SMS_API_URL", "SMTP_HOST",
            "MAIL_FROM", "PUBLIC_BASE_URL"} <= required
    for name in required & set(compose["services"]["web"]["environment"]):
        dotenv = fake_secrets()
        dotenv[name] = ""
        with pytest.raises(KeyError, match=name):
            container_env(compose, "web", dotenv)


# --- workflows ---------------------------------------------------------------------------

def workflow_names(workflow: dict, text: str) -> set[str]:
    names = set(workflow.get("env") or {})
    for job in workflow["jobs"].values():
        names |= set(job.get("env") or {})
        for step in job.get("steps") or []:
            names |= set(step.get("env") or {})
    names |= {m.group(2) for m in re.finditer(r"\b(secrets|vars)\.([A-Za-z_][A-Za-z0-9_]*)", text)}
    return {n for n in names if not GITHUB_OWN.match(n)}


def all_workflow_names() -> set[str]:
    names: set[str] = set()
    for path in sorted(WORKFLOWS.glob("*.yml")):
        names |= workflow_names(load_yaml(path), path.read_text(encoding="utf-8"))
    return names


def runs(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_ci_has_the_specs_four_jobs(ci):
    assert set(ci["on"]) == {"push", "pull_request"}
    jobs = ci["jobs"]
    assert set(jobs) == {"lint", "test", "deploy-staging", "deploy-prod"}
    for job, branch, environment in (("deploy-staging", "staging", "staging"), ("deploy-prod", "main", "production")):
        assert f"github.ref == 'refs/heads/{branch}'" in jobs[job]["if"]
        assert "github.event_name == 'push'" in jobs[job]["if"]
        assert set(jobs[job]["needs"]) == {"lint", "test"}
        assert jobs[job]["uses"] == "./.github/workflows/deploy.yml"
        assert jobs[job]["with"] == {"environment": environment}
        assert jobs[job]["permissions"]["packages"] == "write"


def test_ci_run_and_the_workflow_call_the_same_scripts(ci):
    assert runs(ci["jobs"]["lint"]) == [".ci/check"]
    assert runs(ci["jobs"]["test"]) == [".ci/setup", "bin/test", ".ci/integration"]
    assert set(ci["jobs"]["test"]["services"]) == {"postgres", "redis"}
    local = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    lines = [line.strip() for line in local.splitlines() if line.strip() and not line.lstrip().startswith(("#", "echo"))]
    calls = [line for line in lines if re.search(r"(\.ci/\w+|bin/test)\b", line)]
    assert [re.search(r"(\.ci/\w+|bin/test)", c).group(1) for c in calls] == [
        ".ci/setup", ".ci/check", "bin/test", ".ci/integration"]


def test_deploy_builds_pushes_migrates_then_deploys(deploy):
    job = deploy["jobs"]["deploy"]
    assert job["environment"] == "${{ inputs.environment }}"
    script = "\n".join(runs(job))
    order = ["GITHUB_SHA", ".ci/deploy-env", "docker build", "docker push", "scp compose.yaml",
             "docker compose run --rm migrate", "docker compose pull && docker compose up -d"]
    positions = [script.find(marker) for marker in order]
    assert -1 not in positions and positions == sorted(positions), dict(zip(order, positions, strict=True))
    assert job["steps"][-1]["name"] == "Déployer"


def test_readme_documents_the_workflows_deploy_command(deploy):
    command = runs(deploy["jobs"]["deploy"])[-1].strip().splitlines()[-1]
    assert command.startswith("ssh ")
    assert command in README.read_text(encoding="utf-8")


# --- variables: compose.yaml and workflows against the README -----------------------------

def test_compose_and_workflow_variables_are_in_the_readme(compose):
    app, deploy_names, _ = readme_tables()
    documented = app | deploy_names
    missing_compose = compose_names(compose) - documented
    missing_workflows = all_workflow_names() - documented
    assert not missing_compose, f"compose.yaml nomme des variables absentes du README : {sorted(missing_compose)}"
    assert not missing_workflows, f"les workflows nomment des variables absentes du README : {sorted(missing_workflows)}"


def test_every_readme_variable_is_used_or_optional(compose):
    app, deploy_names, optional = readme_tables()
    unused = (app | deploy_names) - compose_names(compose) - all_workflow_names() - optional
    assert not unused, (
        f"variables du README que ni compose.yaml ni les workflows ne nomment : {sorted(unused)} "
        "(les y passer, ou écrire « facultative » dans leur ligne)"
    )


def test_readme_check_sees_a_missing_row(compose, monkeypatch, tmp_path):
    """The comparison above fails when a row disappears (guards the README parser)."""
    text = README.read_text(encoding="utf-8")
    trimmed = tmp_path / "README.md"
    trimmed.write_text("\n".join(line for line in text.splitlines() if not line.startswith("| `LOOKUP_HMAC_KEY`")))
    monkeypatch.setattr(sys.modules[__name__], "README", trimmed)
    app, _, _ = readme_tables()
    assert "LOOKUP_HMAC_KEY" not in app
    with pytest.raises(AssertionError, match="LOOKUP_HMAC_KEY"):
        test_compose_and_workflow_variables_are_in_the_readme(compose)


# --- .ci/deploy-env: the .env the deploy job writes ---------------------------------------

def deploy_env_module():
    loader = importlib.machinery.SourceFileLoader("deploy_env", str(ROOT / ".ci" / "deploy-env"))
    spec = importlib.util.spec_from_loader("deploy_env", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def parse_dotenv(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        name, _, quoted = line.partition("=")
        assert quoted.startswith("'") and quoted.endswith("'"), line
        values[name] = quoted[1:-1]
    return values


def test_deploy_env_writes_what_compose_reads():
    module = deploy_env_module()
    compose_text = COMPOSE.read_text(encoding="utf-8")
    secrets = dict(fake_secrets(), CODECOV_TOKEN="ailleurs", GITHUB_TOKEN="ghs_x", DEPLOY_SSH_KEY="clé")
    secrets.pop("DHAMEN_IMAGE")
    secrets.pop("SMS_API_URL")
    variables = {"SMS_API_URL": "https://sms.exemple.tn/envoi", "RATELIMIT_LOGIN": "10 per minute",
                 "SECRET_KEY": "variable perdante", "SESSION_IDLE_MINUTES": ""}
    out = module.env_file(compose_text, secrets, variables,
                          {"ENVIRONMENT": "staging", "DHAMEN_IMAGE": "ghcr.io/exemple/dhamen:abc"})
    values = parse_dotenv(out)
    assert values["SECRET_KEY"] == "s" * 48  # a secret wins over a variable
    assert values["RATELIMIT_LOGIN"] == "10 per minute"
    assert values["ENVIRONMENT"] == "staging"
    assert not {"CODECOV_TOKEN", "GITHUB_TOKEN", "DEPLOY_SSH_KEY", "SESSION_IDLE_MINUTES"} & set(values)
    assert set(values) <= interpolated_names(load_yaml(COMPOSE))
    # What the deploy job writes, read by compose.yaml, is a configuration the app accepts.
    compose = load_yaml(COMPOSE)
    settings = load_config(container_env(compose, "worker", values), instance_path="/tmp/dhamen")
    assert settings.environment == "staging"
    assert settings.extra["RATELIMIT_LOGIN"] == "10 per minute"


def test_deploy_env_names_every_missing_secret():
    module = deploy_env_module()
    secrets = fake_secrets()
    for name in ("JWT_SECRET", "POSTGRES_PASSWORD"):
        secrets.pop(name)
    with pytest.raises(SystemExit, match="JWT_SECRET, POSTGRES_PASSWORD"):
        module.env_file(COMPOSE.read_text(encoding="utf-8"), secrets, {}, {"ENVIRONMENT": "production"})


@pytest.mark.parametrize("value", ["it's", "ligne\nsuivante"])
def test_deploy_env_refuses_values_it_cannot_quote(value):
    module = deploy_env_module()
    secrets = dict(fake_secrets(), SMS_API_TOKEN=value)
    with pytest.raises(SystemExit, match="SMS_API_TOKEN"):
        module.env_file(COMPOSE.read_text(encoding="utf-8"), secrets, {}, {"ENVIRONMENT": "production"})


def test_deploy_env_command_line():
    env = dict(os.environ, SECRETS_JSON=json.dumps(fake_secrets()), VARS_JSON="{}")
    result = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "deploy-env"), "--environment", "production", "--image", "img:1"],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert parse_dotenv(result.stdout)["DHAMEN_IMAGE"] == "img:1"
    result = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "deploy-env"), "--environment", "production", "--image", "img:1"],
        env=dict(env, SECRETS_JSON="{}"), capture_output=True, text=True, timeout=30, check=False,
    )
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


# --- the checkers themselves reject broken files ------------------------------------------

def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=120,
                          check=False, cwd=ROOT)


def test_actionlint_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "ci.yml"
    broken.write_text(CI_WORKFLOW.read_text(encoding="utf-8").replace("needs: [lint, test]", "needs: [lint, tset]", 1))
    result = run_tool("actionlint", "-no-color", "-shellcheck=", "-pyflakes=", str(broken))
    assert result.returncode != 0
    assert "tset" in result.stdout


def test_compose_schema_check_accepts_compose_and_rejects_a_broken_copy(tmp_path):
    assert run_tool("check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE)).returncode == 0
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text(encoding="utf-8").replace("service_completed_successfully", "service_done", 1))
    result = run_tool("check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(broken))
    assert result.returncode != 0
    assert "depends_on" in result.stdout
