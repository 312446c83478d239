"""Create or update the SNS topic, SQS queues, DLQs, subscriptions (and media bucket) from the
services' declarations, against the configured AWS endpoint. Safe to run again."""

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.core.events.provisioning import provision
from config.services import SERVICES


class Command(BaseCommand):
    help = "Provision event topic, queues, dead-letter queues and subscriptions (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--service", action="append", choices=list(SERVICES), help="Only these services.")
        parser.add_argument("--bucket", default=getattr(settings, "AWS_STORAGE_BUCKET_NAME", None) or None)

    def handle(self, *args, **options) -> None:
        changes = provision(services=options["service"], bucket=options["bucket"])
        for change in changes:
            self.stdout.write(str(change))
        self.stdout.write(f"{len(changes)} change(s)." if changes else "Everything is up to date.")
