"""Views of the orders API: the cart (signed-in or anonymous by cart token), checkout, and the
shopper's orders. Each view validates input, calls one service or selector, and shapes the output.

Cart addressing: a signed-in shopper (JWT) always gets their own cart, whatever X-Cart-Token says.
Without a JWT the cart is the one named by the X-Cart-Token header; adding the first line without
a token creates an anonymous cart and returns its token (body `token` and X-Cart-Token header).
After signing in, the shopper merges the anonymous cart explicitly with POST cart/merge/ and the
token: explicit, so a client decides when it happens and a stale token is a clear 404 instead of
silently changing the shopper's cart on some later request.

Guest checkout (POST guest/) turns an anonymous cart into an order of no account, with an email
address; its answer carries the order's access token, which opens the per-order endpoints (detail,
cancel) like the owner's JWT does (api/access.py)."""

from __future__ import annotations

import re

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
from apps.core.exceptions import ValidationFailed
from apps.orders import selectors
from apps.orders.access import OrderGrant, order_access_token
from apps.orders.api import serializers as s
from apps.orders.api.access import ORDER_TOKEN_PARAMETER, OrderAccess, order_grant
from apps.orders.errors import CartNotFound, IdempotencyKeyRequired, ShippingDestinationUnsupported
from apps.orders.models import Cart
from apps.orders.pricing.basket import Destination
from apps.orders.services import cart as cart_services
from apps.orders.services.cancellation import order_cancel_by_shopper
from apps.orders.services.checkout import order_checkout, order_checkout_guest

CART_TOKEN_HEADER = "X-Cart-Token"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces

CART_TOKEN_PARAMETER = OpenApiParameter(
    CART_TOKEN_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The anonymous cart's token (ignored when signed in).",
)
CART_NOT_FOUND = problem("The cart token is unknown or the cart was merged (`cart_not_found`).")
CATALOG_UNAVAILABLE = problem("The catalog cannot answer for prices and stock now (`catalog_unavailable`).")
# Development payment tokens (the sandbox provider, apps/payments/providers/sandbox.py); any other
# token is declined as `invalid_payment_method`, and the order is cancelled.
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
        ("card declined", "tok_decline", "Sandbox: declined, card_declined; the order is cancelled"),
        ("insufficient funds", "tok_insufficient_funds", "Sandbox: declined, insufficient_funds"),
        ("provider outage", "tok_transient", "Sandbox: fails transiently a few times, then charged"),
    )
]


def _cart_priced(request: Request, cart: Cart | None) -> selectors.PricedCart:
    """The cart priced for the destination and method in the query (country, region,
    shipping_method), or the shop's default country and the cheapest method."""
    query = s.DestinationInput(data=request.query_params)
    query.is_valid(raise_exception=True)
    where = query.validated_data
    destination = (
        Destination.parse(country=where["country"], region=where["region"], vat_number=where["vat_number"])
        if "country" in where
        else None
    )
    return selectors.cart_priced(
        cart=cart,
        destination=destination,
        shipping_method=where.get("shipping_method"),
        customer_id=request.user.id if request.user.is_authenticated else None,
    )


def _cart_response(
    cart: Cart | None, *, status_code: int = status.HTTP_200_OK, token: str | None = None, request: Request
) -> Response:
    priced = _cart_priced(request, cart)
    if token is None:
        return Response(s.CartOutput(priced).data, status=status_code)
    data = s.CartOutput(priced).data
    data["token"] = token
    return Response(data, status=status_code, headers={CART_TOKEN_HEADER: token})


def _current_cart(request: Request) -> Cart | None:
    """The cart this request speaks for, without creating one."""
    if request.user.is_authenticated:
        return selectors.cart_get_for_customer(customer_id=request.user.id)
    token = request.headers.get(CART_TOKEN_HEADER)
    return selectors.cart_get_by_token(token=token) if token else None


class CartCreateThrottle(ScopedRateThrottle):
    """The budget for new anonymous carts (a row and a catalog call each): a line added with
    neither a JWT nor a cart token, per client address."""

    scope_attr = "cart_create_throttle_scope"

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method != "POST" or request.user.is_authenticated or request.headers.get(CART_TOKEN_HEADER):
            return True
        return super().allow_request(request, view)


