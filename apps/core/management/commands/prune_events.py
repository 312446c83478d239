"""Prune sent outbox and old inbox rows of this process's services (the all-in-one shape has no
Celery beat: run this from cron; the split shape runs the same as the beat task)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.core.events.retention import events_prune


class Command(BaseCommand):
    help = "Delete sent outbox rows older than OUTBOX_RETENTION_DAYS and inbox rows older than INBOX_RETENTION_DAYS."

    def handle(self, *args, **options) -> None:
        for service in settings.ACTIVE_SERVICES:
            pruned = events_prune(service=service)
            self.stdout.write(f"{service}: pruned {pruned.outbox} outbox and {pruned.inbox} inbox row(s)")
