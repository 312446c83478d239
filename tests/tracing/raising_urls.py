"""The project's URLs and one view that fails, for the server-span tests."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns


def fail(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the view failed")


urlpatterns = [path("tracing-test/fail/", fail), *project_urlpatterns]
