"""A real health check for the Celery roles (issue #16, 13): the worker's consumer loop and beat's
scheduler loop touch a heartbeat file, the container health check reads its age, and ECS runs that
check on the worker and scheduler tasks."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.deploy.templates import ROOT, load

healthcheck = importlib.import_module("deploy.healthcheck")
heartbeat = importlib.import_module("deploy.heartbeat")


def _proc(tmp_path: Path, *argv: bytes) -> Path:
    for pid, cmdline in enumerate(argv, start=1):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cmdline").write_bytes(cmdline)
    return tmp_path


@pytest.mark.parametrize(
    ("cmdline", "role"),
    [
        (b"/opt/venv/bin/python\x00/opt/venv/bin/gunicorn\x00--config", "web"),
        (b"/opt/venv/bin/python\x00/opt/venv/bin/celery\x00--app\x00deploy.heartbeat\x00worker\x00--queues", "celery"),
        (b"/opt/venv/bin/python\x00/opt/venv/bin/celery\x00--app\x00deploy.heartbeat\x00beat", "celery"),
        (b"/usr/local/bin/python\x00/app/manage.py\x00migrate", None),
    ],
)
def test_the_check_knows_what_the_container_runs(tmp_path, cmdline, role):
    assert healthcheck.running(_proc(tmp_path, cmdline)) == role


def test_a_heartbeat_older_than_the_limit_is_unhealthy(tmp_path):
    beat = tmp_path / "heartbeat"
    assert healthcheck.heartbeat_fresh(beat) is False  # none yet
    beat.touch()
    now = time.time()
    assert healthcheck.heartbeat_fresh(beat, now=now) is True
    os.utime(beat, (now - healthcheck.HEARTBEAT_MAX_AGE - 1,) * 2)
    assert healthcheck.heartbeat_fresh(beat, now=now) is False


class _Timer:
    def __init__(self) -> None:
        self.entries: list[tuple[float, object]] = []

    def call_repeatedly(self, seconds, fun, priority=0):
        self.entries.append((seconds, fun))
        return self

    def cancel(self) -> None:
        self.entries.clear()


class _Consumer:
    def __init__(self) -> None:
        self.timer = _Timer()


def test_the_worker_beats_from_its_consumer_loop(tmp_path, monkeypatch):
    path = tmp_path / "heartbeat"
    monkeypatch.setattr(heartbeat, "touch", lambda path=path: path.touch())
    assert heartbeat.ConsumerHeartbeat in heartbeat.app.steps["consumer"]
    step = heartbeat.ConsumerHeartbeat(_Consumer())
    consumer = _Consumer()
    step.start(consumer)
    assert path.exists()  # at once, then every HEARTBEAT_SECONDS from the consumer's own timer
    [(seconds, fun)] = consumer.timer.entries
    assert seconds == healthcheck.HEARTBEAT_SECONDS
    path.unlink()
    fun()
    assert path.exists()
    step.stop(consumer)
    assert consumer.timer.entries == []


def test_beat_beats_on_every_tick_and_wakes_often_enough(tmp_path, monkeypatch):
    path = tmp_path / "heartbeat"
    monkeypatch.setattr(heartbeat, "touch", lambda path=path: path.touch())
    scheduler = heartbeat.HeartbeatScheduler(app=heartbeat.app, schedule_filename=str(tmp_path / "schedule"))
    try:
        assert scheduler.max_interval <= healthcheck.HEARTBEAT_SECONDS
        scheduler.tick()
        assert path.exists()
    finally:
        scheduler.close()


@pytest.mark.parametrize("task", ["WorkerTaskDefinition", "SchedulerTaskDefinition", "WebTaskDefinition"])
def test_ecs_runs_the_check_on_every_long_running_task(task):
    container = load("service")["Resources"][task]["Properties"]["ContainerDefinitions"][0]
    check = container["HealthCheck"]
    assert check["Command"] == ["CMD", "python", "/app/deploy/healthcheck.py"]
    # Unhealthy only after the heartbeat has been missing for longer than its limit.
    assert check["Interval"] * check["Retries"] >= healthcheck.HEARTBEAT_SECONDS
    assert check["StartPeriod"] >= healthcheck.HEARTBEAT_SECONDS


def test_a_real_worker_of_the_heartbeat_app_writes_the_file(tmp_path):
    path = tmp_path / "heartbeat"
    env = {**os.environ, "HEARTBEAT_FILE": str(path), "CELERY_BROKER_URL": "memory://"}
    command = [str(Path(sys.executable).parent / "celery"), "--app", "deploy.heartbeat", "worker", "--pool", "solo"]
    worker = subprocess.Popen(
        [*command, "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not path.exists() and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.2)
        assert path.exists()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
