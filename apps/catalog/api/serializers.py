"""Serializers of the catalog API: query-parameter input for the list and the variant lookup, and
the output shapes (also what the OpenAPI schema documents)."""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.catalog.models import OPTION_NAME, OPTION_VALUE_MAX_LENGTH
from apps.catalog.selectors import ORDERINGS
from apps.core.api.serializers import QueryInputSerializer

# name:value, the documented pattern of `option` (the same rule as OPTION_NAME, written so that a
# generated client can check it too: no \Z, which JSON Schema's regex dialect lacks).
_OPTION = re.compile(rf"^(?=[a-z0-9_]{{1,40}}:)[a-z](?:_?[a-z0-9])*:.{{1,{OPTION_VALUE_MAX_LENGTH}}}$")

LIST_PARAMETERS = {
    "category",
    "min_price",
    "max_price",
    "in_stock",
    "brand",
    "option",
    "q",
    "ordering",
    "cursor",
    "page_size",
    "format",
}


class ProductListInputSerializer(QueryInputSerializer):
    category = serializers.SlugField(required=False, help_text="A category slug; its descendants are included.")
    min_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"), required=False)
    max_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"), required=False)
    in_stock = serializers.BooleanField(required=False)
    brand = serializers.CharField(max_length=100, required=False)
    option = serializers.ListField(
        child=serializers.RegexField(_OPTION, max_length=150),
        required=False,
        max_length=10,
        help_text="name:value, e.g. colour:red; repeat for several (all must match one variant).",
    )
    q = serializers.CharField(max_length=200, required=False, trim_whitespace=True)
    ordering = serializers.ChoiceField(choices=sorted(ORDERINGS), required=False)

    def validate_option(self, values: list[str]) -> dict[str, str]:
        options: dict[str, str] = {}
        for value in values:
            name, _, option = value.strip().partition(":")
            option = option.strip()
            if not OPTION_NAME.fullmatch(name) or not 1 <= len(option) <= OPTION_VALUE_MAX_LENGTH:
                raise serializers.ValidationError(
                    f"{value!r} is not name:value (name in lower-case letters and digits, single _ between them)."
                )
            options[name] = option
        return options

    def validate(self, attrs: dict) -> dict:
        minimum, maximum = attrs.get("min_price"), attrs.get("max_price")
        if minimum is not None and maximum is not None and minimum > maximum:
            raise serializers.ValidationError({"max_price": ["Must not be below min_price."]})
        if attrs.get("ordering") == "relevance" and not attrs.get("q"):
            raise serializers.ValidationError({"ordering": ["relevance needs a search (q)."]})
        return attrs


logger = logging.getLogger(__name__)


class StoredObjectField(serializers.DictField):
    """A JSON object as stored. A row written before the model validated its shape (a list saved
    in the admin) reads as {} and is logged: one bad row must not fail the shopper's page."""

    def to_representation(self, value: Any) -> dict:
        if not isinstance(value, dict):
            logger.warning("catalog: %s holds a %s, not an object; shown as {}", self.field_name, type(value).__name__)
            return {}
        return super().to_representation(value)


class ProductListItemSerializer(serializers.Serializer):
    """Documents the list item; the view builds these dicts directly (it is the hot path)."""

    id = serializers.UUIDField()
    slug = serializers.CharField()
    name = serializers.CharField()
    brand = serializers.CharField()
    category = serializers.CharField(allow_null=True)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="The cheapest active variant's.")
    compare_at_price = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    currency = serializers.CharField()
    in_stock = serializers.BooleanField()
    image_url = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class VariantOutputSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    compare_at_price = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    currency = serializers.CharField()
    option_values = StoredObjectField(child=serializers.CharField())
    weight_grams = serializers.IntegerField(allow_null=True)
    available = serializers.IntegerField(source="stock.available", default=0)
    in_stock = serializers.SerializerMethodField()

    def get_in_stock(self, variant) -> bool:
        stock = getattr(variant, "stock", None)
        return bool(stock and stock.available > 0)


class ImageOutputSerializer(serializers.Serializer):
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    alt_text = serializers.CharField()

    def get_url(self, image) -> str:
        return image.image.url

    def get_thumbnail_url(self, image) -> str | None:
        return image.thumbnail.url if image.thumbnail else None


class ProductDetailOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    brand = serializers.CharField()
    category = serializers.CharField(source="category.slug", default=None)
    attributes = StoredObjectField()
    in_stock = serializers.SerializerMethodField()
    variants = VariantOutputSerializer(many=True)
    images = ImageOutputSerializer(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_in_stock(self, product) -> bool:
        return any(getattr(v, "stock", None) and v.stock.available > 0 for v in product.variants.all())


@extend_schema_field({"type": "array", "items": {"$ref": "#/components/schemas/CategoryNode"}})
class CategoryChildrenField(serializers.ListField):
    """A node's children, nodes of the same shape (documented as such: a field cannot nest its
    own serializer)."""


class CategoryNodeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    position = serializers.IntegerField()
    children = CategoryChildrenField(child=serializers.DictField(), help_text="Nodes of this same shape.")


class VariantLookupInputSerializer(QueryInputSerializer):
    sku = serializers.ListField(
        child=serializers.CharField(max_length=64), allow_empty=False, min_length=1, help_text="Repeat per SKU."
    )

    def validate_sku(self, skus: list[str]) -> list[str]:
        limit = settings.CATALOG_MAX_VARIANT_LOOKUP
        if len(set(skus)) > limit:
            raise serializers.ValidationError(f"Ask for at most {limit} SKUs per call.")
        return sorted(set(skus))


class VariantSnapshotOutputSerializer(serializers.Serializer):
    """The shape apps.catalog.contracts.client.VariantSnapshot reads."""

    sku = serializers.CharField()
    product_id = serializers.UUIDField()
    product_name = serializers.CharField()
    variant_name = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    available = serializers.IntegerField()
    active = serializers.BooleanField()
    weight_grams = serializers.IntegerField(help_text="0 when not recorded.")
    tax_class = serializers.CharField()
    category_slugs = serializers.ListField(
        child=serializers.CharField(), help_text="The product's category first, then its ancestors."
    )


class VariantLookupOutputSerializer(serializers.Serializer):
    results = VariantSnapshotOutputSerializer(many=True)
