"""What a long-lived process (a gunicorn worker, a Celery worker's child) does once its code is
loaded and before it serves: put everything start-up built in the garbage collector's permanent
generation.

Django's apps and models, the URL patterns and the views they import, DRF, the SDKs and the
instrumentations (about 125,000 objects in the catalog service) live as long as the process, yet
every full collection walked all of them again: 58 ms with every thread of the worker held (the
GIL), every few thousand requests, about 2 % of an uncached catalog list request's CPU
(docs/benchmarks.md). Frozen, they are never examined again; what requests and tasks allocate is
collected as before. A cycle among the frozen objects that became garbage later would never be
freed; start-up objects do not become garbage."""

from __future__ import annotations

import gc

from django.urls import get_resolver


def freeze_loaded_objects() -> None:
    # The URLconf is loaded on the first request otherwise: load it (and every view) now, so its
    # objects are frozen with the rest.
    get_resolver().url_patterns  # noqa: B018
    gc.collect()
    gc.freeze()
