"""Liveness of the Celery roles, for deploy/healthcheck.py: the worker's consumer loop and beat's
scheduler loop each touch a heartbeat file every HEARTBEAT_SECONDS; a file older than
healthcheck.HEARTBEAT_MAX_AGE means the loop is stuck, not only that the process is alive.

    celery --app deploy.heartbeat worker ...                                   (deploy/entrypoint.py)
    celery --app deploy.heartbeat beat --scheduler deploy.heartbeat:HeartbeatScheduler ...

`app` is the project's Celery app with the consumer step added; nothing else changes.

All-in-one (TASKS_RUN_IN_PROCESS: no broker, no worker), beat runs each due task itself, in its own
process, as the all-in-one shape runs every other task: the scheduler container of the all-in-one
ECS task is the shop's periodic work (the outbox sweep, retention, deadlines, reconciliation).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from celery import bootsteps
from celery.beat import PersistentScheduler, ScheduleEntry
from django.conf import settings

from config.celery import app
from deploy.healthcheck import HEARTBEAT_FILE, HEARTBEAT_SECONDS

logger = logging.getLogger(__name__)


def touch(path: Path = HEARTBEAT_FILE) -> None:
    path.touch()


class ConsumerHeartbeat(bootsteps.StartStopStep):
    """A timer of the consumer's own event loop: it fires only while that loop turns."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.timer_entry = None

    def start(self, consumer: Any) -> None:
        touch()
        self.timer_entry = consumer.timer.call_repeatedly(HEARTBEAT_SECONDS, touch, priority=10)

    def stop(self, consumer: Any) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None


class HeartbeatScheduler(PersistentScheduler):
    """Beat's scheduler, waking at least every HEARTBEAT_SECONDS and touching the file each time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_interval = min(self.max_interval, HEARTBEAT_SECONDS)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        touch()
        return super().tick(*args, **kwargs)

    def apply_async(self, entry: ScheduleEntry, producer: Any = None, advance: bool = True, **kwargs: Any) -> Any:
        if not settings.TASKS_RUN_IN_PROCESS:
            return super().apply_async(entry, producer=producer, advance=advance, **kwargs)
        # No broker to send it to: run it here (Celery's eager apply, retries included), after
        # recording the run so that a failing task is not run again on every tick.
        entry = self.reserve(entry) if advance else entry
        result = self.app.tasks[entry.task].apply(args=entry.args, kwargs=entry.kwargs)
        if result.failed():
            logger.error("periodic task %s failed: %r", entry.task, result.result)
        return result


app.steps["consumer"].add(ConsumerHeartbeat)
