"""Views of the users API: thin, each validates input, calls one service or selector, and shapes
the output. Sign-in, token rotation, registration and password reset are open; the rest need the
shopper's access token. Every open write and every password check is throttled (docs/security.md)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.pagination import CursorPagination
from apps.core.api.schema import problem
from apps.core.api.throttles import AccountRateThrottle, ScopedRateThrottle
from apps.core.auth.keys import ALGORITHM, jwks
from apps.users import selectors
from apps.users.api import serializers as s
from apps.users.models import Customer
from apps.users.services import addresses, customers, emails, passwords, phone, tokens


def _token_pair_body(pair: tokens.TokenPair) -> dict[str, Any]:
    now = timezone.now()
    return s.TokenPairOutputSerializer(
        {
            "access_token": pair.access_token,
            "token_type": "Bearer",
            "expires_in": max(0, int((pair.access_expires_at - now).total_seconds())),
            "refresh_token": pair.refresh_token,
            "refresh_expires_in": max(0, int((pair.refresh_expires_at - now).total_seconds())),
        }
    ).data


class PublicView(APIView):
    """An endpoint for callers without an access token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


class ThrottledPublicView(PublicView):
    throttle_classes = [ScopedRateThrottle]


def _accepted(detail: str) -> Response:
    """202: the request was taken and something is on its way to the shopper (a text, an email)."""
    return Response(s.AcceptedOutputSerializer({"detail": detail}).data, status=status.HTTP_202_ACCEPTED)


# Sends the signed-in shopper a fresh proof for one of their contacts (a texted code, an emailed
# link): 202 saying what was sent. A subclass names its throttle scope, what it sends and what it
# says, and sets its schema with @extend_schema_view(post=...). A comment, not a docstring: the
# schema would show a docstring as every subclass's description.
class VerificationRequestView(APIView):
    throttle_classes = [ScopedRateThrottle]
    sent_detail: str

    def send(self, customer: Customer) -> None:
        raise NotImplementedError

    def post(self, request: Request) -> Response:
        customer = selectors.customer_get_active(customer_id=request.user.id)
        self.send(customer)
        return _accepted(self.sent_detail)


# --- Accounts and tokens -----------------------------------------------------------------------


class RegisterView(ThrottledPublicView):
    throttle_scope = "register"

    @extend_schema(
        operation_id="users_register",
        request=s.RegisterInputSerializer,
        responses={
            201: s.CustomerOutputSerializer,
            409: problem("The email is taken (`email_taken`)."),
        },
    )
    def post(self, request: Request) -> Response:
        data = s.RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        customer = customers.customer_register(**data.validated_data)
        return Response(s.CustomerOutputSerializer(customer).data, status=status.HTTP_201_CREATED)


class LoginView(ThrottledPublicView):
    throttle_scope = "login"

    @extend_schema(
        operation_id="users_token_obtain",
        summary="Sign in: an access token and a refresh token",
        request=s.LoginInputSerializer,
        responses={
            200: s.TokenPairOutputSerializer,
            401: problem("Wrong email or password (`invalid_credentials`)."),
            429: problem("Throttled (`throttled`), or the email is locked out by wrong passwords (`locked_out`)."),
        },
    )
    def post(self, request: Request) -> Response:
        data = s.LoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pair = tokens.customer_login(**data.validated_data)
        return Response(_token_pair_body(pair))


