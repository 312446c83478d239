"""System check: no model relation crosses a service boundary. import-linter cannot see string
references such as ForeignKey("payments.Payment"); this check sees the resolved models."""

from __future__ import annotations

from django.apps import apps as django_apps
from django.core import checks

from apps.core.services import is_service


def _owner(app_label: str) -> str:
    # Django's own apps and core form the shared platform part of every database.
    return app_label if is_service(app_label) else "platform"


def cross_service_relations(models=None) -> list[checks.Error]:
    errors = []
    for model in models if models is not None else django_apps.get_models():
        source = model._meta.app_label
        for field in [*model._meta.fields, *model._meta.many_to_many]:  # forward relations only
            if not field.is_relation or field.related_model is None:
                continue
            related = field.related_model
            # A lazy reference to a model not loaded here is still a string "app_label.Model".
            target = related.partition(".")[0] if isinstance(related, str) else related._meta.app_label
            target_label = related if isinstance(related, str) else related._meta.label
            if is_service(source) and _owner(source) != _owner(target):
                errors.append(
                    checks.Error(
                        f"{model._meta.label}.{field.name} relates to {target_label}, "
                        "which belongs to another service.",
                        hint="Reference another service's entities by UUID (and a snapshot of what "
                        "you need), never by a relation.",
                        obj=model,
                        id="core.E001",
                    )
                )
    return errors


@checks.register(checks.Tags.models)
def check_no_cross_service_relations(app_configs=None, **kwargs) -> list[checks.Error]:
    return cross_service_relations()


@checks.register()
def check_event_handlers(app_configs=None, **kwargs) -> list[checks.Error]:
    """Every event a running service subscribes to has a handler, so none is dropped."""
    from django.conf import settings

    from apps.core.events.declarations import subscribes
    from apps.core.events.handlers import registered_handlers

    handled = registered_handlers()
    return [
        checks.Error(
            f"{service} subscribes to {event_type!r} but registers no handler for it.",
            hint=f"Add @event_handler({service!r}, {event_type!r}) in apps/{service}/handlers.py.",
            id="core.E002",
        )
        for service in settings.ACTIVE_SERVICES
        for event_type in sorted(subscribes(service))
        if (service, event_type) not in handled
    ]


@checks.register()
def check_retry_countdowns(app_configs=None, **kwargs) -> list[checks.Error]:
    """No task may wait longer between retries than SQS hides its message: past the visibility
    timeout SQS would hand the same message to another worker while the first still waits."""
    from celery import current_app
    from django.conf import settings
    from django.utils.module_loading import autodiscover_modules

    limit = settings.CELERY_MAX_RETRY_COUNTDOWN
    autodiscover_modules("tasks")  # workers import every app's tasks module; so do we
    errors = []
    for name, task in sorted(current_app.tasks.items()):
        if not name.startswith("apps.") or not getattr(task, "autoretry_for", ()):
            continue
        setting = "retry_backoff_max" if task.retry_backoff else "default_retry_delay"
        seconds = getattr(task, setting)
        if seconds is not None and seconds > limit:
            errors.append(
                checks.Error(
                    f"Task {name} may wait {seconds}s before a retry ({setting}), more than "
                    f"CELERY_MAX_RETRY_COUNTDOWN ({limit}s).",
                    hint=f"Set {setting} <= {limit} on the task.",
                    id="core.E003",
                )
            )
    return errors


@checks.register()
def check_event_retention(app_configs=None, **kwargs) -> list[checks.Error]:
    """An inbox row pruned while its event can still arrive again would let it act twice."""
    from django.conf import settings

    from apps.core.events.provisioning import DLQ_RETENTION_SECONDS

    days = settings.INBOX_RETENTION_DAYS
    if days * 24 * 3600 > DLQ_RETENTION_SECONDS and days > settings.OUTBOX_RETENTION_DAYS:
        return []
    return [
        checks.Error(
            f"INBOX_RETENTION_DAYS ({days}) must exceed the dead-letter queue's retention "
            f"({DLQ_RETENTION_SECONDS // 86400} days) and OUTBOX_RETENTION_DAYS ({settings.OUTBOX_RETENTION_DAYS}).",
            hint="A redriven or replayed event older than its inbox row would be handled twice.",
            id="core.E003",
        )
    ]
