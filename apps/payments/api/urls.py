"""URLs of the payments API, mounted under /api/v1/payments/."""

from django.urls import path

from apps.payments.api import views

payments = views.PaymentViewSet.as_view({"get": "list"})
payment = views.PaymentViewSet.as_view({"get": "retrieve"})

urlpatterns = [
    path("", payments, name="payment-list"),
    path("<uuid:payment_id>/", payment, name="payment-detail"),
    path("webhooks/<slug:provider>/", views.WebhookView.as_view(), name="webhook"),
    path("orders/<uuid:order_id>/attempts/", views.PaymentRetryView.as_view(), name="order-attempt"),
    path("return/", views.PaymentReturnView.as_view(), name="return"),
    path("sandbox/authenticate/", views.SandboxAuthenticateView.as_view(), name="sandbox-authenticate"),
]
