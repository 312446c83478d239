"""The web and worker processes freeze what start-up built (apps.core.startup) before they serve."""

from __future__ import annotations

import os
import subprocess
import sys
import weakref
from pathlib import Path

from celery.signals import worker_process_init

import config.celery

ROOT = Path(__file__).resolve().parents[2]


def test_the_wsgi_application_starts_with_its_loaded_objects_frozen_views_included():
    probe = (
        "import gc, config.wsgi, apps.catalog.api.views as views; "
        "frozen = gc.get_freeze_count(); "
        "print(frozen, any(obj is views.ProductListView for obj in gc.get_objects()))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "TRACING_EXPORTER": "none"}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120
    )

    frozen, views_still_tracked = result.stdout.split()
    assert int(frozen) > 10_000
    assert views_still_tracked == "False"  # the views were loaded before the freeze, not after


def test_a_worker_child_freezes_on_start():
    receivers = [
        receiver() if isinstance(receiver, weakref.ReferenceType) else receiver
        for _, receiver in worker_process_init.receivers
    ]
    assert config.celery._freeze_loaded_objects in receivers