class RefreshView(ThrottledPublicView):
    # A budget of its own, generous: shoppers behind one NAT address refresh often.
    throttle_scope = "token"

    @extend_schema(
        operation_id="users_token_refresh",
        summary="Rotate a refresh token: a new pair; the old refresh token is spent",
        request=s.RefreshTokenInputSerializer,
        responses={
            200: s.TokenPairOutputSerializer,
            401: problem(
                "Invalid, expired or revoked (`refresh_token_invalid`), or already used, "
                "which signs the whole session out (`refresh_token_reused`).",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = s.RefreshTokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pair = tokens.token_refresh(refresh_token=data.validated_data["refresh_token"])
        return Response(_token_pair_body(pair))


class RevokeView(ThrottledPublicView):
    throttle_scope = "token"

    @extend_schema(
        operation_id="users_token_revoke",
        summary="Sign out: revoke a refresh token (and its session)",
        request=s.RefreshTokenInputSerializer,
        responses={204: None},
    )
    def post(self, request: Request) -> Response:
        data = s.RefreshTokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tokens.token_revoke(refresh_token=data.validated_data["refresh_token"])
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- The signed-in shopper ---------------------------------------------------------------------


class MeView(APIView):
    @extend_schema(operation_id="users_me_retrieve", responses={200: s.CustomerOutputSerializer})
    def get(self, request: Request) -> Response:
        customer = selectors.customer_get_active(customer_id=request.user.id)
        return Response(s.CustomerOutputSerializer(customer).data)

    @extend_schema(
        operation_id="users_me_update",
        request=s.ProfileUpdateInputSerializer,
        responses={200: s.CustomerOutputSerializer},
    )
    def patch(self, request: Request) -> Response:
        data = s.ProfileUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        customer = selectors.customer_get_active(customer_id=request.user.id)
        customer = customers.customer_update(customer=customer, data=data.validated_data)
        return Response(s.CustomerOutputSerializer(customer).data)


class PasswordChangeView(APIView):
    # Signed in, so counted per account; wrong current passwords also count toward the lockout.
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "password_change"

    @extend_schema(
        operation_id="users_me_password_change",
        summary="Change the password: other sessions are signed out, this one gets a new pair",
        request=s.PasswordChangeInputSerializer,
        responses={
            200: s.TokenPairOutputSerializer,
            429: problem("Throttled (`throttled`) or locked out by wrong passwords (`locked_out`)."),
        },
    )
    def post(self, request: Request) -> Response:
        data = s.PasswordChangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        customer = selectors.customer_get_active(customer_id=request.user.id)
        pair = passwords.customer_change_password(customer=customer, **data.validated_data)
        return Response(_token_pair_body(pair))


class SignOutEverywhereView(APIView):
    @extend_schema(
        operation_id="users_me_sign_out_everywhere",
        summary="Sign out everywhere: every refresh token and every access token issued so far stop working",
        request=None,
        responses={204: None},
    )
    def post(self, request: Request) -> Response:
        customer = selectors.customer_get_active(customer_id=request.user.id)
        tokens.customer_sign_out_everywhere(customer=customer)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    post=extend_schema(
        operation_id="users_me_phone_verification_request",
        summary="Text a verification code to the account's phone",
        request=None,
        responses={
            202: s.AcceptedOutputSerializer,
            400: problem("No phone in international format (`phone_not_verifiable`)."),
            409: problem("Already verified (`phone_already_verified`)."),
            429: problem("Throttled, or too many codes (`phone_code_limit`)."),
            503: problem("The text could not be sent (`sms_unavailable`)."),
        },
    )
)
class PhoneVerificationView(VerificationRequestView):
    throttle_scope = "phone_verification"
    sent_detail = "A verification code has been texted to your phone."

    def send(self, customer: Customer) -> None:
        phone.phone_verification_request(customer=customer)


class PhoneConfirmView(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "phone_confirm"

    @extend_schema(
        operation_id="users_me_phone_verification_confirm",
        summary="Verify the account's phone with the texted code",
        request=s.PhoneConfirmInputSerializer,
        responses={
            200: s.CustomerOutputSerializer,
            400: problem("Wrong, expired or used-up code (`phone_code_invalid`)."),
        },
    )
    def post(self, request: Request) -> Response:
        data = s.PhoneConfirmInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        customer = selectors.customer_get_active(customer_id=request.user.id)
        customer = phone.phone_verification_confirm(customer=customer, code=data.validated_data["code"])
        return Response(s.CustomerOutputSerializer(customer).data)


# --- Email verification ------------------------------------------------------------------------


@extend_schema_view(
    post=extend_schema(
        operation_id="users_me_email_verification_request",
        summary="Email a new link verifying the account's email",
        request=None,
        responses={202: s.AcceptedOutputSerializer, 409: problem("Already verified (`email_already_verified`).")},
    )
)
class EmailVerificationView(VerificationRequestView):
    throttle_scope = "email_verification"
    sent_detail = "A verification link has been sent to your email address."

    def send(self, customer: Customer) -> None:
        emails.email_verification_request(customer=customer)


class EmailVerifyView(ThrottledPublicView):
    throttle_scope = "email_verify"

    @extend_schema(
        operation_id="users_email_verify",
        summary="Verify the account's email with the token of the emailed link (open: the link is the proof)",
        request=s.EmailVerifyInputSerializer,
        responses={
            204: None,
            400: problem("Invalid input, or an invalid or expired token (`email_verification_token_invalid`)."),
        },
    )
    def post(self, request: Request) -> Response:
        data = s.EmailVerifyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        emails.email_verification_confirm(token=data.validated_data["token"])
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Password reset ----------------------------------------------------------------------------


class PasswordResetRequestView(ThrottledPublicView):
    # Per address, and per email whatever the address, so no one is flooded with reset emails.
    throttle_classes = [ScopedRateThrottle, AccountRateThrottle]
    throttle_scope = "password_reset"

    @extend_schema(
        operation_id="users_password_reset_request",
        summary="Email a password reset link (always 202, whether or not the account exists)",
        request=s.PasswordResetRequestInputSerializer,
        responses={202: s.AcceptedOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        data = s.PasswordResetRequestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        passwords.password_reset_request(email=data.validated_data["email"])
        return _accepted("If an account with this email exists, a password reset link has been sent to it.")


class PasswordResetConfirmView(ThrottledPublicView):
    # Its own budget: a shopper retrying after a too-weak password should not spend the one
    # that limits reset emails.
    throttle_scope = "password_reset_confirm"

    @extend_schema(
        operation_id="users_password_reset_confirm",
        summary="Set a new password with a reset token (single use; signs every session out)",
        request=s.PasswordResetConfirmInputSerializer,
        responses={
            204: None,
            400: problem("Invalid input, or an invalid, expired or used token (`reset_token_invalid`)."),
        },
    )
    def post(self, request: Request) -> Response:
        data = s.PasswordResetConfirmInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        passwords.password_reset_confirm(**data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Addresses ---------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        operation_id="users_addresses_list",
        parameters=[s.AddressListInputSerializer],
        responses={200: s.AddressOutputSerializer(many=True)},
    ),
    create=extend_schema(
        operation_id="users_addresses_create",
        request=s.AddressInputSerializer,
        responses={201: s.AddressOutputSerializer},
    ),
    retrieve=extend_schema(
        operation_id="users_addresses_retrieve",
        responses={200: s.AddressOutputSerializer},
    ),
    partial_update=extend_schema(
        operation_id="users_addresses_update",
        request=s.AddressInputSerializer(partial=True),
        responses={
            200: s.AddressOutputSerializer,
        },
    ),
    destroy=extend_schema(
        operation_id="users_addresses_destroy",
        responses={204: None},
    ),
)
class AddressViewSet(viewsets.GenericViewSet):
    """The signed-in shopper's own addresses. Another shopper's address is a 404, exactly like a
    missing one, so ids reveal nothing."""

    serializer_class = s.AddressOutputSerializer
    pagination_class = CursorPagination

    def get_queryset(self):
        return selectors.address_list(customer_id=self.request.user.id)

    def _own(self, address_id) -> Any:
        return selectors.address_get(customer_id=self.request.user.id, address_id=address_id)

    def list(self, request: Request) -> Response:
        query = s.AddressListInputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        self.cursor_ordering = s.ADDRESS_ORDERINGS[query.validated_data["ordering"]]
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.AddressOutputSerializer(page, many=True).data)

    def create(self, request: Request) -> Response:
        data = s.AddressInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        customer = selectors.customer_get_active(customer_id=request.user.id)
        address = addresses.address_create(customer_id=customer.id, data=data.validated_data)
        return Response(s.AddressOutputSerializer(address).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, address_id) -> Response:
        return Response(s.AddressOutputSerializer(self._own(address_id)).data)

    def partial_update(self, request: Request, address_id) -> Response:
        data = s.AddressInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        address = addresses.address_update(address=self._own(address_id), data=data.validated_data)
        return Response(s.AddressOutputSerializer(address).data)

    def destroy(self, request: Request, address_id) -> Response:
        addresses.address_delete(address=self._own(address_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Key discovery (root URLs, not under /api/v1/users/) ---------------------------------------


class DiscoveryView(PublicView):
    renderer_classes = [JSONRenderer]
    # Verifiers (API Gateway's JWT authorizer, the other services) cache these; keys rotate rarely.
    cache_seconds = 300

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code == status.HTTP_200_OK:
            response["Cache-Control"] = f"public, max-age={self.cache_seconds}"
        return response


class JWKSView(DiscoveryView):
    @extend_schema(operation_id="jwks", responses={200: s.JWKSOutputSerializer})
    def get(self, request: Request) -> Response:
        return Response(jwks())


class OpenIDConfigurationView(DiscoveryView):
    @extend_schema(operation_id="openid_configuration", responses={200: dict})
    def get(self, request: Request) -> Response:
        issuer = settings.JWT_ISSUER.rstrip("/")
        return Response(
            {
                "issuer": settings.JWT_ISSUER,
                "jwks_uri": f"{issuer}/.well-known/jwks.json",
                "token_endpoint": f"{issuer}/api/v1/users/token/",
                "id_token_signing_alg_values_supported": [ALGORITHM],
                "token_endpoint_auth_methods_supported": ["none"],
                "grant_types_supported": ["password", "refresh_token"],
                "response_types_supported": ["token"],
                "subject_types_supported": ["public"],
                "claims_supported": ["iss", "aud", "sub", "email", "iat", "exp", "jti", "typ"],
            }
        )
