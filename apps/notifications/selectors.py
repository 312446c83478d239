"""Reads of the notifications service: preferences, recipients, and the delivery log."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from apps.notifications.models import Delivery, Preference, Recipient


def preference_get(*, customer_id: uuid.UUID) -> Preference:
    """The shopper's preferences; an unsaved row with the defaults when they never chose."""
    return Preference.objects.filter(customer_id=customer_id).first() or Preference(customer_id=customer_id)


def recipient_get(*, customer_id: uuid.UUID) -> Recipient | None:
    return Recipient.objects.filter(customer_id=customer_id).first()


def delivery_list(*, event_id: uuid.UUID | None = None, customer_id: uuid.UUID | None = None) -> QuerySet[Delivery]:
    deliveries = Delivery.objects.all()
    if event_id is not None:
        deliveries = deliveries.filter(event_id=event_id)
    if customer_id is not None:
        deliveries = deliveries.filter(customer_id=customer_id)
    return deliveries.order_by("-created_at")
