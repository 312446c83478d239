"""Application errors: each class carries its HTTP status, stable code and default detail, and
the API renders every one of them as a problem body (apps.core.api.exceptions)."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.exceptions import APIException


class ApplicationError(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "application_error"
    default_detail = "The request could not be completed."

    def __init__(self, detail: str | None = None, *, code: str | None = None, extra: dict[str, Any] | None = None):
        super().__init__(detail=detail or self.default_detail, code=code or self.default_code)
        self.extra = extra or {}


class ValidationFailed(ApplicationError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"
    default_detail = "The request has invalid fields."

    def __init__(self, errors: dict[str, list[str]], detail: str | None = None, *, code: str | None = None):
        super().__init__(detail, code=code, extra={"errors": errors})


class Unauthorized(ApplicationError):
    """Credentials the request carried (a password, a token, a signature) were not accepted.

    Not DRF's AuthenticationFailed: DRF turns that into a 403 on views without an authenticator
    (the open sign-in views, webhooks), and these are 401s wherever they are raised."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "unauthorized"
    default_detail = "The credentials are missing or not accepted."


class NotFound(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"
    default_detail = "Not found."


class Conflict(ApplicationError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the current state of the resource."


class UnprocessableEntity(ApplicationError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "unprocessable"
    default_detail = "The request is well-formed but cannot be processed."


class ServiceUnavailable(ApplicationError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "service_unavailable"
    default_detail = "A service this request depends on is unavailable; try again shortly."
