"""Serializers of the notifications API: input and output kept separate."""

from __future__ import annotations

from rest_framework import serializers

from apps.core.api.serializers import InputSerializer


class PreferenceOutputSerializer(serializers.Serializer):
    marketing_opt_out = serializers.BooleanField(help_text="No marketing messages (orders and accounts still are).")
    sms_opt_in = serializers.BooleanField(
        help_text="Order updates by SMS too, to the phone on the account once it is verified (users service)."
    )
    updated_at = serializers.DateTimeField(allow_null=True, help_text="Null until the shopper first chooses.")


class PreferenceUpdateInputSerializer(InputSerializer):
    marketing_opt_out = serializers.BooleanField(required=False)
    sms_opt_in = serializers.BooleanField(required=False)
