"""The Celery app. In the split shape each service's worker consumes that service's own SQS
queue (its commands and the events its subscription lets through)."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_process_init

from apps.core.startup import freeze_loaded_objects

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("shopstack")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _freeze_loaded_objects(**_: object) -> None:
    """A worker's child, forked with the tasks loaded: see apps.core.startup."""
    freeze_loaded_objects()
