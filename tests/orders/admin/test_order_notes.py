"""Staff notes on an order: added from the order page, shown there with author and time, and
only by staff allowed to add them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.orders.models import OrderNote
from tests.orders.conftest import advance_to_confirmed

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def confirmed(place_order, shopper):
    return advance_to_confirmed(place_order(shopper, {"MUG-01": 1}))


def test_staff_add_a_note_shown_on_the_order_page_with_author(admin_client, confirmed):
    page = admin_client.get(reverse("admin:orders_order_change", args=[confirmed.pk])).content.decode()
    note_url = reverse("admin:orders_order_note", args=[confirmed.pk])

    response = admin_client.post(note_url, {"body": "Shopper called: leave with the neighbour."})
    after = admin_client.get(reverse("admin:orders_order_change", args=[confirmed.pk])).content.decode()

    assert f'href="{note_url}"' in page
    assert response.status_code == 302
    note = OrderNote.objects.get()
    assert (note.author, note.order_id) == ("admin", confirmed.pk)
    assert "Shopper called: leave with the neighbour." in after


def test_an_empty_note_is_a_form_error(admin_client, confirmed):
    response = admin_client.post(reverse("admin:orders_order_note", args=[confirmed.pk]), {"body": "   "})

    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not OrderNote.objects.exists()


def test_staff_without_the_permission_cannot_add_notes(client, django_user_model, confirmed):
    user = django_user_model.objects.create_user("viewer", "v@example.com", "pw-viewer-123", is_staff=True)
    client.force_login(user)

    response = client.post(reverse("admin:orders_order_note", args=[confirmed.pk]), {"body": "hello"})

    assert response.status_code == 403
    assert not OrderNote.objects.exists()
