"""Checkout and the shopper's orders list: a signed-in shopper's checkout (POST on the orders
list), and guest checkout (POST guest/), which turns an anonymous cart into an order of no
account, with an email address; its answer carries the order's access token, which opens the
per-order endpoints (views/order.py) like the owner's JWT does (api/access.py)."""

from __future__ import annotations

import re
from collections.abc import Callable

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.pagination import CursorPagination
from apps.core.api.schema import problem
from apps.core.api.throttles import AccountRateThrottle, ScopedRateThrottle
from apps.core.events.transport import handlers_run_inline
from apps.core.exceptions import ValidationFailed
from apps.orders import selectors
from apps.orders.access import OrderGrant, order_access_token
from apps.orders.api import serializers as s
from apps.orders.api.views.cart import CART_NOT_FOUND, CART_TOKEN_HEADER, CATALOG_UNAVAILABLE
from apps.orders.errors import IdempotencyKeyRequired
from apps.orders.models import Order
from apps.orders.services.checkout import CheckoutResult, order_checkout, order_checkout_guest

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces

# Development payment tokens (the sandbox provider, apps/payments/providers/sandbox.py); any other
# token is declined as `invalid_payment_method`, and the order waits for another method.
PAYMENT_TOKEN_EXAMPLES = [
    OpenApiExample(
        name,
        value={
            "shipping_address": {
                "full_name": "Ada Lovelace",
                "line1": "1 Analytical Way",
                "city": "London",
                "postal_code": "N1 9GU",
                "country": "GB",
            },
            "payment_method_token": token,
        },
        summary=summary,
        request_only=True,
    )
    for name, token, summary in (
        ("card charged", "tok_success", "Sandbox: charged (visa 4242); also tok_visa, tok_mastercard"),
        ("card declined", "tok_decline", "Sandbox: declined, card_declined; the order waits for another method"),
        ("insufficient funds", "tok_insufficient_funds", "Sandbox: declined, insufficient_funds"),
        ("provider outage", "tok_transient", "Sandbox: fails transiently a few times, then charged"),
    )
]


def _answered(result: CheckoutResult, read_back: Callable[[], Order]) -> Order:
    """The order checkout answers with. A new one as checkout wrote it (its saga runs later,
    elsewhere: five queries fewer), unless the saga already ran in this process on commit
    (all-in-one), where reading it back shows how far it got; a replay is always read back."""
    if result.created and not handlers_run_inline():
        return result.order
    return read_back()


