"""What every API answer gets, whoever made it (DRF, Django, a middleware, DEBUG's error pages):
errors as problem bodies, and `Cache-Control: no-store` unless the view chose a cache policy. And
a request holding a NUL character, which no database column can take, refused up front.

API paths are all but the admin's and static and media files': unknown URLs included."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from apps.core.problems import PROBLEM_CONTENT_TYPE, problem_response
from apps.core.views import problem_for_status

# Answers that may carry tokens or personal data must not be kept by browsers or proxies
# (RFC 6749 5.1, RFC 9111 5.2.2.5). Public answers (catalog) set their own Cache-Control.
DEFAULT_CACHE_CONTROL = "private, no-store"
_NOT_COPIED = {"content-type", "content-length"}


def is_api_path(path: str) -> bool:
    own_pages = (f"/{settings.ADMIN_URL}", settings.STATIC_URL, settings.MEDIA_URL)
    return not any(prefix and path.startswith(prefix) for prefix in own_pages)


class ApiResponseMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not is_api_path(request.path):
            return response
        if response.status_code >= 400 and not response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE):
            # DEBUG's HTML pages (unknown URL, crash, a too large body), CSRF's refusal, a
            # server's plain text: replaced, keeping the headers (Allow, CORS, Retry-After...).
            response = _as_problem(request, response)
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = DEFAULT_CACHE_CONTROL
        return response


def _as_problem(request: HttpRequest, original: HttpResponseBase) -> HttpResponse:
    problem = problem_for_status(request, original.status_code)
    for name, value in original.items():
        if name.lower() not in _NOT_COPIED:
            problem[name] = value
    return problem


class RefuseNulMiddleware:
    """A NUL character in the path, the query or a header is a 400 problem before any view runs:
    PostgreSQL keeps none in text, so it would reach a query as a 500 (a cart line's SKU in its
    URL did). No client needs one; JSON bodies are held to the same by apps.core.api.parsers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if _holds_nul(request):
            return problem_response(status=400, code="bad_request", detail="The request holds a NUL character.")
        return self.get_response(request)


def _holds_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path:
        return True
    # A NUL reaches the parsed query only as itself or as %00, so a query string holding neither
    # is not parsed here (most are parsed by no one else: the catalog's pages keep their own).
    query = request.META.get("QUERY_STRING", "")
    if ("\x00" in query or "%00" in query) and any(
        "\x00" in name or any("\x00" in value for value in values) for name, values in request.GET.lists()
    ):
        return True
    return any(
        "\x00" in value for name, value in request.META.items() if name.startswith("HTTP_") and isinstance(value, str)
    )
