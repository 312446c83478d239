"""Print an order's trace as a tree across services, from the local span files the split stack and
the all-in-one server write (TRACING_EXPORTER=file): each span's service, name and duration."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.core.trace_tree import spans_load, trace_ids_for, trace_render


class Command(BaseCommand):
    help = "Print the trace(s) of an order (by order number or id) or a trace id, as a tree of spans."

    def add_arguments(self, parser) -> None:
        parser.add_argument("key", help="An order number (or order id), or a 32-digit trace id.")
        parser.add_argument("--queries", action="store_true", help="Show each database query as a span of its own.")
        parser.add_argument(
            "--dir", help="The span files' folder (default: TRACING_FILE_DIR, where this shop writes them)."
        )

    def handle(self, *args, **options) -> None:
        directory = Path(options["dir"] or settings.TRACING_FILE_DIR)
        spans = spans_load(directory)
        if not spans:
            raise CommandError(f"No spans in {directory}: run the shop with TRACING_EXPORTER=file (the local default).")
        trace_ids = trace_ids_for(spans, options["key"])
        if not trace_ids:
            raise CommandError(f"No trace in {directory} names {options['key']!r}.")
        for index, trace_id in enumerate(trace_ids):
            if index:
                self.stdout.write("")
            self.stdout.write("\n".join(trace_render(spans, trace_id, queries=options["queries"])))
