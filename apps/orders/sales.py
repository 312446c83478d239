"""Reads for the back office: the sales summary (per day and per product) from orders' own data.
Sales are paid orders (confirmed and later, refunded ones included); refunds are subtracted.
Amounts in different currencies are never added together: each row names its currency."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Count, F, Sum
from django.db.models.functions import TruncDate

from apps.orders.models import Order, OrderLine, OrderStatus

SOLD = (
    OrderStatus.CONFIRMED,
    OrderStatus.PARTIALLY_SHIPPED,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.PARTIALLY_REFUNDED,
    OrderStatus.REFUNDED,
)


def sales_by_day(*, since: datetime.datetime, until: datetime.datetime) -> list[dict[str, Any]]:
    """Per day (UTC) and currency: orders, gross total, refunded, net; newest day first."""
    return list(
        Order.objects.filter(status__in=SOLD, created_at__gte=since, created_at__lt=until)
        .annotate(day=TruncDate("created_at"))
        .values("day", "currency")
        .annotate(orders=Count("id"), gross=Sum("total"), refunded=Sum("amount_refunded"))
        .annotate(net=F("gross") - F("refunded"))
        .order_by("-day", "currency")
    )


def sales_by_product(*, since: datetime.datetime, until: datetime.datetime, limit: int = 50) -> list[dict[str, Any]]:
    """Per SKU and currency: units sold (less refunded units) and line revenue; best sellers first."""
    return list(
        OrderLine.objects.filter(order__status__in=SOLD, order__created_at__gte=since, order__created_at__lt=until)
        .values("sku", "product_name", "currency")
        .annotate(units=Sum(F("quantity") - F("quantity_refunded")), revenue=Sum("total"))
        .order_by("-units", "sku")[:limit]
    )
