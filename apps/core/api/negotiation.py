"""Content negotiation that never refuses: the API speaks JSON (errors as problem+json), so a
client whose Accept names nothing a view renders still gets JSON, as RFC 9110 12.5.1 allows,
rather than a 406 that would hide the real answer (a problem body the client asked for)."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation


class LenientContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request: Any, renderers: list, format_suffix: str | None = None) -> tuple[Any, str]:
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except (NotAcceptable, Http404):  # an Accept or ?format= naming no renderer of this view
            return renderers[0], renderers[0].media_type
