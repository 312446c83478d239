"""Access to one order's endpoints (detail, cancel, payment): the owner signed in with their JWT,
or anyone holding the order's access token in the X-Order-Token header (a guest order's only
key; apps.orders.access). Every per-order view uses OrderAccess and reads the order through the
grant it leaves on the request, so the two ways in cannot drift apart.

The token is taken from a header only, never the query string: a query string lands in access
logs and Referer headers. The link in the shopper's email goes to the shop's page
(SHOP_FRONTEND_URL), which sends the token on as the header."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.orders.access import OrderGrant, order_access_verify

ORDER_TOKEN_HEADER = "X-Order-Token"

ORDER_TOKEN_PARAMETER = OpenApiParameter(
    ORDER_TOKEN_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The order's access token (from guest checkout, or the link in the order's emails): "
    "opens this one order without signing in. A forged token or another order's is 404; an expired "
    "one 401 (`order_token_expired`).",
)


class OrderAccess(BasePermission):
    """The owner's JWT, or a valid access token for the order in the URL (`order_id`). A token
    sent is decisive: when it is not valid for this order the answer is 404 (or 401 once
    expired), whoever is signed in; nothing tells a forged token from an unknown order."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        order_id = view.kwargs["order_id"]
        token = request.headers.get(ORDER_TOKEN_HEADER)
        if token:
            order_access_verify(token=token, order_id=order_id)
            request.order_grant = OrderGrant(order_id=order_id, customer_id=None)
            return True
        if request.user and request.user.is_authenticated:
            request.order_grant = OrderGrant(order_id=order_id, customer_id=request.user.id)
            return True
        return False  # DRF answers 401: no credentials at all


def order_grant(request: Request) -> OrderGrant:
    """The grant OrderAccess checked for this request."""
    return request.order_grant
