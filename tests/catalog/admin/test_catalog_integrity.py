"""Catalog integrity in the admin: the category tree has no loops, an ordered SKU keeps its name,
and the merchandising rules (compare-at price, one currency, publishing needs a sellable variant,
new products start as drafts)."""

from __future__ import annotations

import uuid

import pytest

from apps.catalog.models import Category, Product, Reservation, ReservationLine, StockAdjustment, Variant
from apps.catalog.services.restock import stock_restock
from tests.catalog import factories
from tests.catalog.helpers import events

pytestmark = pytest.mark.django_db(databases="__all__")


def _category_form(category: Category, *, parent: Category | None) -> dict:
    return {
        "name": category.name,
        "slug": category.slug,
        "parent": str(parent.pk) if parent else "",
        "position": "0",
    }


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_a_category_cannot_become_the_child_of_itself_or_its_descendant(staff_client, depth):
    # Given a branch root -> child -> grandchild ...
    root = factories.category()
    branch = [root]
    for _ in range(depth):
        branch.append(factories.category(parent=branch[-1]))

    # When staff make the root the child of its deepest descendant (or of itself)
    response = staff_client.post(f"/admin/catalog/category/{root.pk}/change/", _category_form(root, parent=branch[-1]))

    # Then the form refuses and the tree is unchanged
    assert response.status_code == 200
    assert "cannot be placed under itself or one of its own subcategories" in response.content.decode()
    root.refresh_from_db()
    assert root.parent is None


def test_a_category_can_move_under_an_unrelated_branch(staff_client):
    root, other = factories.category(), factories.category()
    child = factories.category(parent=root)

    response = staff_client.post(f"/admin/catalog/category/{child.pk}/change/", _category_form(child, parent=other))

    assert response.status_code == 302
    child.refresh_from_db()
    assert child.parent == other


def _ordered(variant: Variant, *, status: str = Reservation.Status.COMMITTED, quantity: int = 1) -> uuid.UUID:
    order_id = uuid.uuid4()
    reservation = Reservation.objects.create(order_id=order_id, status=status)
    ReservationLine.objects.create(reservation=reservation, variant=variant, sku=variant.sku, quantity=quantity)
    return order_id


def _variant_form(product: Product, variant: Variant, **overrides: str) -> dict:
    return factories.admin_product_form(
        **{
            "name": product.name,
            "slug": product.slug,
            "variants-INITIAL_FORMS": "1",
            "variants-0-id": str(variant.pk),
            "variants-0-product": str(product.pk),
            "variants-0-sku": variant.sku,
            **overrides,
        }
    )


def test_a_sku_that_was_ever_ordered_cannot_be_renamed(staff_client):
    # Given a SKU an order took (its reservation committed)
    variant = factories.variant(sku="MUG-1", on_hand=5)
    product = variant.product
    order_id = _ordered(variant)

    # When staff rename it
    response = staff_client.post(
        f"/admin/catalog/product/{product.pk}/change/", _variant_form(product, variant, **{"variants-0-sku": "MUG-2"})
    )

    # Then the form refuses, and a refund's restock still finds the SKU
    assert response.status_code == 200
    assert "was ordered, so it cannot be renamed" in response.content.decode()
    assert Variant.objects.get(pk=variant.pk).sku == "MUG-1"
    assert stock_restock(order_id=order_id, order_number="1001", refund_id=uuid.uuid4(), lines=[("MUG-1", 1)])


def test_renaming_a_sku_never_ordered_carries_its_stock_history(staff_client):
    # Given a SKU with stock history but no orders
    variant = factories.variant(sku="MUG-1", on_hand=5)
    product = variant.product
    staff_client.post("/admin/catalog/stockadjustment/add/", {"sku": "MUG-1", "delta": "2", "reason": "delivery"})

    # When staff rename it
    response = staff_client.post(
        f"/admin/catalog/product/{product.pk}/change/", _variant_form(product, variant, **{"variants-0-sku": "MUG-2"})
    )

    # Then its history is under the new name
    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(StockAdjustment.objects.values_list("sku", flat=True)) == ["MUG-2"]
    assert [(event["sku"], event["active"]) for event in events("product.updated")] == [
        ("MUG-1", False),
        ("MUG-2", True),
    ]


def test_a_compare_at_price_below_the_price_is_refused(staff_client):
    response = staff_client.post(
        "/admin/catalog/product/add/",
        factories.admin_product_form(**{"variants-0-price": "49.00", "variants-0-compare_at_price": "39.00"}),
    )

    assert response.status_code == 200
    assert "The compare-at price (the price before a sale) must not be below the price." in response.content.decode()
    assert not Product.objects.exists()


def test_variants_of_one_product_share_one_currency(staff_client):
    data = factories.admin_product_form(
        **{
            "variants-TOTAL_FORMS": "2",
            "variants-1-sku": "LINEN-L",
            "variants-1-name": "L",
            "variants-1-price": "49.00",
            "variants-1-currency": "USD",
            "variants-1-compare_at_price": "",
            "variants-1-option_values": '{"size": "L"}',
            "variants-1-weight_grams": "260",
            "variants-1-active": "on",
            "variants-1-position": "1",
        }
    )

    response = staff_client.post("/admin/catalog/product/add/", data)

    assert response.status_code == 200
    assert "All variants of a product are priced in one currency" in response.content.decode()
    assert not Product.objects.exists()


@pytest.mark.parametrize("variant_fields", [{"variants-TOTAL_FORMS": "0"}, {"variants-0-active": ""}])
def test_a_published_product_needs_an_active_variant(staff_client, variant_fields):
    response = staff_client.post("/admin/catalog/product/add/", factories.admin_product_form(**variant_fields))

    assert response.status_code == 200
    assert "A published product needs at least one active variant" in response.content.decode()
    assert not Product.objects.exists()


def test_a_product_without_variants_can_be_saved_as_a_draft(staff_client):
    response = staff_client.post(
        "/admin/catalog/product/add/", factories.admin_product_form(**{"active": "", "variants-TOTAL_FORMS": "0"})
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert Product.objects.get().active is False


def test_a_new_product_starts_as_a_draft(staff_client):
    page = staff_client.get("/admin/catalog/product/add/").content.decode()

    assert 'name="active"' in page
    assert 'name="active" checked' not in page
    assert Product().active is False


def test_publishing_in_bulk_skips_products_without_an_active_variant(staff_client):
    sellable = factories.product_with_variants(count=1, active=False)
    empty = factories.product(active=False)

    response = staff_client.post(
        "/admin/catalog/product/",
        {"action": "activate", "_selected_action": [str(sellable.pk), str(empty.pk)]},
        follow=True,
    )

    assert set(Product.objects.filter(active=True)) == {sellable}
    assert "1 product(s) not published: no active variant" in response.content.decode()
