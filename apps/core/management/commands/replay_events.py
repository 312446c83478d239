"""Send already-sent outbox events again, e.g. to backfill a new subscriber or to prove that
consumers are idempotent. Consumers skip what they have handled, so a replay is safe."""

from datetime import datetime

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.core.events.outbox import send_traced
from apps.core.events.transport import get_transport


class Command(BaseCommand):
    help = "Re-send sent outbox events of this process's services (optionally by type and time)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--type", action="append", dest="types", help="Only these event types.")
        parser.add_argument("--since", help="Only events that occurred at or after this ISO time.")

    def handle(self, *args, **options) -> None:
        since = None
        if options["since"]:
            try:
                since = datetime.fromisoformat(options["since"])
            except ValueError as error:
                raise CommandError(f"--since must be an ISO 8601 time: {error}") from None
        transport = get_transport()
        for service in settings.ACTIVE_SERVICES:
            rows = apps.get_model(service, "OutboxEvent").objects.filter(sent_at__isnull=False)
            if options["types"]:
                rows = rows.filter(event_type__in=options["types"])
            if since:
                rows = rows.filter(occurred_at__gte=since)
            count = 0
            for row in rows.order_by("occurred_at").iterator():
                # In the trace the event was published in: its redelivery joins that trace.
                send_traced(row.to_envelope(), transport)
                count += 1
            self.stdout.write(f"replayed {count} event(s) of {service}")
