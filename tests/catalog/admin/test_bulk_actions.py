"""The admin's bulk publish/unpublish: a history entry per product changed, and large ones run in
the background with their progress shown."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import CHANGE, LogEntry

from apps.catalog.models import BulkJob, Product
from apps.core.services import db_alias
from tests.catalog import factories

pytestmark = pytest.mark.django_db(databases="__all__")


def test_the_bulk_admin_action_writes_a_history_entry_per_product(staff_client):
    drafts = [factories.product_with_variants(count=1, active=False) for _ in range(3)]

    staff_client.post(
        "/admin/catalog/product/", {"action": "activate", "_selected_action": [str(draft.pk) for draft in drafts]}
    )

    entries = LogEntry.objects.filter(action_flag=CHANGE)
    assert sorted(entry.object_id for entry in entries) == sorted(str(draft.pk) for draft in drafts)
    assert {entry.get_change_message() for entry in entries} == {"Published (bulk action)."}


def test_a_large_bulk_publish_runs_in_the_background_with_visible_progress(
    staff_client, settings, django_capture_on_commit_callbacks
):
    # Given more products than the admin changes within one request
    settings.CATALOG_BULK_INLINE_LIMIT = 4
    settings.CATALOG_BULK_CHUNK_SIZE = 3
    drafts = [factories.product_with_variants(count=1, active=False) for _ in range(7)]

    # When staff publish them all (the queued job runs after commit: in-process in this shape)
    with django_capture_on_commit_callbacks(using=db_alias("catalog"), execute=True):
        response = staff_client.post(
            "/admin/catalog/product/",
            {"action": "activate", "_selected_action": [str(draft.pk) for draft in drafts]},
            follow=True,
        )

    # Then a job did it in chunks, recorded its progress, and wrote the history
    job = BulkJob.objects.get()
    assert "7 products are being published in the background" in response.content.decode()
    assert (job.status, job.done, job.changed, job.requested_by) == ("done", 7, 7, "alice")
    assert Product.objects.filter(active=True).count() == 7
    assert LogEntry.objects.filter(action_flag=CHANGE).count() == 7
    assert "7 of 7 (100%)" in staff_client.get("/admin/catalog/bulkjob/").content.decode()
