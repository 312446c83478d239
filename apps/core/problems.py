"""The JSON problem body (RFC 9457) every error is rendered as, inside and outside DRF."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import JsonResponse

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://shopstack.dev/problems/"


def problem_body(*, status: int, code: str, detail: str, title: str | None = None, **extra: Any) -> dict[str, Any]:
    try:
        default_title = HTTPStatus(status).phrase
    except ValueError:
        default_title = "Error"
    return {
        "type": PROBLEM_TYPE_BASE + code.replace("_", "-"),
        "title": title or default_title,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }


def problem_response(*, status: int, code: str, detail: str, **extra: Any) -> JsonResponse:
    return JsonResponse(
        problem_body(status=status, code=code, detail=detail, **extra),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )
