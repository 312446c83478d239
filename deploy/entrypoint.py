#!/usr/bin/env python3
"""The container's entrypoint: one image runs every service in every role.

    SERVICE=<name> entrypoint.py <role> [extra arguments...]

Roles: web (gunicorn), worker (Celery on the service's own SQS queue), beat (Celery beat: the
periodic sweeps), relay (the outbox relay loop), migrate (manage.py migrate, one at a time, with
timeouts: deploy/migrate.py), manage (any other management command, for one-off tasks).
SERVICE=all is the all-in-one shape (every service in one process, SERVICE unset for Django): its
events and tasks run in the process, so it has no worker; its beat runs the periodic tasks itself
(deploy/heartbeat.py), and each service's database is DATABASE_NAME's sibling named after it.
SERVICE is checked against config.services before anything starts, and the process is replaced
(exec) by the final command so signals from ECS (SIGTERM, then SIGKILL after stopTimeout) reach
gunicorn or Celery directly.

Plain Python, no Django import: the argv is built by `build_command()`, which tests call.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config.services import SERVICES  # noqa: E402  (needs ROOT on sys.path)

ROLES = ("web", "worker", "beat", "relay", "migrate", "manage")
# SERVICE for the all-in-one shape (deploy/blocks/services.py's ALL_IN_ONE, service.yaml's ServiceName).
ALL_IN_ONE = "all"
DEFAULT_SETTINGS = "config.settings.production"
GUNICORN_CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
# Celery over SQS: gossip, mingle and heartbeats need a broadcast exchange SQS does not have;
# they would only add polling. acks_late and the prefetch are set in config/settings/base.py.
CELERY_SQS_FLAGS = ("--without-gossip", "--without-mingle", "--without-heartbeat")
# The Celery app the worker and beat load: config.celery's, with the heartbeat deploy/healthcheck.py
# reads (Celery's own heartbeats need a broadcast exchange SQS does not have).
HEARTBEAT_APP = "deploy.heartbeat"


class EntrypointError(Exception):
    """A configuration mistake: reported in one line, exit status 2."""


def build_command(role: str, *, service: str | None, env: Mapping[str, str], extra: Sequence[str] = ()) -> list[str]:
    """The argv the container execs for `role` of `service`."""
    if not service:
        raise EntrypointError(
            "SERVICE is not set; the image runs one service per container: set SERVICE to one of "
            + ", ".join(SERVICES)
            + f" (or {ALL_IN_ONE}: every service in one process)"
        )
    if service not in SERVICES and service != ALL_IN_ONE:
        raise EntrypointError(
            f"SERVICE={service!r} is not a ShopStack service; expected one of: {', '.join(SERVICES)}, {ALL_IN_ONE}"
        )
    if role not in ROLES:
        raise EntrypointError(f"unknown role {role!r}; expected one of: {', '.join(ROLES)}")
    if service == ALL_IN_ONE and role == "worker":
        raise EntrypointError(
            f"SERVICE={ALL_IN_ONE} has no worker: its tasks and events run in the process"
            " (its beat runs the periodic ones)"
        )
    loglevel = env.get("LOG_LEVEL", "INFO").upper()
    python = sys.executable or "python"
    manage = [python, str(ROOT / "manage.py")]
    if role == "web":
        return ["gunicorn", "--config", str(GUNICORN_CONFIG), "config.wsgi:application", *extra]
    if role == "worker":
        # deploy.heartbeat: the project's app plus the heartbeat the health check reads.
        return [
            "celery",
            "--app",
            HEARTBEAT_APP,
            "worker",
            "--queues",
            SERVICES[service].queue,
            "--concurrency",
            env.get("CELERY_CONCURRENCY", "4"),
            "--loglevel",
            loglevel,
            *CELERY_SQS_FLAGS,
            *extra,
        ]
    if role == "beat":
        # The schedule file goes to the writable /tmp volume (the root filesystem is read-only).
        return [
            "celery",
            "--app",
            HEARTBEAT_APP,
            "beat",
            "--scheduler",
            f"{HEARTBEAT_APP}:HeartbeatScheduler",
            "--schedule",
            env.get("CELERY_BEAT_SCHEDULE_FILE", "/tmp/celerybeat-schedule"),  # noqa: S108
            "--loglevel",
            loglevel,
            *extra,
        ]
    if role == "relay":
        return [*manage, "relay_outbox", "--loop", *extra]
    if role == "migrate":
        # manage.py migrate under an advisory lock, with lock and statement timeouts.
        return [python, str(ROOT / "deploy" / "migrate.py"), *extra]
    if not extra:
        raise EntrypointError("role 'manage' needs a management command, e.g. `manage createsuperuser`")
    return [*manage, *extra]


def database_url(
    env: Mapping[str, str], *, user_variable: str = "DATABASE_USER", name: str | None = None
) -> str | None:
    """DATABASE_URL from its parts, as ECS injects them: host/port/name as plain variables, user
    and password from the database's Secrets Manager secret. An explicit DATABASE_URL wins.
    `user_variable` names the credentials (DATABASE_ADMIN_USER: the shared instance's master, its
    password in DATABASE_ADMIN_PASSWORD) and `name` another database on the same server."""
    if env.get("DATABASE_URL") and user_variable == "DATABASE_USER" and name is None:
        return env["DATABASE_URL"]
    host = env.get("DATABASE_HOST")
    if not host:
        return None
    password_variable = user_variable.removesuffix("_USER") + "_PASSWORD"
    user = quote(env.get(user_variable, ""), safe="")
    password = quote(env.get(password_variable, ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = env.get("DATABASE_PORT", "5432")
    database = quote(name or env.get("DATABASE_NAME", "postgres"), safe="")
    sslmode = env.get("DATABASE_SSLMODE", "require")
    return f"postgres://{credentials}{host}:{port}/{database}?sslmode={sslmode}"


def prepare_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The environment the final command gets."""
    prepared = dict(env)
    prepared.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS)
    url = database_url(prepared)
    if url:
        prepared["DATABASE_URL"] = url
    if prepared.get("SERVICE") == ALL_IN_ONE:
        # Django's all-in-one shape is SERVICE unset; each service's database (same server and
        # credentials) is its <NAME>_DATABASE_URL.
        del prepared["SERVICE"]
        for name in SERVICES:
            service_url = database_url(prepared, name=name)
            if service_url:
                prepared[f"{name.upper()}_DATABASE_URL"] = service_url
    # The migrate task on a shared instance: its master, on the server's maintenance database.
    if prepared.get("DATABASE_ADMIN_USER"):
        prepared["DATABASE_ADMIN_URL"] = database_url(prepared, user_variable="DATABASE_ADMIN_USER", name="postgres")
    # Secrets are only needed to build the URLs; do not leave them lying around in the env.
    prepared.pop("DATABASE_PASSWORD", None)
    prepared.pop("DATABASE_ADMIN_PASSWORD", None)
    return prepared


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    role = args[0] if args else os.environ.get("ROLE", "web")
    extra = args[1:]
    if extra[:1] == ["--"]:
        extra = extra[1:]
    try:
        command = build_command(role, service=os.environ.get("SERVICE"), env=os.environ, extra=extra)
    except EntrypointError as error:
        print(f"entrypoint: {error}", file=sys.stderr)
        return 2
    env = prepare_environment(os.environ)
    os.chdir(ROOT)
    sys.stdout.flush()
    os.execvpe(command[0], command, env)  # noqa: S606 (exec by design: signals reach the server)
    return 0  # not reached: exec replaced the process


if __name__ == "__main__":
    sys.exit(main())
