"""Structured logging: one JSON object per line, carrying the request id and trace id (the
OpenTelemetry trace's, so a log line leads to its trace in X-Ray). Card
numbers are redacted from every line, whatever logged them (apps.core.cards)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from django.conf import settings

from apps.core.cards import redact_card_numbers, redact_card_numbers_in
from apps.core.context import log_trace_id, request_id_var

# Attributes every LogRecord has; anything else was passed in `extra` and belongs in the output.
_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "trace_id",
    "service",
}


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        record.trace_id = log_trace_id() or "-"
        record.service = getattr(settings, "SERVICE", None) or "all-in-one"
        return True


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": getattr(record, "service", None),
            "request_id": getattr(record, "request_id", None),
            "trace_id": getattr(record, "trace_id", None),
        }
        entry.update({key: value for key, value in record.__dict__.items() if key not in _STANDARD_ATTRS})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(redact_card_numbers_in(entry), default=lambda value: redact_card_numbers(str(value)))


class PlainFormatter(logging.Formatter):
    """Human-readable lines (development, tests), redacted like the JSON ones."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_card_numbers(super().format(record))
