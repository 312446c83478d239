"""Input and output serializers of the users API (separate: inputs validate, outputs shape)."""

from __future__ import annotations

from django.contrib.auth.password_validation import MinimumLengthValidator, get_default_password_validators
from django.core import validators
from rest_framework import serializers

from apps.core.api.serializers import InputSerializer, QueryInputSerializer
from apps.core.api.validators import refuse_card_number_text
from apps.users.models import Address, Customer, phone_validator

# --- Inputs ------------------------------------------------------------------------------------


class NewPasswordField(serializers.CharField):
    """A password being set. Django's password validators check it (in the service); the field
    also states, and checks, their minimum length, read when the serializer is built (settings
    may change it), so the schema documents it."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_length=128, write_only=True, trim_whitespace=False, **kwargs)

    def bind(self, field_name: str, parent: serializers.BaseSerializer) -> None:
        super().bind(field_name, parent)
        lengths = [v.min_length for v in get_default_password_validators() if isinstance(v, MinimumLengthValidator)]
        if lengths:
            self.min_length = max(lengths)
            self.validators = [*self.validators, validators.MinLengthValidator(self.min_length)]


class RegisterInputSerializer(InputSerializer):
    email = serializers.EmailField(max_length=254)
    password = NewPasswordField()
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    phone = serializers.CharField(
        max_length=32, required=False, allow_blank=True, default="", validators=[phone_validator]
    )


class LoginInputSerializer(InputSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)


class RefreshTokenInputSerializer(InputSerializer):
    refresh_token = serializers.CharField(max_length=256, write_only=True)


class ProfileUpdateInputSerializer(InputSerializer):
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, validators=[phone_validator])


class PasswordChangeInputSerializer(InputSerializer):
    current_password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    new_password = NewPasswordField()


class PasswordResetRequestInputSerializer(InputSerializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmInputSerializer(InputSerializer):
    token = serializers.CharField(max_length=256, write_only=True)
    new_password = NewPasswordField()


# `ordering` values of the address list and the cursor ordering each one means (the unique id
# breaks ties).
ADDRESS_ORDERINGS = {"created_at": ("created_at", "id"), "-created_at": ("-created_at", "-id")}


class AddressListInputSerializer(QueryInputSerializer):
    ordering = serializers.ChoiceField(
        choices=list(ADDRESS_ORDERINGS), default="created_at", help_text="Oldest first (default) or newest first."
    )


NO_CARD = refuse_card_number_text


class AddressInputSerializer(InputSerializer):
    # Free text a shopper may paste anything into; a card number is refused (apps.core.cards).
    label = serializers.CharField(max_length=50, required=False, allow_blank=True, validators=[NO_CARD])
    full_name = serializers.CharField(max_length=200, validators=[NO_CARD])
    line1 = serializers.CharField(max_length=200, validators=[NO_CARD])
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True, validators=[NO_CARD])
    city = serializers.CharField(max_length=100, validators=[NO_CARD])
    region = serializers.CharField(max_length=100, required=False, allow_blank=True, validators=[NO_CARD])
    postal_code = serializers.CharField(max_length=20, validators=[NO_CARD])
    country = serializers.RegexField(
        r"^[A-Za-z]{2}$",
        help_text="ISO 3166-1 alpha-2 country code, e.g. DE.",
        error_messages={"invalid": "Enter a two-letter ISO 3166-1 country code."},
    )
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, validators=[phone_validator])
    is_default = serializers.BooleanField(required=False)

    def validate_country(self, value: str) -> str:
        return value.upper()


class EmailVerifyInputSerializer(InputSerializer):
    token = serializers.CharField(max_length=512, write_only=True, help_text="The token from the emailed link.")


class PhoneConfirmInputSerializer(InputSerializer):
    code = serializers.RegexField(r"^[0-9]{6}$", help_text="The 6-digit code texted to the phone.")


# --- Outputs -----------------------------------------------------------------------------------


class CustomerOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "email", "email_verified", "first_name", "last_name", "phone", "phone_verified", "date_joined"]
        read_only_fields = fields

    email_verified = serializers.BooleanField(
        read_only=True, help_text="Whether the email was verified with the emailed link."
    )
    phone_verified = serializers.BooleanField(
        read_only=True, help_text="Whether the phone was verified with a texted code; only then is it texted."
    )


class TokenPairOutputSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    token_type = serializers.CharField(default="Bearer")
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")
    refresh_token = serializers.CharField()
    refresh_expires_in = serializers.IntegerField(help_text="Seconds until the refresh token expires.")


class AcceptedOutputSerializer(serializers.Serializer):
    detail = serializers.CharField()


class AddressOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Address
        fields = [
            "id",
            "label",
            "full_name",
            "line1",
            "line2",
            "city",
            "region",
            "postal_code",
            "country",
            "phone",
            "is_default",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class JWKSOutputSerializer(serializers.Serializer):
    keys = serializers.ListField(child=serializers.DictField())
