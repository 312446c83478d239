"""OTLP/HTTP span export with a faster encoder.

The SDK's exporter builds a protobuf message object for every span, attribute and value in Python,
then serializes them: about 50 µs of CPU per span here, more than recording the span took, spent in
the serving process's export thread. Most of a span's attributes repeat from span to span (the
method, host, scheme, the database's name and user, the same few statements), so this encoder
writes the protobuf wire format itself and keeps each repeated attribute's encoded bytes: about a
third of the cost. What is rare or nested (events, links, the resource, the instrumentation scope,
arrays) is still encoded by the SDK's own functions and embedded as bytes, so only the framing and
the span's scalar fields are written here. tests/tracing/test_otlp_encoding.py holds its output
equal, message for message, to the SDK's encoder for every field a span can carry."""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common._internal import (
    _encode_instrumentation_scope,
    _encode_key_value,
    _encode_resource,
)
from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import (
    _SPAN_KIND_MAP,
    _encode_events,
    _encode_links,
    _span_flags,
)
from opentelemetry.exporter.otlp.proto.http._common import _is_request_too_large
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

logger = logging.getLogger(__name__)

# Wire-format tags, (field number << 3) | wire type, of opentelemetry/proto/trace/v1/trace.proto
# and collector/trace/v1/trace_service.proto.
_LENGTH_DELIMITED, _VARINT, _FIXED64, _FIXED32 = 2, 0, 1, 5


