"""The container's entrypoint, gunicorn settings, health check and Dockerfile: what each role
execs, and that the timeouts agree with the load balancer and ECS settings in the templates."""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import dj_database_url
import pytest
from gunicorn.config import Config

from config.services import SERVICES
from tests.deploy.templates import ROOT, load


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"deploy_{name}", ROOT / "deploy" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


entrypoint = _module("entrypoint")
healthcheck = _module("healthcheck")


# --- entrypoint -----------------------------------------------------------------------------------


def test_web_runs_gunicorn_with_the_deploy_config():
    command = entrypoint.build_command("web", service="catalog", env={})
    assert command == ["gunicorn", "--config", str(ROOT / "deploy" / "gunicorn.conf.py"), "config.wsgi:application"]


@pytest.mark.parametrize("service", list(SERVICES))
def test_worker_consumes_only_its_own_queue_without_broadcast_features(service):
    command = entrypoint.build_command("worker", service=service, env={"CELERY_CONCURRENCY": "3"})
    # deploy.heartbeat is config.celery's app with the heartbeat the health check reads.
    assert command[:4] == ["celery", "--app", "deploy.heartbeat", "worker"]
    assert command[command.index("--queues") + 1] == SERVICES[service].queue
    assert command[command.index("--concurrency") + 1] == "3"
    for flag in ("--without-gossip", "--without-mingle", "--without-heartbeat"):
        assert flag in command


def test_beat_relay_migrate_and_manage():
    assert entrypoint.build_command("beat", service="orders", env={})[:4] == [
        "celery",
        "--app",
        "deploy.heartbeat",
        "beat",
    ]
    beat = entrypoint.build_command("beat", service="orders", env={})
    assert beat[beat.index("--scheduler") + 1] == "deploy.heartbeat:HeartbeatScheduler"
    assert beat[beat.index("--schedule") + 1].startswith("/tmp/")
    manage = [sys.executable, str(ROOT / "manage.py")]
    assert entrypoint.build_command("relay", service="orders", env={}) == [*manage, "relay_outbox", "--loop"]
    # migrate runs under deploy/migrate.py: one at a time, with lock and statement timeouts.
    assert entrypoint.build_command("migrate", service="orders", env={}) == [
        sys.executable,
        str(ROOT / "deploy" / "migrate.py"),
    ]
    assert entrypoint.build_command("manage", service="orders", env={}, extra=["showmigrations"]) == [
        *manage,
        "showmigrations",
    ]


def test_celery_settings_the_worker_relies_on():
    from django.conf import settings

    assert settings.CELERY_TASK_ACKS_LATE is True
    # A few messages a thread: enough to hide the SQS round trip between tasks, few enough that
    # a worker lost with them in hand delays little (they come back after the visibility timeout).
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 4
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True


@pytest.mark.parametrize(
    ("role", "service", "message"),
    [
        ("web", None, "SERVICE is not set"),
        ("web", "shipping", "'shipping' is not a ShopStack service"),
        ("dance", "users", "unknown role 'dance'"),
        ("manage", "users", "needs a management command"),
    ],
)
def test_bad_configuration_is_refused_with_a_clear_message(role, service, message):
    with pytest.raises(entrypoint.EntrypointError, match=message):
        entrypoint.build_command(role, service=service, env={})


def test_unknown_service_exits_non_zero_before_anything_starts():
    env = {**os.environ, "SERVICE": "shipping"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "entrypoint.py"), "web"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "SERVICE='shipping' is not a ShopStack service" in result.stderr
    assert "users, catalog, orders, payments, notifications" in result.stderr


def test_entrypoint_execs_the_built_command(monkeypatch):
    calls = []
    monkeypatch.setenv("SERVICE", "payments")
    monkeypatch.setattr(entrypoint.os, "execvpe", lambda file, args, env: calls.append((file, args, env)))
    monkeypatch.setattr(entrypoint.os, "chdir", lambda path: None)
    assert entrypoint.main(["worker"]) == 0
    ((file, args, env),) = calls
    assert file == "celery" and "shopstack-payments" in args
    assert env["DJANGO_SETTINGS_MODULE"] in {"config.settings.production", os.environ.get("DJANGO_SETTINGS_MODULE")}


