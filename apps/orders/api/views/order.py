"""One order: its detail and its cancellation, for its owner (JWT) or a guest holding the order's
access token (X-Order-Token, api/access.py)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.schema import problem
from apps.orders import selectors
from apps.orders.api import serializers as s
from apps.orders.api.access import ORDER_TOKEN_PARAMETER, OrderAccess, order_grant
from apps.orders.services.cancellation import order_cancel_by_shopper

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
        return Response(s.rendered(s.OrderDetailOutput, selectors.order_get_granted(grant=order_grant(request))))


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
        return Response(s.rendered(s.OrderDetailOutput, selectors.order_get_granted(grant=grant)))
