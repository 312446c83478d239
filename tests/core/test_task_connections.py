"""A worker keeps its database connections from task to task, as a web process keeps them from
request to request (CONN_MAX_AGE, health checks), instead of Celery's Django fixup opening a new
PostgreSQL connection for every task."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from celery import Task, current_app, shared_task, signals
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker_fixup() -> Iterator[DjangoWorkerFixup]:
    """Celery's fixup as a worker installs it (with this project's settings), for this test only."""
    fixup = DjangoWorkerFixup(current_app)
    signals.task_prerun.connect(fixup.on_task_prerun)
    signals.task_postrun.connect(fixup.on_task_postrun)
    yield fixup
    signals.task_prerun.disconnect(fixup.on_task_prerun)
    signals.task_postrun.disconnect(fixup.on_task_postrun)


@pytest.fixture
def persistent_connections(settings) -> Iterator[None]:
    # The test settings close connections after each request; a worker's keep them a minute.
    connection.close()
    previous = connection.settings_dict["CONN_MAX_AGE"], connection.settings_dict["CONN_HEALTH_CHECKS"]
    connection.settings_dict["CONN_MAX_AGE"], connection.settings_dict["CONN_HEALTH_CHECKS"] = 60, True
    yield
    connection.settings_dict["CONN_MAX_AGE"], connection.settings_dict["CONN_HEALTH_CHECKS"] = previous
    connection.close()


@shared_task(name="tests.core.backend_pid")
def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _run_task(task: Task) -> int:
    """What a worker thread does around one task it took from the broker (not eager): the
    signals, and the task's queries in between."""
    task.push_request(is_eager=False, id="t")
    try:
        signals.task_prerun.send(sender=task, task_id="t", task=task, args=(), kwargs={})
        backend = task.run()
        signals.task_postrun.send(
            sender=task, task_id="t", task=task, args=(), kwargs={}, retval=backend, state="SUCCESS"
        )
    finally:
        task.pop_request()
    return backend


def _worker_task() -> Task:
    return backend_pid


def test_tasks_one_after_another_use_one_postgresql_connection(worker_fixup, persistent_connections):
    task = _worker_task()
    backends = {_run_task(task) for _ in range(5)}
    assert len(backends) == 1


def test_a_connection_past_its_max_age_is_replaced_before_the_next_task(worker_fixup, persistent_connections):
    task = _worker_task()
    first = _run_task(task)
    connection.close_at = 0  # as if CONN_MAX_AGE had passed since it was opened
    assert _run_task(task) != first


def test_a_connection_broken_while_idle_is_replaced_not_used(worker_fixup, persistent_connections):
    task = _worker_task()
    first = _run_task(task)
    # Another session ends this one while the worker waits for its next task, as a failover would.
    params = connection.get_connection_params()
    with psycopg.connect(**{**params, "autocommit": True}) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
    assert _run_task(task) != first
