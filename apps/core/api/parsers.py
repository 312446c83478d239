"""Strict JSON for every request body: bounded in size and nesting, no NaN or infinities, no NUL
characters. What does not fit is a 400 (or 413) problem body before any view, serializer or
database sees it."""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser


class RequestTooLarge(APIException):
    status_code = 413
    default_code = "request_too_large"
    default_detail = "The request body is too large."


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e5000 reads as inf, which no field or database keeps
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def _shape_problem(value: Any, limit: int) -> str | None:
    """Why `value` cannot be taken, or None: nested more than `limit` levels, or a string with a
    NUL character (PostgreSQL keeps none in text or jsonb). Iterative: the point is to refuse
    what recursive code would choke on."""
    pending = [(value, 1)]
    while pending:
        current, depth = pending.pop()
        if isinstance(current, str):
            if "\x00" in current:
                return "a string holds a NUL character"
            continue
        if isinstance(current, dict):
            children = [*current, *current.values()]
        elif isinstance(current, list):
            children = current
        else:
            continue
        if depth > limit:
            return f"nested more than {limit} levels deep"
        pending.extend((child, depth + 1) for child in children)
    return None


def json_loads_strict(body: bytes | str) -> Any:
    """Parse a JSON document under the API's limits (API_MAX_JSON_DEPTH levels, finite numbers,
    no NaN/Infinity, no NUL in strings). Raises ValueError, saying why, for anything else."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    try:
        value = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    problem = _shape_problem(value, settings.API_MAX_JSON_DEPTH)
    if problem:
        raise ValueError(problem)
    return value


def read_body(stream: Any, *, limit: int) -> bytes:
    """At most `limit` bytes of `stream`; RequestTooLarge when there is more."""
    body = stream.read(limit + 1) if stream is not None else b""
    if len(body) > limit:
        raise RequestTooLarge(f"The request body is larger than {limit} bytes.")
    return body


class JSONParser(BaseParser):
    """DRF's JSON parser, bounded: the body is read up to DATA_UPLOAD_MAX_MEMORY_SIZE bytes and
    parsed by json_loads_strict."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        request = (parser_context or {}).get("request")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise RequestTooLarge(f"The request body is larger than {limit} bytes.")
        body = read_body(stream, limit=limit)
        try:
            return json_loads_strict(body)
        except UnicodeDecodeError:
            raise ParseError("JSON parse error - the body is not UTF-8.") from None
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from None
