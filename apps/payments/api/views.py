"""Views of the payments API: the shopper's own payments (read-only, JWT) and the provider
webhook endpoint (no JWT: authenticated by its HMAC signature)."""

from __future__ import annotations

import uuid

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.pagination import CursorPagination
from apps.core.api.parsers import json_loads_strict
from apps.core.api.schema import problem
from apps.core.api.throttles import ScopedRateThrottle
from apps.payments import selectors, webhooks
from apps.payments.api import serializers as s
from apps.payments.errors import WebhookPayloadInvalid, WebhookProviderUnknown
from apps.payments.providers import get_provider
from apps.payments.providers import stripe as stripe_provider
from apps.payments.services import provider_webhooks


class PaymentViewSet(viewsets.GenericViewSet):
    """The signed-in shopper's payments, newest first, with their refunds. Another shopper's
    payment is a 404, exactly like a missing one."""

    serializer_class = s.PaymentOutputSerializer
    pagination_class = CursorPagination

    @extend_schema(
        operation_id="payments_list",
        parameters=[s.PaymentFilterInputSerializer],
        responses={200: s.PaymentOutputSerializer(many=True)},
    )
    def list(self, request: Request) -> Response:
        query = s.PaymentFilterInputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = dict(query.validated_data)
        # Read by CursorPagination.get_ordering.
        self.cursor_ordering = s.PAYMENT_ORDERINGS[filters.pop("ordering")]
        page = self.paginate_queryset(selectors.payment_list(customer_id=request.user.id, **filters))
        return self.get_paginated_response(s.PaymentOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="payments_retrieve",
        responses={200: s.PaymentOutputSerializer, 404: problem("No such payment (`payment_not_found`).")},
    )
    def retrieve(self, request: Request, payment_id: uuid.UUID) -> Response:
        payment = selectors.payment_get(customer_id=request.user.id, payment_id=payment_id)
        return Response(s.PaymentOutputSerializer(payment).data)


class WebhookView(APIView):
    """Provider events, signed with `X-Shopstack-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256
    of "<t>.<raw body>">` (the sandbox), or Stripe's events under `Stripe-Signature` (the same
    scheme, checked by Stripe's SDK, at /webhooks/stripe/). Each event id is accepted once."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    # The signature is the credential (HMAC-SHA256 over a 32+ character secret: not guessable),
    # so the budget only bounds unauthenticated work per address, far above a provider's bursts;
    # a provider retries a 429 like any other failure.
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "payments_webhook"

    @extend_schema(
        operation_id="payments_webhook_receive",
        request=s.WebhookEventInputSerializer,
        parameters=[
            OpenApiParameter(
                webhooks.SIGNATURE_HEADER,
                location=OpenApiParameter.HEADER,
                required=False,
                description="t=...,v1=... (the sandbox's events)",
            ),
            OpenApiParameter(
                "Stripe-Signature",
                location=OpenApiParameter.HEADER,
                required=False,
                description="t=...,v1=... (Stripe's events)",
            ),
        ],
        responses={
            200: s.WebhookReceivedOutputSerializer,
            400: problem("Not a valid event (`webhook_payload_invalid`, `invalid`)."),
            401: problem(
                "Bad signature (`webhook_signature_invalid`) or a stale timestamp (`webhook_timestamp_expired`)."
            ),
            404: problem("No such provider (`webhook_provider_unknown`)."),
            409: problem("The event id was already received (`webhook_replayed`)."),
            422: problem("The event names an unknown charge or payment."),
        },
    )
    def post(self, request: Request, provider: str) -> Response:
        if provider != get_provider().name:
            raise WebhookProviderUnknown()
        body = request.body  # the raw bytes, as signed; read before anything parses them
        if provider == stripe_provider.StripeProvider.name:
            stripe_provider.webhook_event(
                body=body,
                header=request.headers.get(stripe_provider.SIGNATURE_HEADER),
                secrets=[secret.strip() for secret in settings.STRIPE_WEBHOOK_SECRET.split(",") if secret.strip()],
                tolerance_seconds=settings.PAYMENTS_WEBHOOK_TOLERANCE_SECONDS,
            )
        else:
            webhooks.verify(
                header=request.headers.get(webhooks.SIGNATURE_HEADER),
                body=body,
                secrets=[secret.strip() for secret in settings.PAYMENTS_WEBHOOK_SECRET.split(",")],
                tolerance_seconds=settings.PAYMENTS_WEBHOOK_TOLERANCE_SECONDS,
            )
        try:
            payload = json_loads_strict(body)
        except ValueError as error:  # also not UTF-8 (UnicodeDecodeError is a ValueError)
            raise WebhookPayloadInvalid(f"The body is not JSON within the API's limits: {error}.") from None
        if not isinstance(payload, dict):
            raise WebhookPayloadInvalid()
        event = s.WebhookEventInputSerializer(data=payload)
        event.is_valid(raise_exception=True)
        received = provider_webhooks.webhook_receive(
            provider=provider,
            event_id=event.validated_data["id"],
            event_type=event.validated_data["type"],
            data=event.validated_data["data"],
            payload=payload,
        )
        return Response(s.WebhookReceivedOutputSerializer({"received": True, "outcome": received.outcome}).data)