class OrdersView(APIView):
    permission_classes = [IsAuthenticated]
    pagination_class = CursorPagination  # documents the list as pages (ServiceAutoSchema)
    throttle_scope = "checkout"

    def get_throttles(self) -> list[ScopedRateThrottle]:
        # Checkout only, per shopper: each attempt can end in texts and emails (a declined card)
        # and holds stock; listing one's orders costs nothing worth limiting.
        return [ScopedRateThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        operation_id="orders_list", parameters=[s.OrderListFilterInput], responses=s.OrderSummaryOutput(many=True)
    )
    def get(self, request: Request) -> Response:
        filters = s.OrderListFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        orders = selectors.order_list(customer_id=request.user.id, filters=filters.validated_data)
        ordering = filters.validated_data.get("ordering", "-created_at")
        # The cursor's position field, then the primary key as the unique tiebreak.
        self.cursor_ordering = (ordering, "-id" if ordering.startswith("-") else "id")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(orders, request, view=self)
        return paginator.get_paginated_response(s.OrderSummaryOutput(page, many=True).data)

    @extend_schema(
        operation_id="orders_checkout",
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_KEY_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="One unique value per checkout attempt; a retry with the same key and "
                "body returns the same order, with another body it is refused (422).",
                pattern=_IDEMPOTENCY_KEY.pattern,
            )
        ],
        request=s.CheckoutInput,
        examples=PAYMENT_TOKEN_EXAMPLES,
        responses={
            201: s.OrderDetailOutput,
            200: s.OrderDetailOutput,
            400: problem("Invalid input, or no valid Idempotency-Key header (`idempotency_key_required`)."),
            409: problem("The cart changed during checkout (`cart_changed`); review it and retry."),
            422: problem(
                "An empty cart (`cart_empty`), items no longer sold or in stock (`items_unavailable`), "
                "several currencies (`mixed_currencies`), or the key reused with another body "
                "(`idempotency_key_reused`)."
            ),
            503: CATALOG_UNAVAILABLE,
        },
    )
    def post(self, request: Request) -> Response:
        """Checkout: the shopper's cart becomes a pending order; stock and payment follow."""
        key = request.headers.get(IDEMPOTENCY_KEY_HEADER, "")
        if not _IDEMPOTENCY_KEY.match(key):
            raise IdempotencyKeyRequired()
        data = s.CheckoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = order_checkout(
            customer_id=request.user.id,
            email=request.user.email,
            idempotency_key=key,
            **data.validated_data,
        )
        order = _answered(
            result, lambda: selectors.order_get_for_customer(customer_id=request.user.id, order_id=result.order.id)
        )
        return Response(
            s.rendered(s.OrderDetailOutput, order),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class GuestCheckoutView(APIView):
    """Checkout without an account. Open, so throttled twice: per client address (each attempt
    holds stock) and per email address (each order emails it: no flooding someone's mailbox)."""

    authentication_classes: list = []  # a guest order belongs to no account, whoever is signed in
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle, AccountRateThrottle]
    throttle_scope = "guest_checkout"

    @extend_schema(
        operation_id="orders_checkout_guest",
        parameters=[
            OpenApiParameter(
                CART_TOKEN_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="The anonymous cart's token.",
            ),
            OpenApiParameter(
                IDEMPOTENCY_KEY_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="One unique value per checkout attempt of this cart; a retry with the same key and "
                "body returns the same order, with another body it is refused (422).",
                pattern=_IDEMPOTENCY_KEY.pattern,
            ),
        ],
        request=s.GuestCheckoutInput,
        responses={
            201: s.GuestOrderOutput,
            200: s.GuestOrderOutput,
            400: problem(
                "Invalid input (an email that is not one, say), no X-Cart-Token header (`invalid`), or no valid "
                "Idempotency-Key header (`idempotency_key_required`)."
            ),
            404: CART_NOT_FOUND,
            409: problem("The cart changed during checkout (`cart_changed`); review it and retry."),
            422: problem(
                "An empty cart (`cart_empty`), items no longer sold or in stock (`items_unavailable`), "
                "several currencies (`mixed_currencies`), a code limited per shopper (`voucher_customer_limit`: "
                "sign in to use it), or the key reused with another body (`idempotency_key_reused`)."
            ),
            503: CATALOG_UNAVAILABLE,
        },
    )
    def post(self, request: Request) -> Response:
        """Guest checkout: the anonymous cart (X-Cart-Token) becomes a pending order sent to `email`.
        The answer's `access_token` opens the order (X-Order-Token) for reading, cancelling and paying;
        an account that later proves the same email sees the order in its list."""
        key = request.headers.get(IDEMPOTENCY_KEY_HEADER, "")
        if not _IDEMPOTENCY_KEY.match(key):
            raise IdempotencyKeyRequired()
        cart_token = request.headers.get(CART_TOKEN_HEADER)
        if not cart_token:
            raise ValidationFailed({CART_TOKEN_HEADER: ["This header is required."]})
        data = s.GuestCheckoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        cart = selectors.cart_get_by_token(token=cart_token)
        result = order_checkout_guest(cart=cart, idempotency_key=key, **data.validated_data)
        order = _answered(
            result, lambda: selectors.order_get_granted(grant=OrderGrant(order_id=result.order.id, customer_id=None))
        )
        return Response(
            s.rendered(s.GuestOrderOutput, order, context={"access_token": order_access_token(order_id=order.id)}),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
