"""An image uploaded in the admin lands in the S3 bucket under catalog/ when S3 is the default
storage (the split shape), and the API serves its S3 URL. S3 is moto's in-process mock."""

from __future__ import annotations

import boto3
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from moto import mock_aws

from apps.catalog.models import ProductImage
from tests.catalog import factories, images

pytestmark = pytest.mark.django_db(databases="__all__")
BUCKET = "shopstack-media-test"


@pytest.fixture
def s3_storage(settings, monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {"bucket_name": BUCKET, "location": "catalog/", "region_name": "us-east-1"},
            },
        }
        yield boto3.client("s3", region_name="us-east-1")


def test_admin_upload_goes_to_s3_under_the_catalog_prefix(s3_storage, api_client):
    user = get_user_model().objects.create_superuser("alice", "alice@example.com", "pw-alice-123")
    client = Client()
    client.force_login(user)
    product = factories.product_with_variants(count=1, slug="tee")
    variant = product.variants.get()
    upload = images.upload("tee.png", images.png_with_text())
    data = {
        "name": product.name,
        "slug": "tee",
        "category": "",
        "brand": product.brand,
        "description": product.description,
        "attributes": "{}",
        "tax_class": "standard",
        "active": "on",
        "variants-TOTAL_FORMS": "1",
        "variants-INITIAL_FORMS": "1",
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
        "variants-0-id": str(variant.pk),
        "variants-0-product": str(product.pk),
        "variants-0-sku": variant.sku,
        "variants-0-name": variant.name,
        "variants-0-price": str(variant.price),
        "variants-0-currency": "EUR",
        "variants-0-option_values": "{}",
        "variants-0-active": "on",
        "variants-0-position": "0",
        "images-TOTAL_FORMS": "1",
        "images-INITIAL_FORMS": "0",
        "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000",
        "images-0-image": upload,
        "images-0-alt_text": "Tee",
        "images-0-position": "0",
    }

    response = client.post(f"/admin/catalog/product/{product.pk}/change/", data)

    assert response.status_code == 302, response.content.decode()[:2000]
    stored = ProductImage.objects.get()
    name = stored.image.name
    keys = [item["Key"] for item in s3_storage.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert sorted(keys) == sorted([f"catalog/{name}", f"catalog/{stored.thumbnail.name}"])
    url = api_client.get("/api/v1/catalog/products/tee/").json()["images"][0]["url"]
    assert BUCKET in url and f"catalog/{name}" in url
