"""Domain events: the transactional outbox, idempotent handlers, and their transports.

publish(producer="orders", event_type="order.created", payload=...)   # in services.py
@event_handler("catalog", "order.created")                            # in handlers.py
def on_order_created(envelope: Envelope) -> None: ...
"""

from apps.core.events.envelope import Envelope
from apps.core.events.handlers import event_handler
from apps.core.events.outbox import publish, publish_about_customer, publish_many

__all__ = ["Envelope", "event_handler", "publish", "publish_about_customer", "publish_many"]
