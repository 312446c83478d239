"""The event envelope every domain event travels in, whatever the transport."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


def to_jsonable(value: Any) -> Any:
    """Payloads carry money as strings (Decimal never becomes a float) and ids as strings."""
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class Envelope:
    type: str
    producer: str
    payload: dict[str, Any]
    trace_id: str
    version: int = 1
    # The W3C traceparent of the span that sent the event: its handlers' spans are its children.
    # Empty with tracing off, and in messages from before it was carried.
    traceparent: str = ""
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "version": self.version,
            "occurred_at": self.occurred_at.isoformat(),
            "producer": self.producer,
            "trace_id": self.trace_id,
            "traceparent": self.traceparent,
            "payload": self.payload,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Envelope:
        return cls(
            id=uuid.UUID(str(data["id"])),
            type=str(data["type"]),
            version=int(data["version"]),
            occurred_at=datetime.fromisoformat(str(data["occurred_at"])),
            producer=str(data["producer"]),
            trace_id=str(data["trace_id"]),
            traceparent=str(data.get("traceparent") or ""),
            payload=dict(data["payload"]),
        )
