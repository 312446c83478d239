"""The staff admin: products with inline variants and images (uploads go to the configured
storage), bulk activation, stock adjustments with their audit row, and validation errors for a
negative price or a negative resulting stock."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.catalog.models import Product, ProductImage, Stock, StockAdjustment, Variant
from tests.catalog import factories
from tests.catalog.helpers import events

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def staff_client() -> Client:
    user = get_user_model().objects.create_superuser("alice", "alice@example.com", "pw-alice-123")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _product_form(**overrides) -> dict:
    data = {
        "name": "Linen Shirt",
        "slug": "linen-shirt",
        "category": "",
        "brand": "Northwind",
        "description": "Cool in summer.",
        "attributes": "{}",
        "tax_class": "standard",
        "active": "on",
        "variants-TOTAL_FORMS": "1",
        "variants-INITIAL_FORMS": "0",
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
        "variants-0-sku": "LINEN-M",
        "variants-0-name": "M",
        "variants-0-price": "49.00",
        "variants-0-currency": "EUR",
        "variants-0-compare_at_price": "",
        "variants-0-option_values": '{"size": "M"}',
        "variants-0-weight_grams": "250",
        "variants-0-active": "on",
        "variants-0-position": "0",
        "images-TOTAL_FORMS": "0",
        "images-INITIAL_FORMS": "0",
        "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def test_adding_a_product_with_a_variant_and_an_image(staff_client):
    upload = SimpleUploadedFile("front.jpg", b"\xff\xd8\xff fake jpeg", content_type="image/jpeg")
    data = _product_form(
        **{
            "images-TOTAL_FORMS": "1",
            "images-0-image": upload,
            "images-0-alt_text": "Front",
            "images-0-position": "0",
        }
    )

    response = staff_client.post("/admin/catalog/product/add/", data)

    assert response.status_code == 302, response.content.decode()[:3000]
    variant = Variant.objects.get(sku="LINEN-M")
    assert Stock.objects.get(variant=variant).on_hand == 0
    image = ProductImage.objects.get()
    assert image.image.name.startswith("products/")
    assert default_storage.exists(image.image.name)
    assert [event["sku"] for event in events("product.updated")] == ["LINEN-M"]


def test_changing_a_price_in_the_admin_publishes_product_updated(staff_client):
    staff_client.post("/admin/catalog/product/add/", _product_form())
    product = Product.objects.get()
    variant = product.variants.get()
    data = _product_form(
        **{
            "variants-INITIAL_FORMS": "1",
            "variants-0-id": str(variant.pk),
            "variants-0-product": str(product.pk),
            "variants-0-price": "39.00",
        }
    )

    response = staff_client.post(f"/admin/catalog/product/{product.pk}/change/", data)

    assert response.status_code == 302
    assert [event["price"] for event in events("product.updated")] == ["49.00", "39.00"]


def test_a_negative_price_is_a_validation_error(staff_client):
    response = staff_client.post("/admin/catalog/product/add/", _product_form(**{"variants-0-price": "-1.00"}))

    assert response.status_code == 200
    assert "Must not be negative." in response.content.decode()
    assert not Product.objects.exists()


def test_bulk_deactivate_and_activate(staff_client):
    products = [factories.product_with_variants(count=1) for _ in range(2)]
    ids = [str(product.pk) for product in products]

    staff_client.post("/admin/catalog/product/", {"action": "deactivate", "_selected_action": ids})
    assert not Product.objects.filter(active=True).exists()
    staff_client.post("/admin/catalog/product/", {"action": "activate", "_selected_action": ids})
    assert Product.objects.filter(active=True).count() == 2
    assert len(events("product.updated")) == 4


def test_product_search_and_filters_render(staff_client):
    factories.product_with_variants(name="Searchable Mug")

    response = staff_client.get("/admin/catalog/product/", {"q": "mug", "active__exact": "1"})

    assert response.status_code == 200
    assert "Searchable Mug" in response.content.decode()


def test_a_stock_adjustment_is_audited_with_the_staff_username(staff_client):
    factories.variant(sku="MUG-1", on_hand=4)

    response = staff_client.post(
        "/admin/catalog/stockadjustment/add/", {"sku": "MUG-1", "delta": "6", "reason": "delivery"}
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    row = StockAdjustment.objects.get()
    assert (row.sku, row.delta, row.on_hand_after, row.actor) == ("MUG-1", 6, 10, "alice")
    assert Stock.objects.get(variant__sku="MUG-1").on_hand == 10


def test_a_stock_adjustment_below_zero_is_a_validation_error(staff_client):
    factories.variant(sku="MUG-1", on_hand=4, reserved=1)

    response = staff_client.post(
        "/admin/catalog/stockadjustment/add/", {"sku": "MUG-1", "delta": "-4", "reason": "stocktake"}
    )

    assert response.status_code == 200
    assert "stock cannot go below that" in response.content.decode()
    assert not StockAdjustment.objects.exists()
    assert Stock.objects.get(variant__sku="MUG-1").on_hand == 4


def test_stock_and_reservations_are_listed_read_only(staff_client):
    factories.variant(sku="MUG-1")

    assert staff_client.get("/admin/catalog/stock/").status_code == 200
    assert staff_client.get("/admin/catalog/reservation/").status_code == 200
    assert staff_client.get("/admin/catalog/stock/add/").status_code == 403
