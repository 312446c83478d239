"""Product images in the all-in-one shape: served at their URL (the admin's link and the API's
image_url), with a thumbnail made at upload."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.catalog.models import Product, ProductImage
from tests.catalog import factories
from tests.catalog.images import jpeg_with_exif, opened, upload

pytestmark = pytest.mark.django_db(databases="__all__")


def _add_product_with_image(staff_client: Client, *, width: int = 40, height: int = 20) -> ProductImage:
    data = factories.admin_product_form(
        **{
            "images-TOTAL_FORMS": "1",
            "images-0-image": upload("front.jpg", jpeg_with_exif(width=width, height=height), "image/jpeg"),
            "images-0-alt_text": "Front",
            "images-0-position": "0",
        }
    )
    response = staff_client.post("/admin/catalog/product/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    return ProductImage.objects.get()


def test_an_uploaded_image_is_served_at_the_url_the_api_gives(staff_client):
    _add_product_with_image(staff_client)
    product = Product.objects.get()

    detail = Client().get(f"/api/v1/catalog/products/{product.slug}/").json()
    listed = Client().get("/api/v1/catalog/products/").json()["results"][0]
    image = Client().get(detail["images"][0]["url"])
    thumbnail = Client().get(detail["images"][0]["thumbnail_url"])

    assert listed["image_url"] == detail["images"][0]["url"]
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/webp"


def test_a_thumbnail_is_made_at_upload_within_400_pixels(staff_client):
    stored = _add_product_with_image(staff_client, width=1200, height=600)

    with stored.thumbnail.open("rb") as file:
        thumbnail = opened(file.read())

    assert thumbnail.format == "WEBP"
    assert max(thumbnail.size) == 400
    # the camera's orientation (90 degrees) was applied before the thumbnail was made
    assert thumbnail.size == (200, 400)


def test_a_path_outside_media_is_not_served(staff_client):
    assert Client().get("/media/../config/settings/base.py").status_code in (400, 404)
