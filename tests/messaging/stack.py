"""Processes of the split shape for messaging tests: the moto server, a PostgreSQL database per
service, Celery workers, and one-off commands run as a given service."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from contextlib import closing
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with closing(socket.socket()) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


class MotoServer:
    def __init__(self, log_dir: Path, port: int | None = None):
        self.port = port or free_port()
        self.log = log_dir / f"moto-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


class SplitStack:
    """Environment and processes for running services in the split shape against moto."""

    def __init__(self, moto: MotoServer, log_dir: Path, db_prefix: str):
        self.moto = moto
        self.log_dir = log_dir
        self.db_prefix = db_prefix
        self.resource_prefix = f"t{uuid.uuid4().hex[:8]}-"
        self.workers: dict[str, subprocess.Popen] = {}
        self.traces_dir = log_dir / "traces"
        self.extra_env: dict[str, str] = {}

    def database_url(self, service: str) -> str:
        return PG_URL.rsplit("/", 1)[0] + f"/{self.db_prefix}_split_{service}"

    def env(self, service: str, **overrides: str) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "SERVICE": service,
            "DATABASE_URL": self.database_url(service),
            "AWS_ENDPOINT_URL": self.moto.endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "AWS_RESOURCE_PREFIX": self.resource_prefix,
            "CELERY_BROKER_URL": f"sqs://test:test@127.0.0.1:{self.moto.port}",
            "CELERY_SQS_WAIT_TIME_SECONDS": "1",
            "EVENTS_MAX_RECEIVES": "3",
            "EVENTS_RETRY_BACKOFF": "1,1,1",
            "CELERY_VISIBILITY_TIMEOUT": "60",
            "LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
            # Spans as the local stack writes them (one file per process), here per test run;
            # exported every 0.2 s so a test reads them back soon after the work.
            "TRACING_EXPORTER": "file",
            "TRACING_FILE_DIR": str(self.traces_dir),
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            **self.extra_env,
        }
        env.pop("DJANGO_DEBUG", None)
        env.update(overrides)
        return env

    def create_database(self, service: str) -> None:
        name = f"{self.db_prefix}_split_{service}"
        with psycopg.connect(PG_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
        self.manage(service, "migrate", "--noinput", "-v", "0")

    def drop_database(self, service: str) -> None:
        with psycopg.connect(PG_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.db_prefix}_split_{service}" WITH (FORCE)')

    def manage(self, service: str, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env(service, **env),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} as {service} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def shell(self, service: str, code: str, **env: str) -> str:
        return self.manage(service, "shell", "-c", code, **env).stdout

    def start_worker(self, service: str) -> None:
        log = self.log_dir / f"worker-{service}.log"
        self.workers[service] = subprocess.Popen(
            [
                str(BIN / "celery"),
                "-A",
                "config",
                "worker",
                "-Q",
                f"shopstack-{service}",
                "--pool",
                "threads",
                "--concurrency",
                "2",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            env=self.env(service),
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while " ready." not in log.read_text(errors="replace"):
            if self.workers[service].poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker {service} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)

    def start_web(self, service: str, **env: str) -> str:
        """Serve `service`'s HTTP API with gunicorn on a free port; returns its base URL."""
        port = free_port()
        log = self.log_dir / f"web-{service}.log"
        self.workers[f"{service}-web"] = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--worker-class",
                "gthread",
                "--workers",
                "1",
                "--threads",
                "4",
            ],
            cwd=ROOT,
            env=self.env(service, **env),
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_for_port(port, timeout=60)
        return f"http://127.0.0.1:{port}"

    def stop_worker(self, service: str) -> None:
        process = self.workers.pop(service, None)
        if process and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()

    def stop(self) -> None:
        for service in list(self.workers):
            self.stop_worker(service)

    def query(self, service: str, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.database_url(service)) as connection:
            return connection.execute(sql, params).fetchall()


def eventually(predicate, *, timeout: float = 30, interval: float = 0.3, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}; last value: {value!r}")
        time.sleep(interval)
