"""Liveness and readiness, answered by middleware ahead of host validation: load balancers probe
with the task's IP as Host, which ALLOWED_HOSTS rightly does not list."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

LIVE_PATH = "/health/live"
READY_PATH = "/health/ready"


# Aliases found fully migrated; a schema does not go back, so each is checked until it is.
_migrated: set[str] = set()


def check_databases() -> dict[str, str]:
    """Each alias answers and holds every migration this code knows: a database left unmigrated
    (plain `migrate` on one alias, a forgotten release step) would answer the API with 500s."""
    results = {}
    for alias in connections:
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
            results[f"database:{alias}"] = "ok" if _is_migrated(alias) else "unmigrated"
        except Exception as error:  # a failed probe is the answer, not a crash
            logger.warning("readiness: database %s failed: %s", alias, error)
            results[f"database:{alias}"] = "unavailable"
    return results


def _is_migrated(alias: str) -> bool:
    if alias not in _migrated:
        executor = MigrationExecutor(connections[alias])
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            logger.warning("readiness: database %s has unapplied migrations", alias)
            return False
        _migrated.add(alias)
    return True


def readiness() -> tuple[bool, dict[str, str]]:
    results = check_databases()
    for dotted_path in getattr(settings, "READINESS_CHECKS", []):
        check: Callable[[], dict[str, str]] = import_string(dotted_path)
        results.update(check())
    return all(value == "ok" for value in results.values()), results


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info.rstrip("/")
        if path == LIVE_PATH:
            return JsonResponse({"status": "ok"})
        if path == READY_PATH:
            ready, checks = readiness()
            return JsonResponse(
                {"status": "ok" if ready else "unavailable", "checks": checks},
                status=200 if ready else 503,
            )
        return self.get_response(request)
