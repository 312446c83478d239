"""kombu's SQS transport with the acknowledgements batched: a finished task's message is deleted
with DeleteMessageBatch (up to 10 a call, at most ACK_BATCH_SECONDS after the first waits)
instead of one DeleteMessage call per message, which was the commonest AWS call of the checkout
saga (docs/benchmarks.md). Settings: CELERY_BROKER_TRANSPORT names this module's Transport.

The delivery is released in the worker at once (its prefetch slot freed), as kombu's own ack does
once its DeleteMessage returns. A message whose delete has not gone out when the worker dies is
not lost: SQS delivers it again after its visibility timeout, and a redelivered event or task has
no second effect (the inbox; the tasks' own state checks), exactly as for a worker killed between
a task's end and its DeleteMessage today. A delete SQS refuses (a receipt handle that expired) is
logged and the message comes back the same way."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kombu.transport import SQS, virtual

logger = logging.getLogger(__name__)

# SQS's limit per DeleteMessageBatch.
ACK_BATCH_SIZE = 10
# How long the first acknowledgement of a batch waits for others to join it: short against the
# visibility timeout (minutes), long against the tasks' pace under load (tens a second).
ACK_BATCH_SECONDS = 0.05


class DeleteBatcher:
    """Collects (queue URL, receipt handle) pairs and deletes them in batches from one thread."""

    def __init__(self, *, batch_size: int = ACK_BATCH_SIZE, wait: float = ACK_BATCH_SECONDS) -> None:
        self.batch_size = batch_size
        self.wait = wait
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        # queue URL -> (the client to delete with, [receipt handles]), and when the oldest came.
        self._pending: dict[str, tuple[Any, list[str]]] = {}
        self._oldest: float | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="sqs-acks", daemon=True)
        self._thread.start()

    def add(self, client: Any, queue_url: str, receipt_handle: str) -> None:
        with self._lock:
            _, handles = self._pending.setdefault(queue_url, (client, []))
            handles.append(receipt_handle)
            if self._oldest is None:
                self._oldest = time.monotonic()
            self._wake.notify()

    def _due(self) -> bool:
        if self._oldest is None:
            return False
        full = any(len(handles) >= self.batch_size for _, handles in self._pending.values())
        return full or self._closed or time.monotonic() - self._oldest >= self.wait

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._due():
                    if self._closed:
                        return
                    timeout = None if self._oldest is None else max(self.wait - (time.monotonic() - self._oldest), 0)
                    self._wake.wait(timeout)
                taken, self._pending, self._oldest = self._pending, {}, None
            for queue_url, (client, handles) in taken.items():
                for start in range(0, len(handles), self.batch_size):
                    delete_batch(client, queue_url, handles[start : start + self.batch_size])

    def close(self, timeout: float = 5) -> None:
        """Send what is still waiting, then stop."""
        with self._lock:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout)


def delete_batch(client: Any, queue_url: str, handles: list[str]) -> None:
    entries = [{"Id": str(index), "ReceiptHandle": handle} for index, handle in enumerate(handles)]
    try:
        response = client.delete_message_batch(QueueUrl=queue_url, Entries=entries)
    except Exception:
        # Not deleted: SQS delivers these again after their visibility timeout (a no-op then).
        logger.exception("could not delete %s handled message(s) from %s; they come back", len(handles), queue_url)
        return
    for failure in response.get("Failed", []):
        logger.warning(
            "SQS did not delete a handled message from %s (%s: %s); it comes back",
            queue_url,
            failure.get("Code"),
            failure.get("Message"),
        )


class Channel(SQS.Channel):
    _batcher: DeleteBatcher | None = None
    _batcher_lock = threading.Lock()

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        try:
            info = self.qos.get(delivery_tag).delivery_info
            receipt_handle = info["sqs_message"]["ReceiptHandle"]
            queue_url = info["sqs_queue"]
        except KeyError:
            super().basic_ack(delivery_tag, multiple)
            return
        queue = self.canonical_queue_name(info["routing_key"]) if "routing_key" in info else None
        self.ack_batcher().add(self.sqs(queue=queue), queue_url, receipt_handle)
        # Forget the delivery here (frees its prefetch slot), as kombu does after its delete.
        virtual.Channel.basic_ack(self, delivery_tag)

    def ack_batcher(self) -> DeleteBatcher:
        with self._batcher_lock:
            if self._batcher is None:
                self._batcher = DeleteBatcher()
            return self._batcher

    def close(self) -> None:
        with self._batcher_lock:
            batcher, self._batcher = self._batcher, None
        if batcher is not None:
            batcher.close()
        super().close()


class Transport(SQS.Transport):
    Channel: Callable[..., Channel] = Channel
