"""App config for the shared platform package."""

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Platform"

    def ready(self) -> None:
        from apps.core import checks  # noqa: F401  (registers the system checks)
        from apps.core.auth.revocation import register_token_revocation
        from apps.core.staff import register_staff_replication
        from apps.core.tracing import tracing_init

        # Before any request, query or task, and before the handler loads the middleware (the
        # Django instrumentation adds its own).
        tracing_init()
        from apps.core.tasks import task_trace_connect

        task_trace_connect()
        register_staff_replication()
        register_token_revocation()
        autodiscover_modules("handlers")
