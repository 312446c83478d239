"""Serializers of the notifications API: input and output kept separate."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class PreferenceOutputSerializer(serializers.Serializer):
    marketing_opt_out = serializers.BooleanField(help_text="No marketing messages (orders and accounts still are).")
    sms_opt_in = serializers.BooleanField(
        help_text="Order updates by SMS too, to the phone on the account once it is verified (users service)."
    )
    updated_at = serializers.DateTimeField(allow_null=True, help_text="Null until the shopper first chooses.")


class PreferenceUpdateInputSerializer(serializers.Serializer):
    marketing_opt_out = serializers.BooleanField(required=False)
    sms_opt_in = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A misspelt field would otherwise be ignored and the shopper left thinking it took.
        unknown = sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return attrs