class CartWriteThrottle(ScopedRateThrottle):
    """Every cart change: per account when signed in, per client address for anonymous carts."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        return request.method in ("GET", "HEAD", "OPTIONS") or super().allow_request(request, view)


class CartView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="orders_cart_retrieve",
        parameters=[CART_TOKEN_PARAMETER],
        responses={200: s.CartOutput, 404: CART_NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        return _cart_response(_current_cart(request), request=request)


class CartLinesView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [CartWriteThrottle, CartCreateThrottle]
    throttle_scope = "cart_write"
    cart_create_throttle_scope = "cart_create"

    @extend_schema(
        operation_id="orders_cart_line_add",
        parameters=[CART_TOKEN_PARAMETER],
        request=s.CartLineAddInput,
        responses={
            200: s.CartOutput,
            201: s.CartCreatedOutput,
            400: problem(
                "Invalid input, an unknown SKU (`unknown_sku`), a quantity out of range "
                "(`invalid_quantity`) or a full cart (`cart_limit_reached`)."
            ),
            404: CART_NOT_FOUND,
            503: CATALOG_UNAVAILABLE,
        },
    )
    def post(self, request: Request) -> Response:
        """Add a SKU (quantities add up). Without a JWT or cart token, a new anonymous cart is made
        and its token returned (201)."""
        data = s.CartLineAddInput(data=request.data)
        data.is_valid(raise_exception=True)
        if request.user.is_authenticated:
            cart = cart_services.cart_line_add(customer_id=request.user.id, **data.validated_data)
        elif request.headers.get(CART_TOKEN_HEADER):
            cart = selectors.cart_get_by_token(token=request.headers[CART_TOKEN_HEADER])
            cart_services.cart_line_add(cart=cart, **data.validated_data)
        else:
            cart, token = cart_services.cart_anonymous_create(**data.validated_data)
            return _cart_response(cart, token=token, status_code=status.HTTP_201_CREATED, request=request)
        return _cart_response(cart, request=request)


class CartLineView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [CartWriteThrottle]
    throttle_scope = "cart_write"

    def _cart(self, request: Request) -> Cart:
        cart = _current_cart(request)
        if cart is None:
            raise CartNotFound()
        return cart

    @extend_schema(
        operation_id="orders_cart_line_update",
        parameters=[CART_TOKEN_PARAMETER],
        request=s.CartLineQuantityInput,
        responses={
            200: s.CartOutput,
            400: problem("Invalid input, or a quantity out of range (`invalid_quantity`)."),
            404: problem("No such cart (`cart_not_found`) or line (`cart_line_not_found`)."),
            503: CATALOG_UNAVAILABLE,
        },
    )
    def patch(self, request: Request, sku: str) -> Response:
        """Set the line's quantity (1 to the limit; remove a line with DELETE)."""
        data = s.CartLineQuantityInput(data=request.data)
        data.is_valid(raise_exception=True)
        cart = self._cart(request)
        cart_services.cart_line_set_quantity(cart=cart, sku=sku, quantity=data.validated_data["quantity"])
        return _cart_response(cart, request=request)

    @extend_schema(
        operation_id="orders_cart_line_remove",
        parameters=[CART_TOKEN_PARAMETER],
        responses={204: None, 404: problem("No such cart (`cart_not_found`) or line (`cart_line_not_found`).")},
    )
    def delete(self, request: Request, sku: str) -> Response:
        cart_services.cart_line_remove(cart=self._cart(request), sku=sku)
        return Response(status=status.HTTP_204_NO_CONTENT)


DESTINATION_PARAMETERS = [
    OpenApiParameter("country", OpenApiTypes.STR, required=False, description="ISO 3166-1 alpha-2."),
    OpenApiParameter("region", OpenApiTypes.STR, required=False, description="ISO 3166-2, where rates differ."),
    OpenApiParameter(
        "vat_number",
        OpenApiTypes.STR,
        required=False,
        description="A business buyer's EU VAT number, checked in form only (400 `invalid_vat_number`); from "
        "another EU country than the shop's, with that country as destination, the cart is reverse charged.",
    ),
]


class CartVoucherView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [CartWriteThrottle]
    throttle_scope = "cart_write"

    @extend_schema(
        operation_id="orders_cart_voucher_apply",
        parameters=[CART_TOKEN_PARAMETER],
        request=s.VoucherInput,
        responses={
            200: s.CartOutput,
            404: CART_NOT_FOUND,
            422: problem(
                "The code is refused and the cart unchanged: `voucher_unknown`, `voucher_expired`, `voucher_used_up`, "
                "`voucher_customer_limit`, `voucher_minimum_not_met` or `voucher_not_applicable`."
            ),
            503: CATALOG_UNAVAILABLE,
        },
    )
    def post(self, request: Request) -> Response:
        """Apply a voucher code (it replaces any other). Refusals are 422 problems, each with its
        own code (voucher_unknown, voucher_expired, voucher_used_up, voucher_customer_limit,
        voucher_minimum_not_met, voucher_not_applicable), and leave the cart unchanged."""
        data = s.VoucherInput(data=request.data)
        data.is_valid(raise_exception=True)
        cart = _current_cart(request)
        if cart is None:
            raise CartNotFound()
        customer_id = request.user.id if request.user.is_authenticated else None
        cart = cart_services.cart_voucher_apply(cart=cart, code=data.validated_data["code"], customer_id=customer_id)
        return _cart_response(cart, request=request)

    @extend_schema(
        operation_id="orders_cart_voucher_remove",
        parameters=[CART_TOKEN_PARAMETER],
        responses={200: s.CartOutput, 404: CART_NOT_FOUND, 503: CATALOG_UNAVAILABLE},
    )
    def delete(self, request: Request) -> Response:
        cart = _current_cart(request)
        if cart is None:
            raise CartNotFound()
        return _cart_response(cart_services.cart_voucher_remove(cart=cart), request=request)


