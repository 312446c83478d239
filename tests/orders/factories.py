"""Orders made directly in the database, for tests that need many of them quickly (the API and
saga tests place orders through the services instead)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.utils import timezone

from apps.orders.models import Order, OrderLine, OrderStatus, OrderStatusChange


def order(
    *, customer_id: uuid.UUID, email: str = "shopper@example.com", status: str = OrderStatus.PENDING, lines: int = 2
) -> Order:
    created = Order.objects.create(
        number=f"SO-T{uuid.uuid4().hex[:9].upper()}",
        customer_id=customer_id,
        email=email,
        status=status,
        status_changed_at=timezone.now(),
        currency="EUR",
        subtotal=Decimal("20.00") * lines,
        shipping=Decimal("4.90"),
        tax=Decimal("4.00") * lines,
        total=Decimal("24.00") * lines + Decimal("4.90"),
        tax_rate=Decimal("0.20"),
        shipping_address={"full_name": "Ada", "country": "GB"},
        payment_method_token="pm_test",
        idempotency_key=uuid.uuid4().hex,
        request_fingerprint="x",
    )
    OrderLine.objects.bulk_create(
        OrderLine(
            order=created,
            sku=f"SKU-{index}",
            product_name=f"Product {index}",
            unit_price=Decimal("10.00"),
            currency="EUR",
            quantity=2,
            line_total=Decimal("20.00"),
        )
        for index in range(lines)
    )
    OrderStatusChange.objects.create(order=created, to_status=status, reason="factory", actor="test")
    return created
