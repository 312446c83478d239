"""Large bulk changes from the admin, run in the background: the job is recorded, then worked
through in chunks (one transaction, one relay pass and its history entries each), its progress
saved after every chunk."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from apps.catalog.models import BulkJob
from apps.catalog.services.common import PRODUCER
from apps.catalog.services.products import products_history_log, products_set_active
from apps.core.db import atomic

logger = logging.getLogger(__name__)

_MESSAGES = {BulkJob.Action.PUBLISH: "Published (bulk job).", BulkJob.Action.UNPUBLISH: "Unpublished (bulk job)."}


def product_bulk_job_start(*, product_ids: list[Any], active: bool, user_id: int | None, username: str) -> BulkJob:
    """Record a bulk (un)publish and queue it (catalog's Celery queue; in-process all-in-one)."""
    from apps.catalog.tasks import run_product_bulk_job
    from apps.core.tasks import enqueue

    with atomic(PRODUCER):
        job = BulkJob.objects.create(
            action=BulkJob.Action.PUBLISH if active else BulkJob.Action.UNPUBLISH,
            product_ids=[str(pk) for pk in product_ids],
            total=len(product_ids),
            requested_by=username,
            requested_by_id=user_id,
        )
        enqueue(PRODUCER, run_product_bulk_job, str(job.pk))
    return job


def product_bulk_job_run(*, job_id: uuid.UUID | str) -> BulkJob:
    """Work through the job from where it stopped (a redelivered task resumes, never repeats a
    chunk: progress commits with the chunk it counts)."""
    job = BulkJob.objects.get(pk=job_id)
    if job.status in (BulkJob.Status.DONE, BulkJob.Status.FAILED):
        return job
    BulkJob.objects.filter(pk=job.pk).update(status=BulkJob.Status.RUNNING)
    size = max(settings.CATALOG_BULK_CHUNK_SIZE, 1)
    active = job.action == BulkJob.Action.PUBLISH
    try:
        for start in range(job.done, job.total, size):
            chunk = job.product_ids[start : start + size]
            with atomic(PRODUCER):
                changed = products_set_active(product_ids=chunk, active=active)
                products_history_log(user_id=job.requested_by_id, product_ids=changed, message=_MESSAGES[job.action])
                BulkJob.objects.filter(pk=job.pk).update(done=start + len(chunk), changed=F("changed") + len(changed))
    except Exception as error:
        logger.exception("bulk job %s failed", job.pk)
        BulkJob.objects.filter(pk=job.pk).update(
            status=BulkJob.Status.FAILED, error=f"{type(error).__name__}: {error}"[:2000], finished_at=timezone.now()
        )
        raise
    BulkJob.objects.filter(pk=job.pk).update(status=BulkJob.Status.DONE, finished_at=timezone.now())
    job.refresh_from_db()
    return job
