"""The staff admin: products with inline variants and images (uploads go to the configured
storage), bulk activation, stock adjustments with their audit row, and validation errors for a
negative price or a negative resulting stock."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from apps.catalog.models import Product, ProductImage, Stock, StockAdjustment, Variant
from tests.catalog import factories, images
from tests.catalog.helpers import events

pytestmark = pytest.mark.django_db(databases="__all__")


def test_adding_a_product_with_a_variant_and_an_image(staff_client):
    upload = images.upload("front.jpg", images.jpeg_with_exif(), "image/jpeg")
    data = factories.admin_product_form(
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
    staff_client.post("/admin/catalog/product/add/", factories.admin_product_form())
    product = Product.objects.get()
    variant = product.variants.get()
    data = factories.admin_product_form(
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
    response = staff_client.post(
        "/admin/catalog/product/add/", factories.admin_product_form(**{"variants-0-price": "-1.00"})
    )

    assert response.status_code == 200
    assert "Must not be negative." in response.content.decode()
    assert not Product.objects.exists()


@pytest.mark.parametrize("currency", ["XXX", "XTS", "QQQ"])
def test_a_currency_that_is_not_iso_4217_is_a_validation_error(staff_client, currency):
    response = staff_client.post(
        "/admin/catalog/product/add/", factories.admin_product_form(**{"variants-0-currency": currency})
    )

    assert response.status_code == 200
    assert "Use an ISO 4217 currency code" in response.content.decode()
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


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("variants-0-option_values", '["red", "M"]'),
        ("variants-0-option_values", "null"),
        ("variants-0-option_values", '{"colour__exact": "red"}'),
        ("attributes", '["cotton"]'),
        ("attributes", "null"),
    ],
)
def test_json_of_the_wrong_shape_is_a_form_error_and_saves_nothing(staff_client, field, value):
    response = staff_client.post("/admin/catalog/product/add/", factories.admin_product_form(**{field: value}))

    assert response.status_code == 200
    assert "errornote" in response.content.decode()
    assert not Product.objects.exists()
