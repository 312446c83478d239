"""Cursor pagination for list endpoints: stable pages under concurrent writes, no COUNT query, and a
malformed or tampered cursor answered as a 400 problem (`invalid_cursor`), not DRF's 404.

A view picks its ordering per request by setting `cursor_ordering` (a tuple of fields whose first
one carries the position, ending in a unique field as the tiebreak) before paginating."""

from __future__ import annotations

from base64 import b64decode
from typing import Any
from urllib import parse

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination as DRFCursorPagination
from rest_framework.request import Request

from apps.core.exceptions import ApplicationError


class InvalidCursor(ApplicationError):
    status_code = 400
    default_code = "invalid_cursor"
    default_detail = "The cursor is malformed or does not belong to this listing; start again without it."


class CursorPagination(DRFCursorPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-pk",)

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> tuple[str, ...]:
        ordering = getattr(view, "cursor_ordering", None)
        if ordering:
            return tuple(ordering)
        return super().get_ordering(request, queryset, view)

    def get_page_size(self, request: Request) -> int:
        # DRF silently falls back to the default on a bad page_size; say so instead.
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise ApplicationError(
                f"page_size must be a whole number from 1 to {self.max_page_size}.", code="invalid_page_size"
            )
        return size

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "in": "query",
                "required": False,
                "description": "From the `next` or `previous` link of an earlier page.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "in": "query",
                "required": False,
                "description": f"Items per page (default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def decode_cursor(self, request: Request):
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is not None:
            # DRF takes any base64 as a cursor (unknown keys mean "from the start"); only what
            # encode_cursor makes is one here.
            try:
                tokens = parse.parse_qs(b64decode(encoded.encode("ascii")).decode("ascii"), keep_blank_values=True)
            except (TypeError, ValueError) as error:
                raise InvalidCursor() from error
            if not tokens or not set(tokens) <= {"o", "r", "p"} or any(len(values) != 1 for values in tokens.values()):
                raise InvalidCursor()
        try:
            return super().decode_cursor(request)
        except NotFound as error:
            raise InvalidCursor() from error

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list | None:
        # A well-formed cursor can still carry a position that does not fit the ordering (made for
        # another `ordering`, or edited by hand): the database rejects the comparison.
        try:
            return super().paginate_queryset(queryset, request, view)
        except (DjangoValidationError, DataError, ValueError, TypeError, ArithmeticError) as error:
            if request.query_params.get(self.cursor_query_param) is None:
                raise
            raise InvalidCursor() from error
