"""A merchandiser, in the all-in-one shape: signs in to the admin, creates a product with two
variants and an image (it starts as a draft), publishes it, and finds it through the API with its
image served."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from PIL import Image

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (40, 90, 160)).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def merchandiser() -> None:
    # Made before the browser starts: once Playwright's loop runs in this thread, the test itself
    # stays off the database (the live server's threads do the work).
    get_user_model().objects.create_superuser("merch", "merch@example.com", "pw-merch-12345")


def test_a_merchandiser_creates_publishes_and_finds_a_product(merchandiser, page, live_server):
    admin = f"{live_server.url}/admin"

    # Signs in
    page.goto(f"{admin}/login/?next=/admin/")
    page.fill("#id_username", "merch")
    page.fill("#id_password", "pw-merch-12345")
    page.click("input[type=submit]")
    page.wait_for_url(f"{admin}/")

    # Creates the product: a draft, with two variants and an image
    page.goto(f"{admin}/catalog/product/add/")
    assert not page.is_checked("#id_active")
    page.locator("#id_name").press_sequentially("Linen Shirt")
    page.locator("#id_brand").focus()
    expect(page.locator("#id_slug")).to_have_value("linen-shirt")  # made from the name as typed
    page.click("#variants-group .add-row a")
    page.fill("[name=variants-0-sku]", "LINEN-M")
    page.fill("[name=variants-0-name]", "M")
    page.fill("[name=variants-0-price]", "49.00")
    page.fill("[name=variants-0-option_values]", '{"size": "M"}')
    page.click("#variants-group .add-row a")
    page.fill("[name=variants-1-sku]", "LINEN-L")
    page.fill("[name=variants-1-name]", "L")
    page.fill("[name=variants-1-price]", "52.00")
    page.fill("[name=variants-1-option_values]", '{"size": "L"}')
    page.set_input_files(
        "[name=images-0-image]", files=[{"name": "front.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}]
    )
    page.click("input[name=_save]")
    page.wait_for_url(f"{admin}/catalog/product/")
    expect(page.locator("#result_list").get_by_role("link", name="Linen Shirt")).to_be_visible()
    assert page.request.get(f"{live_server.url}/api/v1/catalog/products/linen-shirt/").status == 404  # a draft

    # Publishes it from the list
    page.check("input[name=_selected_action]")
    page.select_option("select[name=action]", "activate")
    page.click("button[name=index]")
    expect(page.get_by_text("1 product(s) published.")).to_be_visible()

    # Finds it through the API, with its image and thumbnail served
    detail = page.request.get(f"{live_server.url}/api/v1/catalog/products/linen-shirt/").json()
    assert sorted(variant["sku"] for variant in detail["variants"]) == ["LINEN-L", "LINEN-M"]
    image = page.request.get(live_server.url + detail["images"][0]["url"])
    thumbnail = page.request.get(live_server.url + detail["images"][0]["thumbnail_url"])
    assert image.status == 200 and image.headers["content-type"] == "image/jpeg"
    assert thumbnail.status == 200 and thumbnail.headers["content-type"] == "image/webp"
