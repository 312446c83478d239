"""Celery entry points of the catalog service: thin, each calls a service."""

from __future__ import annotations

from celery import shared_task

from apps.catalog.services.bulk import product_bulk_job_run


@shared_task(name="catalog.run_product_bulk_job", acks_late=True, ignore_result=True)
def run_product_bulk_job(job_id: str) -> None:
    """A bulk (un)publish the admin queued; resumes where a previous delivery stopped."""
    product_bulk_job_run(job_id=job_id)
