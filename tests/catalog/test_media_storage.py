"""Product images go to S3 in the split shape (MEDIA_STORAGE=s3 or a bucket named) and to the
local disk all-in-one: the settings each shape loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRINT_STORAGES = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps(settings.STORAGES['default']))"
)


def _default_storage(**env: str) -> dict:
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "MEDIA_"))}
    result = subprocess.run(
        [sys.executable, "-c", PRINT_STORAGES],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings.local", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_all_in_one_stores_images_on_the_local_disk():
    assert _default_storage()["BACKEND"] == "django.core.files.storage.FileSystemStorage"


def test_split_shape_stores_images_in_s3_under_the_catalog_prefix():
    storage = _default_storage(
        SERVICE="catalog",
        AWS_STORAGE_BUCKET_NAME="shop-media",
        AWS_S3_ENDPOINT_URL="http://127.0.0.1:5999",
    )

    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    assert storage["OPTIONS"]["bucket_name"] == "shop-media"
    assert storage["OPTIONS"]["endpoint_url"] == "http://127.0.0.1:5999"
    assert storage["OPTIONS"]["location"] == "catalog/"


def test_media_storage_s3_falls_back_to_the_shared_aws_endpoint():
    storage = _default_storage(
        MEDIA_STORAGE="s3", AWS_STORAGE_BUCKET_NAME="b", AWS_ENDPOINT_URL="http://127.0.0.1:5998"
    )

    assert storage["OPTIONS"]["endpoint_url"] == "http://127.0.0.1:5998"


def test_images_behind_a_public_domain_get_stable_unsigned_urls():
    storage = _default_storage(
        SERVICE="catalog", AWS_STORAGE_BUCKET_NAME="shop-media", AWS_S3_CUSTOM_DOMAIN="media.shop.example"
    )

    assert storage["OPTIONS"]["custom_domain"] == "media.shop.example"
    assert storage["OPTIONS"]["querystring_auth"] is False


def test_images_without_a_public_domain_stay_signed():
    storage = _default_storage(SERVICE="catalog", AWS_STORAGE_BUCKET_NAME="shop-media")

    assert storage["OPTIONS"]["querystring_auth"] is True
