"""A test transport that delivers events to the payments service only and records the rest, so
these tests do not depend on what other services' handlers do with payments' events."""

from __future__ import annotations

from apps.core.events.envelope import Envelope
from apps.core.events.handlers import deliver

sent: list[Envelope] = []


class PaymentsOnlyTransport:
    def send(self, envelope: Envelope) -> None:
        sent.append(envelope)
        if envelope.producer != "payments":
            deliver("payments", envelope)
