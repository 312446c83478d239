"""URLs of the orders API, mounted under /api/v1/orders/."""

from django.urls import path

from apps.orders.api import views

urlpatterns = [
    path("", views.OrdersView.as_view(), name="orders"),
    path("guest/", views.GuestCheckoutView.as_view(), name="orders-guest-checkout"),
    path("cart/", views.CartView.as_view(), name="cart"),
    path("cart/lines/", views.CartLinesView.as_view(), name="cart-lines"),
    path("cart/lines/<str:sku>/", views.CartLineView.as_view(), name="cart-line"),
    path("cart/merge/", views.CartMergeView.as_view(), name="cart-merge"),
    path("cart/voucher/", views.CartVoucherView.as_view(), name="cart-voucher"),
    path("cart/shipping-methods/", views.ShippingQuoteView.as_view(), name="cart-shipping-methods"),
    path("<uuid:order_id>/", views.OrderView.as_view(), name="order"),
    path("<uuid:order_id>/cancel/", views.OrderCancelView.as_view(), name="order-cancel"),
]
