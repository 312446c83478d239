"""The cart API: a signed-in shopper's cart or an anonymous one (by cart token), its lines, its
voucher, the shipping methods it can go by, and merging an anonymous cart after signing in.

Cart addressing: a signed-in shopper (JWT) always gets their own cart, whatever X-Cart-Token says.
Without a JWT the cart is the one named by the X-Cart-Token header; adding the first line without
a token creates an anonymous cart and returns its token (body `token` and X-Cart-Token header).
After signing in, the shopper merges the anonymous cart explicitly with POST cart/merge/ and the
token: explicit, so a client decides when it happens and a stale token is a clear 404 instead of
silently changing the shopper's cart on some later request."""

from __future__ import annotations

from collections.abc import Mapping

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.schema import problem
from apps.core.api.throttles import ScopedRateThrottle
from apps.core.exceptions import ValidationFailed
from apps.orders import selectors
from apps.orders.api import serializers as s
from apps.orders.errors import CartNotFound, ShippingDestinationUnsupported
from apps.orders.integrations import VariantSnapshot
from apps.orders.models import Cart
from apps.orders.pricing.basket import Destination
from apps.orders.services import cart as cart_services

CART_TOKEN_HEADER = "X-Cart-Token"

CART_TOKEN_PARAMETER = OpenApiParameter(
    CART_TOKEN_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The anonymous cart's token (ignored when signed in).",
)
CART_NOT_FOUND = problem("The cart token is unknown or the cart was merged (`cart_not_found`).")
CATALOG_UNAVAILABLE = problem("The catalog cannot answer for prices and stock now (`catalog_unavailable`).")


def _cart_priced(
    request: Request, cart: Cart | None, variants: Mapping[str, VariantSnapshot] | None = None
) -> selectors.PricedCart:
    """The cart priced for the destination and method in the query (country, region,
    shipping_method), or the shop's default country and the cheapest method; `variants`: catalog's
    snapshot this request already read."""
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
        variants=variants,
    )


def _cart_response(
    cart: Cart | None,
    *,
    status_code: int = status.HTTP_200_OK,
    token: str | None = None,
    request: Request,
    variants: Mapping[str, VariantSnapshot] | None = None,
) -> Response:
    priced = _cart_priced(request, cart, variants)
    data = s.rendered(s.CartOutput, priced)
    if token is None:
        return Response(data, status=status_code)
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
            added = cart_services.cart_line_add(customer_id=request.user.id, **data.validated_data)
        elif request.headers.get(CART_TOKEN_HEADER):
            cart = selectors.cart_get_by_token(token=request.headers[CART_TOKEN_HEADER])
            added = cart_services.cart_line_add(cart=cart, **data.validated_data)
        else:
            cart, token = cart_services.cart_anonymous_create(**data.validated_data)
            return _cart_response(cart, token=token, status_code=status.HTTP_201_CREATED, request=request)
        return _cart_response(added.cart, request=request, variants=added.variants)


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
