"""DRF authentication by the users service's JWT, verified locally (no call to users), and
refused once users has revoked the subject's tokens (apps.core.auth.revocation)."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from apps.core.auth.revocation import token_is_revoked
from apps.core.auth.tokens import InvalidToken, TokenUser, verify_access_token
from apps.core.services import is_active


class JWTAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[TokenUser, str] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        token = token.strip()
        if not token:
            raise exceptions.AuthenticationFailed("The Authorization header has no token.", code="token_missing")
        try:
            user = verify_access_token(token)
        except InvalidToken as error:
            raise exceptions.AuthenticationFailed(str(error), code="token_invalid") from error
        if token_is_revoked(service=_service_of(request), subject_id=user.id, issued_at=user.issued_at):
            raise exceptions.AuthenticationFailed(
                "The token was revoked: the account was signed out, deactivated or its password changed.",
                code="token_revoked",
            )
        return user, token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


def _service_of(request: Request) -> str:
    """The service whose revocation table answers: the view's own (all-in-one, each service reads
    its own, as it would deployed), else the one this process runs."""
    view = (getattr(request, "parser_context", None) or {}).get("view")
    config = apps.get_containing_app_config(type(view).__module__) if view is not None else None
    if config is not None and is_active(config.label):
        return config.label
    return settings.SERVICE or settings.ACTIVE_SERVICES[0]


class JWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = JWTAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
