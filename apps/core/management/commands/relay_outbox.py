"""Send unsent outbox events of this process's services; with --loop, keep sweeping."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.core.events.outbox import relay_pending


class Command(BaseCommand):
    help = "Relay unsent outbox events (once, or every --interval seconds with --loop)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--loop", action="store_true")
        parser.add_argument("--interval", type=float, default=settings.OUTBOX_SWEEP_SECONDS)

    def handle(self, *args, **options) -> None:
        while True:
            for service in settings.ACTIVE_SERVICES:
                try:
                    sent = relay_pending(service)
                except Exception as error:  # the next sweep tries again
                    self.stderr.write(f"relay {service}: {error}")
                    continue
                if sent:
                    self.stdout.write(f"relayed {sent} event(s) of {service}")
            if not options["loop"]:
                return
            time.sleep(options["interval"])
