"""The Celery app. In the split shape each service's worker consumes that service's own SQS
queue (its commands and the events its subscription lets through)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("shopstack")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
