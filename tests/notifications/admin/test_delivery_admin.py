"""The delivery log in the admin: browsable and filterable, read-only, and a "resend" action for
failed deliveries that goes through the same send path."""

from __future__ import annotations

import html
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core import mail
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.core import sealing
from apps.core.db import atomic
from apps.notifications import messages, services
from apps.notifications.models import Delivery

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

CHANGELIST = "admin:notifications_delivery_changelist"


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    client.force_login(user)
    return client


def _record(email: str = "ada@example.com") -> Delivery:
    with atomic("notifications"):
        (delivery,) = services.notification_record(
            template=messages.WELCOME,
            event_id=uuid.uuid4(),
            event_type="user.registered",
            customer_id=uuid.uuid4(),
            email=email,
        )
    delivery.refresh_from_db()
    return delivery


@pytest.fixture
def failed_delivery(settings) -> Delivery:
    settings.EMAIL_BACKEND = "tests.notifications.mail_backends.RefusingBackend"
    delivery = _record()
    assert delivery.status == "failed"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return delivery


def _resend(client, *deliveries: Delivery):
    return client.post(
        reverse(CHANGELIST),
        {"action": "resend", "_selected_action": [str(delivery.pk) for delivery in deliveries]},
        follow=True,
    )


def test_resend_gives_a_failed_delivery_a_new_attempt(admin_client, failed_delivery):
    response = _resend(admin_client, failed_delivery)

    assert response.status_code == 200
    assert "1 delivery(ies) queued for a new attempt." in response.content.decode()
    failed_delivery.refresh_from_db()
    assert (failed_delivery.status, failed_delivery.attempts, failed_delivery.last_error) == ("sent", 2, "")
    assert [email.to for email in mail.outbox] == [["ada@example.com"]]


def test_resend_leaves_sent_deliveries_alone(admin_client):
    sent = _record()
    assert sent.status == "sent"

    response = _resend(admin_client, sent)

    assert "were not failed and were left alone" in response.content.decode()
    sent.refresh_from_db()
    assert (sent.status, sent.attempts) == ("sent", 1)
    assert len(mail.outbox) == 1


def test_staff_without_the_resend_permission_are_not_offered_it(client, failed_delivery):
    user = get_user_model().objects.create_user("viewer", "viewer@example.com", "pw-for-tests-only", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    client.force_login(user)

    page = client.get(reverse(CHANGELIST))
    assert page.status_code == 200
    assert 'value="resend"' not in page.content.decode()

    _resend(client, failed_delivery)
    failed_delivery.refresh_from_db()
    assert failed_delivery.status == "failed"


def test_the_log_filters_and_searches(admin_client, failed_delivery):
    sent = _record(email="grace@example.com")
    url = reverse(CHANGELIST)

    def listed(**query) -> str:
        response = admin_client.get(url, query)
        assert response.status_code == 200
        return response.content.decode()

    by_status = listed(status__exact="failed")
    assert "ada@example.com" in by_status and "grace@example.com" not in by_status
    assert "grace@example.com" in listed(channel__exact="email", template__exact="welcome", status__exact="sent")
    assert "grace@example.com" in listed(created_at__gte="2000-01-01T00:00:00+00:00")
    by_event = listed(q=str(sent.event_id))
    assert "grace@example.com" in by_event and "ada@example.com" not in by_event
    assert "ada@example.com" not in listed(q="grace@")


def test_the_log_is_read_only(admin_client):
    delivery = _record()
    change_url = reverse("admin:notifications_delivery_change", args=[delivery.pk])

    page = admin_client.get(change_url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert admin_client.post(change_url, {"status": "failed", "recipient": "evil@example.com"}).status_code == 403
    delete_url = reverse("admin:notifications_delivery_delete", args=[delivery.pk])
    assert admin_client.get(delete_url).status_code == 403
    assert admin_client.get(reverse("admin:notifications_delivery_add")).status_code == 403
    delivery.refresh_from_db()
    assert (delivery.status, delivery.recipient) == ("sent", "ada@example.com")


def test_the_log_page_costs_the_same_queries_for_more_rows(admin_client):
    def queries() -> int:
        with CaptureQueriesContext(connections["notifications"]) as captured:
            assert admin_client.get(reverse(CHANGELIST)).status_code == 200
        return len(captured)

    _record()
    few = queries()
    for _ in range(5):
        _record()
    assert queries() == few


def _change_page(client, delivery: Delivery) -> str:
    page = client.get(reverse("admin:notifications_delivery_change", args=[delivery.pk]))
    assert page.status_code == 200
    return html.unescape(page.content.decode())


def test_a_delivery_shows_its_text_body_as_the_shopper_got_it(admin_client):
    # Given an order confirmation sent with its breakdown
    with atomic("notifications"):
        (delivery,) = services.notification_record(
            template=messages.ORDER_CONFIRMED,
            event_id=uuid.uuid4(),
            event_type="order.confirmed",
            customer_id=uuid.uuid4(),
            email="ada@example.com",
            context={
                "order_number": "SO-1",
                "order_url": "http://shop.test/orders/1",
                "currency": "EUR",
                "items": [{"product_name": "Mug", "variant_name": "Blue", "quantity": 2, "total": "22.50"}],
                "subtotal": "25.00",
                "discount": "2.50",
                "shipping": "4.90",
                "shipping_method": "Express",
                "tax": "5.48",
                "total": "32.88",
            },
        )
    [sent] = mail.outbox

    # When staff open it in the log
    page = _change_page(admin_client, delivery)

    # Then the body is the one sent, line by line
    for line in ["2 x Mug (Blue): 22.50 EUR", "Discounts: -2.50 EUR", "Shipping (Express): 4.90 EUR", "Total: 32.88"]:
        assert line in sent.body
        assert line in page


def test_a_delivery_body_never_shows_a_secret_sealed_or_sent(admin_client, settings):
    # Given a password reset still pending (its link sealed), then the same once sent (redacted)
    settings.EMAIL_BACKEND = "tests.notifications.mail_backends.RefusingBackend"
    with atomic("notifications"):
        (pending,) = services.notification_record(
            template=messages.PASSWORD_RESET,
            event_id=uuid.uuid4(),
            event_type="user.password_reset_requested",
            customer_id=uuid.uuid4(),
            email="ada@example.com",
            context={"reset_url": sealing.seal("http://shop.test/reset/SECRET-TOKEN")},
        )
    pending.refresh_from_db()
    assert pending.status == "failed"

    # When staff open it
    page = _change_page(admin_client, pending)

    # Then the body shows the link redacted, never opened
    assert "SECRET-TOKEN" not in page
    assert messages.REDACTED in page
