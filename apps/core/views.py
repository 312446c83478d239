"""Error views for requests outside DRF (unknown URLs, crashes): problem bodies, not HTML."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from apps.core.problems import problem_response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_response(status=400, code="bad_request", detail="The request is malformed.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_response(status=403, code="permission_denied", detail="You may not do this.")


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_response(status=404, code="not_found", detail=f"Nothing is served at {request.path}.")


def server_error(request: HttpRequest) -> JsonResponse:
    return problem_response(status=500, code="server_error", detail="An unexpected error occurred; it has been logged.")
