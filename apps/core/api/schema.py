"""OpenAPI documentation every service's API shares: the problem body each error is rendered as
(apps.core.problems), and the error responses most endpoints have in common."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ProblemOutputSerializer(serializers.Serializer):
    """The JSON problem body every error is rendered as (apps.core.problems)."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField()
    errors = serializers.DictField(required=False, help_text="Field errors, for validation problems.")


VALIDATION_PROBLEM = OpenApiResponse(
    ProblemOutputSerializer, description="Invalid input (field errors under `errors`)."
)
UNAUTHENTICATED = OpenApiResponse(ProblemOutputSerializer, description="Missing, invalid or expired access token.")
THROTTLED = OpenApiResponse(
    ProblemOutputSerializer, description="Too many requests; retry after the Retry-After header."
)
