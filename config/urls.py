"""Root URLconf: mounts only the active services' APIs (/api/v1/<service>/), their OpenAPI schema
and docs, and the admin. In the split shape that is exactly one service."""

from __future__ import annotations

import re
from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core.adminsite import admin_site_configure
from apps.core.staff_handoff import staff_handoff_urls
from apps.core.views import media_serve
from config.services import SERVICES


def _service_urls(name: str) -> list:
    service = SERVICES[name]
    api = import_module(f"{service.app}.api.urls")
    api_patterns = [path(service.url_prefix, include((api.urlpatterns, name)))]
    schema_urlconf = SimpleNamespace(urlpatterns=api_patterns)
    return [
        *api_patterns,
        *getattr(api, "root_urlpatterns", []),
        path(
            f"{service.url_prefix}schema/",
            SpectacularAPIView.as_view(
                urlconf=schema_urlconf,
                custom_settings={"TITLE": f"ShopStack {name} API"},
            ),
            name=f"{name}-schema",
        ),
        path(
            f"{service.url_prefix}docs/",
            SpectacularSwaggerView.as_view(url_name=f"{name}-schema"),
            name=f"{name}-docs",
        ),
    ]


admin_site_configure()

# The hand-off paths come first: they sit under the admin's prefix without being admin views.
urlpatterns = [*staff_handoff_urls(), path(settings.ADMIN_URL, admin.site.urls)]
for _name in settings.ACTIVE_SERVICES:
    urlpatterns += _service_urls(_name)
if "catalog" in settings.ACTIVE_SERVICES and settings.MEDIA_STORAGE == "local":
    # Product images on the local disk (all-in-one): nothing else would serve the admin's image
    # links or the API's image_url.
    urlpatterns += [re_path(rf"^{re.escape(settings.MEDIA_URL.lstrip('/'))}(?P<path>.+)$", media_serve)]

handler400 = "apps.core.views.bad_request"
handler403 = "apps.core.views.permission_denied"
handler404 = "apps.core.views.not_found"
handler500 = "apps.core.views.server_error"
