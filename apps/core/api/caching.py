"""Rendered answers kept in this process's memory for a few seconds: for public, read-mostly
endpoints whose answers may already be cached by clients and CDNs (Cache-Control: public).

Why in process memory rather than the Django cache (Redis): a hit then costs a dictionary lookup
instead of a network round trip and an unpickle, which on the catalog list was the difference
between ~60 % and ~90 % of a bare view's rate (docs/benchmarks.md). What sharing would save is
one render per process per few seconds, nothing a database notices.

An expired answer is not thrown away at once: the first request to find it stale renders it
afresh while the others keep getting the stale copy, so a popular page expiring does not send
every thread to the database at the same moment. A stale copy is served for at most another
`fresh_seconds`, so an answer is never more than twice that old. And each answer's freshness is
cut short by a random part of up to a quarter: answers rendered together (after a deploy, or a
crawler's sweep) would otherwise all go stale in the same instant, and their refreshes, each a
full render, would queue every request behind them (measured: p99 ~450 ms against ~20 ms over
the shop's 104 category pages, docs/benchmarks.md)."""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    content: bytes
    content_type: str
    etag: str
    stored_at: float


class ResponseCache:
    """A bounded (least recently used out first), thread-safe map of request keys to answers."""

    def __init__(self, *, max_entries: int) -> None:
        self.max_entries = max_entries
        # key -> (answer, the fraction of fresh_seconds it stays fresh: 0.75 to 1)
        self._answers: OrderedDict[str, tuple[CachedAnswer, float]] = OrderedDict()
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()

    def lookup(self, key: str, *, fresh_seconds: float, now: float | None = None) -> tuple[CachedAnswer | None, bool]:
        """(the answer to serve or None, whether this caller must render and `store` it).

        Fresh: (answer, False). Stale while another caller refreshes it: (answer, False). Stale
        and nobody refreshing: (answer, True) — this caller refreshes. Missing, or too old to
        serve: (None, True)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            entry = self._answers.get(key)
            if entry is None:
                return None, True
            answer, freshness = entry
            age = now - answer.stored_at
            if age >= 2 * fresh_seconds:
                del self._answers[key]
                self._refreshing.discard(key)
                return None, True
            self._answers.move_to_end(key)
            if age < fresh_seconds * freshness or key in self._refreshing:
                return answer, False
            self._refreshing.add(key)
            return answer, True

    def store(self, key: str, answer: CachedAnswer) -> None:
        freshness = 1 - random.random() / 4  # noqa: S311 (spreading expiry times, not a secret)
        with self._lock:
            self._answers[key] = (answer, freshness)
            self._answers.move_to_end(key)
            self._refreshing.discard(key)
            while len(self._answers) > self.max_entries:
                oldest, _ = self._answers.popitem(last=False)
                self._refreshing.discard(oldest)

    def abandon(self, key: str) -> None:
        """The refresh this caller took on produced nothing to keep: let the next caller try."""
        with self._lock:
            self._refreshing.discard(key)

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()
            self._refreshing.clear()

    def __len__(self) -> int:
        return len(self._answers)
