"""Views of the payments API: the shopper's own payments (read-only, JWT), paying an order again
with another method (the order's retry key, or the shopper's JWT), the shopper's return from
3-D Secure (authenticated by the payment's client secret, so a browser redirect works), the
sandbox's bank page, and the provider webhook endpoint (no JWT: authenticated by its HMAC
signature)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.http import HttpResponseRedirect
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.exceptions import NotAuthenticated
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
from apps.payments.errors import PaymentReturnUnknown, WebhookPayloadInvalid, WebhookProviderUnknown
from apps.payments.providers import get_provider
from apps.payments.providers import stripe as stripe_provider
from apps.payments.providers.sandbox import SandboxProvider
from apps.payments.services import attempts, provider_webhooks


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


class PaymentRetryView(APIView):
    """Pay the order again with another payment method, before its deadline: after a decline or a
    failed authentication, or instead of an authentication the shopper gave up. The previous
    attempt is cancelled at the provider first. The answer is the new attempt's outcome: paid
    (the order is confirmed), or an action to complete (3-D Secure); a decline is a 402 or 422
    problem and the order can be paid again.

    Who may: whoever sends the order's `retry_key` (the order's detail shows it to its owner and
    to the holder of its access token, so a guest can; payments checks it against its SHA-256,
    needing nothing of orders' signing key), or, without a key, the payment's signed-in shopper.
    A wrong key, another order's or none for a stranger is a 404, as for an order that does not
    exist."""

    permission_classes = [AllowAny]  # the key or the JWT, checked below
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "payment_attempt"

    @extend_schema(
        operation_id="payments_order_attempt_create",
        request=s.PaymentRetryInputSerializer,
        responses={
            200: s.PaymentAttemptOutputSerializer,
            400: problem("Invalid input, or a card number instead of a token (`invalid`)."),
            401: problem("Neither a retry key nor a signed-in shopper (`not_authenticated`)."),
            402: problem("The provider declined the method (`payment_declined`, `decline_code` names why)."),
            404: problem(
                "No payment for this order that this key, or this signed-in shopper, may pay (`payment_not_found`)."
            ),
            409: problem(
                "Already paid or an attempt still running (`payment_not_retryable`), or the deadline "
                "passed (`payment_deadline_passed`)."
            ),
            422: problem("The provider does not know the method: made up or expired (`invalid_payment_method`)."),
            503: problem("The provider cannot answer now (`payment_provider_unavailable`); nothing was taken."),
        },
    )
    def post(self, request: Request, order_id: uuid.UUID) -> Response:
        body = s.PaymentRetryInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        retry_key = body.validated_data.get("retry_key", "")
        signed_in = bool(request.user and request.user.is_authenticated)
        if not retry_key and not signed_in:
            raise NotAuthenticated()
        answer = attempts.payment_retry(
            order_id=order_id,
            payment_method_token=body.validated_data["payment_method_token"],
            customer_id=request.user.id if signed_in else None,
            retry_key=retry_key,
        )
        return Response(s.PaymentAttemptOutputSerializer(answer).data)


class PaymentReturnView(APIView):
    """Where the provider sends the shopper back after 3-D Secure (PAYMENTS_RETURN_URL), with
    `payment_intent` and `payment_intent_client_secret` in the query; a client that completed the
    action with Stripe.js may POST the same two values. The client secret is the credential. The
    outcome is read from the provider and recorded, unless its webhook came first: either way
    once; the order follows (payment.succeeded or payment.failed)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "payment_return"

    def _answer(self, data) -> Response:
        query = s.PaymentReturnInputSerializer(data=data)
        query.is_valid(raise_exception=True)
        intent = attempts.payment_return(
            payment_intent=query.validated_data["payment_intent"],
            client_secret=query.validated_data["payment_intent_client_secret"],
        )
        return Response(s.PaymentAttemptOutputSerializer(attempts.AttemptAnswer(intent=intent)).data)

    @extend_schema(
        operation_id="payments_return_retrieve",
        parameters=[s.PaymentReturnInputSerializer],
        responses={
            200: s.PaymentAttemptOutputSerializer,
            400: problem("A parameter is missing (`invalid`)."),
            404: problem("No payment waits for this PaymentIntent and secret (`payment_return_unknown`)."),
            503: problem("The provider cannot answer now (`payment_provider_unavailable`): return again."),
        },
    )
    def get(self, request: Request) -> Response:
        return self._answer(request.query_params)

    @extend_schema(
        operation_id="payments_return_create",
        request=s.PaymentReturnInputSerializer,
        responses={
            200: s.PaymentAttemptOutputSerializer,
            400: problem("A field is missing (`invalid`)."),
            404: problem("No payment waits for this PaymentIntent and secret (`payment_return_unknown`)."),
            503: problem("The provider cannot answer now (`payment_provider_unavailable`): return again."),
        },
    )
    def post(self, request: Request) -> Response:
        return self._answer(request.data)


class SandboxAuthenticateView(APIView):
    """The sandbox's stand-in for a bank's 3-D Secure page (only while the sandbox is the
    provider): it settles the authentication as the test token says and sends the shopper on to
    the return URL, as a bank's page would."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "payment_return"

    @extend_schema(
        operation_id="payments_sandbox_authenticate",
        parameters=[s.SandboxAuthenticateInputSerializer],
        responses={
            302: OpenApiResponse(description="On to the return URL."),
            400: problem("A parameter is missing (`invalid`)."),
            404: problem("Not the sandbox, or no such payment and secret (`payment_return_unknown`)."),
        },
    )
    def get(self, request: Request) -> HttpResponseRedirect:
        provider = get_provider()
        if not isinstance(provider, SandboxProvider):
            raise PaymentReturnUnknown()
        query = s.SandboxAuthenticateInputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        target = provider.authenticate(
            intent_id=query.validated_data["payment_intent"], client_secret=query.validated_data["client_secret"]
        )
        if target is None:
            raise PaymentReturnUnknown()
        return HttpResponseRedirect(target)
