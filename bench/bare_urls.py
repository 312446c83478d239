"""The service's own URLs plus /bench/bare/: the cheapest Django JSON answer through the same
middleware stack, the baseline the catalog list is measured against."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import urlpatterns as service_urlpatterns


def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/bare/", bare), *service_urlpatterns]