class ShippingQuoteView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="orders_cart_shipping_quote",
        parameters=[CART_TOKEN_PARAMETER, *DESTINATION_PARAMETERS],
        responses={
            200: s.ShippingQuoteOutput,
            404: CART_NOT_FOUND,
            422: problem("The shop does not ship to that country or region (`shipping_destination_unsupported`)."),
            503: CATALOG_UNAVAILABLE,
        },
    )
    def get(self, request: Request) -> Response:
        """The shipping methods offered for the cart and address, each with its price and the
        cart's total with it. A country the shop does not ship to is a 422
        (shipping_destination_unsupported); an unknown country a 400."""
        priced = _cart_priced(request, _current_cart(request))
        if priced.pricing_error in (ShippingDestinationUnsupported.default_code,):
            raise ShippingDestinationUnsupported()
        return Response(s.ShippingQuoteOutput(priced).data)


class CartMergeView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [CartWriteThrottle]
    throttle_scope = "cart_write"

    @extend_schema(
        operation_id="orders_cart_merge",
        parameters=[OpenApiParameter(CART_TOKEN_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True)],
        request=None,
        responses={
            200: s.CartOutput,
            400: problem("No X-Cart-Token header (`invalid`), or the merged cart would break a limit."),
            404: CART_NOT_FOUND,
            503: CATALOG_UNAVAILABLE,
        },
    )
    def post(self, request: Request) -> Response:
        """Merge the anonymous cart named by X-Cart-Token into the signed-in shopper's cart; the
        token stops working."""
        token = request.headers.get(CART_TOKEN_HEADER)
        if not token:
            raise ValidationFailed({CART_TOKEN_HEADER: ["This header is required."]})
        cart = cart_services.cart_merge(customer_id=request.user.id, token=token)
        return _cart_response(cart, request=request)


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
        order = selectors.order_get_for_customer(customer_id=request.user.id, order_id=result.order.id)
        return Response(
            s.OrderDetailOutput(order).data,
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
        order = selectors.order_get_granted(grant=OrderGrant(order_id=result.order.id, customer_id=None))
        return Response(
            s.GuestOrderOutput(order, context={"access_token": order_access_token(order_id=order.id)}).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


ORDER_NOT_FOUND = problem("No such order, or a forged or other order's X-Order-Token (`order_not_found`).")
ORDER_TOKEN_EXPIRED = problem(
    "Not signed in and no X-Order-Token (`not_authenticated`), or the order's token has expired "
    "(`order_token_expired`)."
)


class OrderView(APIView):
    permission_classes = [OrderAccess]

    @extend_schema(
        operation_id="orders_retrieve",
        parameters=[ORDER_TOKEN_PARAMETER],
        responses={200: s.OrderDetailOutput, 401: ORDER_TOKEN_EXPIRED, 404: ORDER_NOT_FOUND},
    )
    def get(self, request: Request, order_id) -> Response:
        """The order: its owner's (signed in), or a guest's with the order's X-Order-Token."""
        return Response(s.OrderDetailOutput(selectors.order_get_granted(grant=order_grant(request))).data)


class OrderCancelView(APIView):
    permission_classes = [OrderAccess]

    @extend_schema(
        operation_id="orders_cancel",
        parameters=[ORDER_TOKEN_PARAMETER],
        request=None,
        responses={
            200: s.OrderDetailOutput,
            401: ORDER_TOKEN_EXPIRED,
            404: ORDER_NOT_FOUND,
            409: problem("Already shipped, or otherwise past cancelling (`illegal_transition`)."),
        },
    )
    def post(self, request: Request, order_id) -> Response:
        """Cancel before shipping; after shipping it is 409 (ask for a refund instead). The owner
        signed in, or a guest with the order's X-Order-Token."""
        grant = order_grant(request)
        order_cancel_by_shopper(grant=grant)
        return Response(s.OrderDetailOutput(selectors.order_get_granted(grant=grant)).data)
