"""The input policy of every service's API, in the base classes its input serializers derive from:
a JSON value must already have its field's JSON type (no 0 for false, no number for a string), a
query parameter given has a value (`?status=` is not "no filter"), a boolean one is `true` or
`false` (not 1, yes, on), and a field or parameter the serializer does not know is refused (400),
never silently ignored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

# Query parameters every listing reads besides its filters: the paginator's, and DRF's
# format override.
PAGING_PARAMETERS = frozenset({"cursor", "page_size", "format"})

_STRING_FIELDS = (serializers.CharField, serializers.UUIDField, serializers.DateTimeField, serializers.DateField)


def _json_type_error(field: serializers.Field, value: Any) -> str | None:
    """Why `value` (parsed JSON) does not have the JSON type `field` documents, or None."""
    if value is None:
        return None  # the field's own allow_null decides
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else "Must be an integer."
    if isinstance(field, _STRING_FIELDS):
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(field, serializers.ChoiceField) and all(isinstance(key, str) for key in field.choices):
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        for item in value:
            error = _json_type_error(field.child, item)
            if error:
                return f"Every item: {error[0].lower()}{error[1:]}"
    if isinstance(field, serializers.DictField) and isinstance(value, dict):
        for item in value.values():
            error = _json_type_error(field.child, item)
            if error:
                return f"Every value: {error[0].lower()}{error[1:]}"
    return None


def _query_error(field: serializers.Field, value: Any) -> str | None:
    """Why `value` (a query string's) is not what the schema documents for `field`, or None, where
    DRF is laxer than the schema: it reads 1, yes, on... as true, and an empty optional parameter
    (`?status=`) as an absent one."""
    if value == "" and not getattr(field, "allow_blank", False):
        return "Give a value, or leave the parameter out."
    if isinstance(field, serializers.BooleanField) and value not in ("true", "false"):
        return "Must be true or false."
    return None


class InputSerializer(serializers.Serializer):
    """Base of every JSON body's serializer (nested ones included)."""

    # Only for bodies another party defines and extends (a provider's webhook events).
    unknown_fields_allowed = False
    # Names accepted besides the fields, and not validated here.
    extra_names: frozenset[str] = frozenset()
    # Query strings carry only strings: their fields parse them (`"true"`, `"20"`).
    json_types = True

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            errors: dict[str, list[str]] = {}
            if not self.unknown_fields_allowed:
                for name in sorted(set(data) - set(self.fields) - self.extra_names):
                    errors[name] = ["Unknown field."]
            for name, field in self.fields.items():
                if name in data and not field.read_only:
                    error = _json_type_error(field, data[name]) if self.json_types else _query_error(field, data[name])
                    if error:
                        errors[name] = [error]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class QueryInputSerializer(InputSerializer):
    """Base of every query-string serializer: its fields are the filters; any other parameter than
    those and the paging ones is refused."""

    extra_names = PAGING_PARAMETERS
    json_types = False