def _tag(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


_REQUEST_RESOURCE_SPANS = _tag(1, _LENGTH_DELIMITED)
_RESOURCE_SPANS_RESOURCE, _RESOURCE_SPANS_SCOPE_SPANS, _RESOURCE_SPANS_SCHEMA_URL = (
    _tag(n, _LENGTH_DELIMITED) for n in (1, 2, 3)
)
_SCOPE_SPANS_SCOPE, _SCOPE_SPANS_SPANS, _SCOPE_SPANS_SCHEMA_URL = (_tag(n, _LENGTH_DELIMITED) for n in (1, 2, 3))
_SPAN_TRACE_ID = _tag(1, _LENGTH_DELIMITED) + _varint(16)
_SPAN_SPAN_ID = _tag(2, _LENGTH_DELIMITED) + _varint(8)
_SPAN_TRACE_STATE = _tag(3, _LENGTH_DELIMITED)
_SPAN_PARENT_SPAN_ID = _tag(4, _LENGTH_DELIMITED) + _varint(8)
_SPAN_NAME = _tag(5, _LENGTH_DELIMITED)
_SPAN_KIND = {kind: _tag(6, _VARINT) + _varint(value) for kind, value in _SPAN_KIND_MAP.items()}
_SPAN_START, _SPAN_END = _tag(7, _FIXED64), _tag(8, _FIXED64)
_SPAN_ATTRIBUTE = _tag(9, _LENGTH_DELIMITED)
_SPAN_DROPPED_ATTRIBUTES = _tag(10, _VARINT)
_SPAN_EVENT = _tag(11, _LENGTH_DELIMITED)
_SPAN_DROPPED_EVENTS = _tag(12, _VARINT)
_SPAN_LINK = _tag(13, _LENGTH_DELIMITED)
_SPAN_DROPPED_LINKS = _tag(14, _VARINT)
_SPAN_STATUS = _tag(15, _LENGTH_DELIMITED)
_SPAN_FLAGS = _tag(16, _FIXED32)
_STATUS_MESSAGE, _STATUS_CODE = _tag(2, _LENGTH_DELIMITED), _tag(3, _VARINT)
_fixed64 = struct.Struct("<Q").pack
_fixed32 = struct.Struct("<I").pack

# Encoded attributes by (key, type, value): the type keeps True apart from 1 and 1.0.
_CACHED_TYPES = (str, int, float, bool)
_ATTRIBUTE_CACHE_SIZE = 4096
_attribute_cache: dict[tuple[str, type, Any], bytes] = {}


def _attribute(key: str, value: Any) -> bytes:
    kind = type(value)
    if kind not in _CACHED_TYPES:
        return _field(_SPAN_ATTRIBUTE, _encode_key_value(key, value).SerializeToString())
    cache_key = (key, kind, value)
    encoded = _attribute_cache.get(cache_key)
    if encoded is None:
        encoded = _field(_SPAN_ATTRIBUTE, _encode_key_value(key, value).SerializeToString())
        if len(_attribute_cache) >= _ATTRIBUTE_CACHE_SIZE:
            # Per-request values (URLs, ids) would otherwise grow it without end.
            _attribute_cache.clear()
        _attribute_cache[cache_key] = encoded
    return encoded


def encode_span(span: ReadableSpan) -> bytes:
    """One span as an opentelemetry.proto.trace.v1.Span message, as the SDK's encoder writes it."""
    context = span.get_span_context()
    parts = [_SPAN_TRACE_ID, context.trace_id.to_bytes(16, "big"), _SPAN_SPAN_ID, context.span_id.to_bytes(8, "big")]
    if context.trace_state:
        trace_state = ",".join(f"{key}={value}" for key, value in context.trace_state.items())
        parts.append(_field(_SPAN_TRACE_STATE, trace_state.encode()))
    if span.parent:
        parts += (_SPAN_PARENT_SPAN_ID, span.parent.span_id.to_bytes(8, "big"))
    if span.name:
        parts.append(_field(_SPAN_NAME, span.name.encode()))
    if _SPAN_KIND_MAP[span.kind]:
        parts.append(_SPAN_KIND[span.kind])
    if span.start_time:
        parts += (_SPAN_START, _fixed64(span.start_time))
    if span.end_time:
        parts += (_SPAN_END, _fixed64(span.end_time))
    attributes = _plain_attributes(span)
    if attributes:
        parts += [_attribute(key, value) for key, value in attributes.items()]
    if span.dropped_attributes:
        parts += (_SPAN_DROPPED_ATTRIBUTES, _varint(span.dropped_attributes))
    if span.events:
        parts += [_field(_SPAN_EVENT, event.SerializeToString()) for event in _encode_events(span.events)]
    if span.dropped_events:
        parts += (_SPAN_DROPPED_EVENTS, _varint(span.dropped_events))
    if span.links:
        parts += [_field(_SPAN_LINK, link.SerializeToString()) for link in _encode_links(span.links)]
    if span.dropped_links:
        parts += (_SPAN_DROPPED_LINKS, _varint(span.dropped_links))
    parts.append(_field(_SPAN_STATUS, _status(span)))
    parts += (_SPAN_FLAGS, _fixed32(_span_flags(span.parent)))
    return b"".join(parts)


def _plain_attributes(span: ReadableSpan) -> Mapping[str, Any]:
    """The span's attributes as the dict the SDK keeps them in: its public view is a read-only
    proxy over a Python-level mapping, which made iterating them a third of a span's encoding."""
    held = getattr(span, "_attributes", None)
    plain = getattr(held, "_dict", None)
    return plain if isinstance(plain, dict) else (span.attributes or {})


def _status(span: ReadableSpan) -> bytes:
    status = b""
    if span.status.description:
        status += _field(_STATUS_MESSAGE, span.status.description.encode())
    if span.status.status_code.value:
        status += _STATUS_CODE + _varint(span.status.status_code.value)
    return status


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """An ExportTraceServiceRequest of `spans`, grouped by resource and instrumentation scope as the
    SDK's encoder groups them (in first-seen order)."""
    grouped: dict[int, tuple[Any, dict[int, tuple[Any, list[bytes]]]]] = {}
    for span in spans:
        _, scopes = grouped.setdefault(id(span.resource), (span.resource, {}))
        _, encoded = scopes.setdefault(id(span.instrumentation_scope), (span.instrumentation_scope, []))
        encoded.append(_field(_SCOPE_SPANS_SPANS, encode_span(span)))
    return b"".join(
        _field(_REQUEST_RESOURCE_SPANS, _resource_spans(resource, scopes)) for resource, scopes in grouped.values()
    )


def _resource_spans(resource: Any, scopes: Mapping[int, tuple[Any, list[bytes]]]) -> bytes:
    parts = [_field(_RESOURCE_SPANS_RESOURCE, _encode_resource(resource).SerializeToString())]
    for scope, encoded in scopes.values():
        scope_parts = [_field(_SCOPE_SPANS_SCOPE, _encode_instrumentation_scope(scope).SerializeToString()), *encoded]
        if scope is not None and scope.schema_url:
            scope_parts.append(_field(_SCOPE_SPANS_SCHEMA_URL, scope.schema_url.encode()))
        parts.append(_field(_RESOURCE_SPANS_SCOPE_SPANS, b"".join(scope_parts)))
    if resource.schema_url:
        parts.append(_field(_RESOURCE_SPANS_SCHEMA_URL, resource.schema_url.encode()))
    return b"".join(parts)


class FastOTLPSpanExporter(OTLPSpanExporter):
    """The SDK's OTLP/HTTP exporter (endpoint, headers, retries, timeouts from the same settings),
    encoding with encode_spans above."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            logger.warning("Exporter already shutdown, ignoring batch")
            return SpanExportResult.FAILURE
        with self._metrics.export_operation(len(spans)) as result:
            try:
                body = encode_spans(spans)
            except Exception as error:  # a span the encoder cannot write drops its batch, as the SDK's does
                logger.exception("Failed to encode a batch of %s spans", len(spans))
                result.error = error
                return SpanExportResult.FAILURE
            if _is_request_too_large(body, self._max_request_size):
                logger.warning("Dropping a batch of %s spans: %s bytes is over the limit", len(spans), len(body))
                return SpanExportResult.FAILURE
            exported = self._client.export(body)
            if not exported.success:
                result.error = exported.error
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS
