"""Error views for requests outside DRF (unknown URLs, crashes): problem bodies, not HTML. Also the
problem body for any error status, which ApiResponseMiddleware puts in place of an HTML error page."""

from __future__ import annotations

import re
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.views.static import serve

from apps.core.problems import problem_response

# Stable codes and details for the statuses Django, its middleware and WSGI servers answer with.
_PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request is malformed."),
    403: ("permission_denied", "You may not do this."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("request_too_large", "The request body is too large."),
    500: ("server_error", "An unexpected error occurred; it has been logged."),
}


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_for_status(request, 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_for_status(request, 403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_for_status(request, 404)


def server_error(request: HttpRequest) -> JsonResponse:
    return problem_for_status(request, 500)


def problem_for_status(request: HttpRequest, status: int) -> JsonResponse:
    if status == 404:
        return problem_response(status=404, code="not_found", detail=f"Nothing is served at {request.path}.")
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    code, detail = _PROBLEMS.get(status, (re.sub(r"[^a-z]+", "_", phrase.lower()).strip("_"), phrase + "."))
    return problem_response(status=status, code=code, detail=detail)


def media_serve(request: HttpRequest, path: str) -> HttpResponseBase:
    """Uploaded files from MEDIA_ROOT, for the shapes that keep them on the local disk (all-in-one,
    local runs): there is no web server in front to do it. Read per request, so MEDIA_ROOT may
    change (tests). Split and production shapes serve media from S3 or a CDN instead."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)
