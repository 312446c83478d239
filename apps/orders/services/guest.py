"""Guest orders joining an account: once users reports that an account proved an email address
(user.email_verified), the guest orders placed with that address become the account's, so they
show in its order list. Registration alone is not enough: anyone can sign up with any address."""

from __future__ import annotations

import logging
import uuid

from apps.core.db import atomic
from apps.orders.models import Order, VoucherUse
from apps.orders.services.transitions import SERVICE

logger = logging.getLogger(__name__)


def guest_orders_claim(*, customer_id: uuid.UUID, email: str) -> int:
    """Give the account every unclaimed guest order placed with `email` (and their voucher uses,
    so per-shopper limits count them); returns how many. Idempotent: a claimed order is no
    longer a guest's, so a redelivered event finds nothing to do. The access tokens of the
    claimed orders keep working until they expire (the emails sent carry them)."""
    with atomic(SERVICE):
        order_ids = list(
            Order.objects.select_for_update()
            .filter(customer_id__isnull=True, email=email.strip().lower())
            .values_list("id", flat=True)
        )
        if not order_ids:
            return 0
        Order.objects.filter(pk__in=order_ids).update(customer_id=customer_id)
        VoucherUse.objects.filter(order_id__in=order_ids, customer_id__isnull=True).update(customer_id=customer_id)
    logger.info("%s guest orders claimed by customer %s", len(order_ids), customer_id)
    return len(order_ids)
