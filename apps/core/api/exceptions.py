"""DRF exception handler: every error leaves the API as a problem body with a stable code, and
validation errors carry their field errors under `errors`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import set_rollback

from apps.core.api.parsers import RequestTooLarge
from apps.core.exceptions import ApplicationError
from apps.core.problems import PROBLEM_CONTENT_TYPE, problem_body


def _flatten_codes(codes: Any) -> str:
    while isinstance(codes, (list, dict)) and codes:
        codes = codes[0] if isinstance(codes, list) else next(iter(codes.values()))
    return codes if isinstance(codes, str) else "invalid"


def _field_errors(detail: Any) -> dict[str, Any]:
    """DRF's nested error detail as {field: [messages]} (nested serializers nest the same way)."""
    if not isinstance(detail, dict):
        return {"non_field_errors": _messages(detail)}
    return {
        field: _field_errors(value) if isinstance(value, dict) else _messages(value) for field, value in detail.items()
    }


def _messages(detail: Any) -> list[Any]:
    if isinstance(detail, list):
        return [_field_errors(item) if isinstance(item, dict) else str(item) for item in detail]
    return [str(detail)]


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, RequestDataTooBig):  # request.body past DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = RequestTooLarge()

    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: Django's 500 handler renders it as a problem body too

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    extra: dict[str, Any] = {}
    if isinstance(exc, exceptions.ValidationError):
        code = "invalid"
        detail = "The request has invalid fields."
        extra["errors"] = _field_errors(exc.detail)
        status_code = status.HTTP_400_BAD_REQUEST
    else:
        code = _flatten_codes(exc.get_codes())
        detail = str(exc.detail) if not isinstance(exc.detail, (list, dict)) else "The request failed."
        status_code = exc.status_code
        if isinstance(exc, ApplicationError):
            extra.update(exc.extra)

    set_rollback()
    return Response(
        problem_body(status=status_code, code=code, detail=detail, **extra),
        status=status_code,
        headers=headers,
        content_type=PROBLEM_CONTENT_TYPE,
    )
