"""How every service's OpenAPI schema is generated (clients are generated from it, so it must say
exactly what the server does): operation ids and tags by service, every error response as an
`application/problem+json` problem body for each status the view can produce, PATCH bodies as
strict as the view validates them, and defaults that satisfy their own field's schema."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance, is_serializer
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_serializer
from rest_framework import serializers

from apps.core.problems import PROBLEM_CONTENT_TYPE


@extend_schema_serializer(component_name="Problem")
class ProblemOutputSerializer(serializers.Serializer):
    """The JSON problem body every error is rendered as (apps.core.problems)."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField()
    errors = serializers.DictField(required=False, help_text="Field errors, for validation problems.")


def problem(description: str) -> OpenApiResponse:
    """A documented error answer of a view (its statuses beyond the ones ServiceAutoSchema infers)."""
    return OpenApiResponse(ProblemOutputSerializer, description=description)


# The statuses a view's shape alone implies, with their generic description: a view documents its
# own domain errors (409, 422, 503...) with `problem()`, and may describe these more precisely.
IMPLIED_PROBLEMS = {
    400: "Invalid input: field errors under `errors` (`invalid`), or a bad query parameter.",
    401: "Missing, invalid or expired access token.",
    404: "No such resource (or not the caller's).",
    429: "Too many requests; retry after the Retry-After header (`throttled`).",
}


def _service_of(view: Any) -> str:
    # apps.<service>.api.views: the service owns the view, whatever URL it is mounted on.
    return type(view).__module__.split(".")[1]


class ServiceAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema with the rules every service follows (see the module doc)."""

    def get_tags(self) -> list[str]:
        return [_service_of(self.view)]

    def get_operation_id(self) -> str:
        # drf-spectacular names the service's root path "root" (orders' list was `root_list`).
        name = super().get_operation_id().removeprefix("root_")
        service = _service_of(self.view)
        return name if name.startswith(f"{service}_") else f"{service}_{name}"

    def get_override_parameters(self) -> list:
        parameters = list(super().get_override_parameters())
        if getattr(self.view, "conditional_get", False) and self.method == "GET":
            parameters.append(
                OpenApiParameter(
                    "If-None-Match",
                    str,
                    OpenApiParameter.HEADER,
                    description="An ETag from an earlier answer: 304 without a body if it still matches.",
                )
            )
        return parameters

    def _get_request_for_media_type(self, serializer: Any, direction: str = "request") -> Any:
        # drf-spectacular documents every PATCH body as partial (nothing required), as DRF's
        # UpdateMixin validates it; our views validate a PATCH body partially only when they say
        # so, and say it in the schema too: extend_schema(request=Input(partial=True)).
        if self.method == "PATCH" and is_serializer(serializer) and not force_instance(serializer).partial:
            self.method = "PUT"
            try:
                return super()._get_request_for_media_type(serializer, direction)
            finally:
                self.method = "PATCH"
        return super()._get_request_for_media_type(serializer, direction)

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        # A blank-allowed field with a pattern is documented as oneOf(pattern, empty); its default
        # belongs to the whole field, not to the patterned branch it contradicts.
        for field in schema.get("properties", {}).values():
            for branch in field.get("oneOf", []):
                if "default" in branch:
                    field["default"] = branch.pop("default")
        return schema

    def get_operation(self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any) -> Any:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        ref = self.resolve_serializer(ProblemOutputSerializer, "response").ref
        responses = operation["responses"]
        for code, response in responses.items():
            if int(code) >= 400:
                response["content"] = {PROBLEM_CONTENT_TYPE: {"schema": dict(ref)}}
        for code, description in self._implied_problems(operation).items():
            responses.setdefault(
                str(code), {"description": description, "content": {PROBLEM_CONTENT_TYPE: {"schema": dict(ref)}}}
            )
        if getattr(self.view, "conditional_get", False) and self.method == "GET":
            responses.setdefault("304", {"description": "Not modified: the If-None-Match ETag still matches."})
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _implied_problems(self, operation: dict[str, Any]) -> dict[int, str]:
        implied = []
        has_input = "requestBody" in operation or any(p["in"] == "query" for p in operation.get("parameters", []))
        if has_input:
            implied.append(400)
        # A token that does not verify is refused even where signing in is optional.
        if self.view.get_authenticators():
            implied.append(401)
        if "{" in self.path:
            implied.append(404)
        if self.view.get_throttles():
            implied.append(429)
        return {code: IMPLIED_PROBLEMS[code] for code in implied}
