"""A customer's orders are one click away from the customer in users' admin (the orders admin,
another service's in the split shape, filtered by the customer)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.users import factories

pytestmark = pytest.mark.django_db(databases="__all__")


def test_the_customer_page_links_to_the_customers_orders(admin_client):
    customer = factories.customer()

    page = admin_client.get(reverse("admin:users_customer_change", args=[customer.pk])).content.decode()

    assert f'href="/admin/orders/order/?customer_id={customer.pk}"' in page
