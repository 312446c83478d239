"""Reading the local span files (TRACING_EXPORTER=file, apps/core/tracing.py) back as trace trees:
which traces an order took part in, and each trace as an indented tree of spans with their
service, name and duration. `manage.py trace` prints them."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from apps.core.tracing import ORDER_ID_ATTRIBUTE, ORDER_NUMBER_ATTRIBUTE, SERVICE_ATTRIBUTE

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
# Span attributes worth seeing in the tree: what went wrong, and what happens to a message next.
FLAGS = {
    "shopstack.duplicate": "duplicate skipped",
    "shopstack.redelivered": "redelivered",
    "shopstack.dead_lettered": "DEAD-LETTERED",
}


def spans_load(directory: Path) -> list[dict[str, Any]]:
    """Every span in the directory's files (a line cut short by a crash is skipped)."""
    spans = []
    for path in sorted(Path(directory).glob("*.jsonl")):
        with path.open(encoding="utf-8", errors="replace") as file:
            for line in file:
                try:
                    spans.append(json.loads(line))
                except ValueError:
                    continue
    return spans


def trace_ids_for(spans: Iterable[dict[str, Any]], key: str) -> list[str]:
    """The traces `key` names, oldest first: a trace id itself, or an order's number or id (every
    trace in which some span names the order: its checkout, a staff refund, the timeout sweep)."""
    key = key.strip()
    starts: dict[str, int] = {}
    for span in spans:
        attributes = span.get("attributes") or {}
        if (
            span["trace_id"] == key.lower()
            or attributes.get(ORDER_NUMBER_ATTRIBUTE) == key
            or attributes.get(ORDER_ID_ATTRIBUTE) == key
        ):
            starts[span["trace_id"]] = min(starts.get(span["trace_id"], span["start_ns"]), span["start_ns"])
    return sorted(starts, key=starts.__getitem__)


def _is_query(span: dict[str, Any]) -> bool:
    attributes = span.get("attributes") or {}
    return "db.system" in attributes or "db.system.name" in attributes


def _service(span: dict[str, Any]) -> str:
    """The service a span worked for: named by ShopStack's own spans (all-in-one runs every service
    in one process), else the process's service name (shopstack-orders -> orders)."""
    attributes = span.get("attributes") or {}
    return attributes.get(SERVICE_ATTRIBUTE) or span.get("service", "").removeprefix("shopstack-")


def _label(span: dict[str, Any], trace_start: int, queries: list[dict[str, Any]]) -> str:
    attributes = span.get("attributes") or {}
    service = _service(span)
    duration_ms = (span["end_ns"] - span["start_ns"]) / 1e6
    offset_ms = (span["start_ns"] - trace_start) / 1e6
    flags = [text for key, text in FLAGS.items() if attributes.get(key)]
    if "messaging.sqs.receive_count" in attributes:
        flags.append(f"receive {attributes['messaging.sqs.receive_count']}")
    if span.get("status") == "ERROR":
        flags.append("ERROR")
    if queries:
        query_ms = sum(query["end_ns"] - query["start_ns"] for query in queries) / 1e6
        flags.append(f"{len(queries)} queries {query_ms:.1f} ms")
    suffix = f"  [{', '.join(flags)}]" if flags else ""
    return f"{span['name']}  ({service})  {duration_ms:.1f} ms  @+{offset_ms:.1f} ms{suffix}"


def trace_render(spans: Iterable[dict[str, Any]], trace_id: str, *, queries: bool = False) -> list[str]:
    """The lines of trace `trace_id`'s tree: children under their parent, in start order. A span
    whose parent is missing (not sampled, or its process's file not flushed yet) is a root.
    Database queries are summed up on their parent's line unless `queries` asks for each."""
    members = sorted((span for span in spans if span["trace_id"] == trace_id), key=lambda span: span["start_ns"])
    if not members:
        return []
    ids = {span["span_id"] for span in members}
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for span in members:
        children[span["parent_id"] if span["parent_id"] in ids else None].append(span)
    start = members[0]["start_ns"]
    end = max(span["end_ns"] for span in members)
    services = sorted({_service(span) for span in members})
    lines = [f"trace {trace_id}: {len(members)} spans, {(end - start) / 1e6:.1f} ms, {', '.join(services)}"]

    def walk(span: dict[str, Any], depth: int) -> None:
        below = children.get(span["span_id"], [])
        folded = [] if queries else [child for child in below if _is_query(child)]
        lines.append("  " * depth + _label(span, start, folded))
        for child in below:
            if queries or not _is_query(child):
                walk(child, depth + 1)

    for root in children[None]:
        walk(root, 1)
    return lines