def test_database_url_is_assembled_from_the_injected_secret():
    env = {
        "DATABASE_HOST": "db.internal",
        "DATABASE_PORT": "5432",
        "DATABASE_NAME": "orders",
        "DATABASE_USER": "shopstack_orders",
        "DATABASE_PASSWORD": "p@ss:w/rd#?%",
    }
    prepared = entrypoint.prepare_environment(env)
    assert "DATABASE_PASSWORD" not in prepared
    assert prepared["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    parsed = dj_database_url.parse(prepared["DATABASE_URL"])
    assert (parsed["HOST"], parsed["PORT"], parsed["NAME"]) == ("db.internal", 5432, "orders")
    assert (parsed["USER"], parsed["PASSWORD"]) == ("shopstack_orders", "p@ss:w/rd#?%")
    assert parsed["OPTIONS"]["sslmode"] == "require"
    assert entrypoint.database_url({"DATABASE_URL": "postgres://x@y/z", "DATABASE_HOST": "h"}) == "postgres://x@y/z"
    assert entrypoint.database_url({}) is None


# --- gunicorn -------------------------------------------------------------------------------------


def _gunicorn_settings(monkeypatch, **env: str) -> dict:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    namespace: dict = {}
    exec(compile((ROOT / "deploy" / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)
    return namespace


def test_gunicorn_settings(monkeypatch):
    conf = _gunicorn_settings(monkeypatch, PORT="8123")
    assert conf["worker_class"] == "gthread"
    assert conf["bind"] == "0.0.0.0:8123"
    assert conf["worker_tmp_dir"] == "/dev/shm"
    assert conf["keepalive"] == 75
    assert conf["graceful_timeout"] == 25
    # gunicorn itself accepts every setting we define.
    config = Config()
    for key, value in conf.items():
        if key in config.settings:
            config.set(key, value)
    assert config.worker_class_str == "gthread"
    assert config.keepalive == 75


def test_gunicorn_timeouts_fit_the_load_balancer_and_ecs(monkeypatch):
    conf = _gunicorn_settings(monkeypatch)
    platform, service = load("platform"), load("service")
    attributes = {
        item["Key"]: item["Value"]
        for item in platform["Resources"]["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]
    }
    idle_timeout = int(attributes["idle_timeout.timeout_seconds"])
    web = service["Resources"]["WebTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    assert idle_timeout == conf["ALB_IDLE_TIMEOUT_SECONDS"]
    assert web["StopTimeout"] == conf["ECS_STOP_TIMEOUT_SECONDS"]
    assert conf["keepalive"] > idle_timeout
    assert conf["graceful_timeout"] < web["StopTimeout"]


def _access_line(monkeypatch, *, path: str, query: str, user_agent: str) -> str:
    """The line gunicorn writes for one request, with the project's settings and logger class."""
    conf = _gunicorn_settings(monkeypatch)
    config = Config()
    for key in ("access_log_format", "logger_class", "accesslog"):
        config.set(key, conf[key])
    logger = config.logger_class(config)
    written: list[str] = []
    monkeypatch.setattr(logger.access_log, "info", lambda fmt, atoms: written.append(fmt % atoms))
    request = SimpleNamespace(
        headers=[("USER-AGENT", user_agent), ("X-FORWARDED-FOR", "203.0.113.9")],
        method="GET",
        path=path,
        query=query,
        uri=f"{path}?{query}",
        version=(1, 1),
    )
    response = SimpleNamespace(status="200 OK", response_length=12, headers=[("X-Request-ID", "req-1")], sent=12)
    environ = {
        "HTTP_USER_AGENT": user_agent,
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"{path}?{query}",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    logger.access(response, request, environ, datetime.timedelta(milliseconds=7))
    assert len(written) == 1
    return written[0]


def test_access_log_lines_are_json_without_credentials_or_card_numbers(monkeypatch):
    # Given a request whose query holds a credential, whose path holds a card number, and whose
    # user agent would break a naive JSON line
    line = _access_line(
        monkeypatch,
        path="/api/v1/orders/orders/4242424242424242/",
        query="token=s3cr3t-order-access&cursor=abc",
        user_agent='evil "agent"\\ \x01',
    )

    # Then gunicorn's line is one valid JSON object with neither secret in it
    entry = json.loads(line)
    assert entry["status"] == 200 and entry["method"] == "GET" and entry["request_id"] == "req-1"
    assert entry["user_agent"] == 'evil "agent"\\ \x01'
    assert "s3cr3t" not in line and "4242424242424242" not in line
    assert entry["path"] == "/api/v1/orders/orders/[card number redacted]/"


def test_task_definitions_run_the_roles():
    service = load("service")["Resources"]
    commands = {
        name: service[name]["Properties"]["ContainerDefinitions"][0]["Command"]
        for name in ("WebTaskDefinition", "WorkerTaskDefinition", "SchedulerTaskDefinition", "MigrateTaskDefinition")
    }
    assert commands == {
        "WebTaskDefinition": ["web"],
        "WorkerTaskDefinition": ["worker"],
        "SchedulerTaskDefinition": ["beat"],
        "MigrateTaskDefinition": ["migrate"],
    }
    for name in commands:
        container = service[name]["Properties"]["ContainerDefinitions"][0]
        env = {item["Name"]: item["Value"] for item in container["Environment"] if "Name" in item}
        assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert env["SERVICE"] == {"Ref": "ServiceName"}
        secrets = {item["Name"] for item in container["Secrets"] if "Name" in item}
        assert {"DJANGO_SECRET_KEY", "DATABASE_USER", "DATABASE_PASSWORD", "JWT_PUBLIC_KEYS"} <= secrets
        assert container["ReadonlyRootFilesystem"] is True


# --- health check and image -------------------------------------------------------------------------


def test_healthcheck_probes_http_only_where_gunicorn_runs(tmp_path: Path):
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "cmdline").write_bytes(b"celery\x00worker")
    assert healthcheck.serves_http(tmp_path) is False
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "cmdline").write_bytes(b"/opt/venv/bin/python\x00/opt/venv/bin/gunicorn\x00--config")
    assert healthcheck.serves_http(tmp_path) is True


def _stages(dockerfile: str) -> list[str]:
    return re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[1:]


def test_dockerfile_is_multi_stage_slim_non_root():
    dockerfile = (ROOT / "Dockerfile").read_text()
    builder, final = _stages(dockerfile)
    assert "AS builder" in builder.splitlines()[0]
    assert "pip install" in builder and "--require-hashes" in builder and "requirements-image.txt" in builder
    # The base from ECR Public, no Dockerfile frontend pulled from Docker Hub (issue #16, 8).
    assert re.search(r"ARG PYTHON_IMAGE=public\.ecr\.aws/docker/library/python:3\.11-slim", dockerfile)
    assert not re.search(r"^# *syntax=", dockerfile, re.MULTILINE | re.IGNORECASE)
    assert final.startswith("${PYTHON_IMAGE}")
    assert "COPY --from=builder /opt/venv /opt/venv" in final
    assert "build-essential" not in final and "gcc" not in final
    assert re.search(r"^USER app", final, re.MULTILINE)
    assert re.search(r"^STOPSIGNAL SIGTERM$", final, re.MULTILINE)
    assert "DJANGO_SETTINGS_MODULE=config.settings.production" in final
    assert 'ENTRYPOINT ["python", "/app/deploy/entrypoint.py"]' in final
    assert "HEALTHCHECK" in final


def test_the_image_build_collectstatic_step_passes_the_production_settings_checks():
    """The build's collectstatic runs under the production settings, which refuse to start on
    anything missing or insecure: its build-only values must satisfy them (no Docker here, so the
    step's own command runs with exactly the environment the Dockerfile gives it)."""
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    step = re.search(r"^RUN (.*?) python manage\.py collectstatic", dockerfile, re.MULTILINE)
    assert step, "the Dockerfile runs collectstatic in a RUN step with its environment in front"
    build_env = dict(assignment.split("=", 1) for assignment in shlex.split(step.group(1)))
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        **build_env,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--dry-run", "-v", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_dockerignore_keeps_secrets_and_local_state_out():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "var", ".env", "tests"} <= ignored
