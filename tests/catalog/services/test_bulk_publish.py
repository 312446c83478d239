"""Bulk (un)publishing: one relay pass per transaction however many events it publishes, every
change in the admin's history, and updated_at moved."""

from __future__ import annotations

import pytest

from apps.catalog.models import OutboxEvent, Product
from apps.catalog.services import products
from apps.core.events.outbox import _RelayPass
from apps.core.services import db_alias
from tests.catalog import factories

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_bulk_change_runs_one_relay_pass_and_sends_every_event(django_capture_on_commit_callbacks):
    # Given 40 draft products of two variants each
    drafts = [factories.product_with_variants(count=2, active=False) for _ in range(40)]

    # When they are published at once
    with django_capture_on_commit_callbacks(using=db_alias("catalog"), execute=True) as callbacks:
        changed = products.products_set_active(product_ids=[draft.pk for draft in drafts], active=True)

    # Then one relay pass sent all 80 events
    assert len(changed) == 40
    assert len([callback for callback in callbacks if isinstance(callback, _RelayPass)]) == 1
    assert OutboxEvent.objects.filter(event_type="product.updated").count() == 80
    assert not OutboxEvent.objects.filter(sent_at__isnull=True).exists()


def test_bulk_publishing_bumps_updated_at(django_capture_on_commit_callbacks):
    draft = factories.product_with_variants(count=1, active=False)
    before = Product.objects.get(pk=draft.pk).updated_at

    products.products_set_active(product_ids=[draft.pk], active=True)

    assert Product.objects.get(pk=draft.pk).updated_at > before
