"""Views of the orders API, a module per story: the cart, checkout (signed in and guest) with the
shopper's orders list, and one order. Each view validates input, calls one service or selector,
and shapes the output."""

from apps.orders.api.views.cart import (
    CartLinesView,
    CartLineView,
    CartMergeView,
    CartView,
    CartVoucherView,
    ShippingQuoteView,
)
from apps.orders.api.views.checkout import GuestCheckoutView, OrdersView
from apps.orders.api.views.order import OrderCancelView, OrderView

__all__ = [
    "CartLineView",
    "CartLinesView",
    "CartMergeView",
    "CartView",
    "CartVoucherView",
    "GuestCheckoutView",
    "OrderCancelView",
    "OrderView",
    "OrdersView",
    "ShippingQuoteView",
]
