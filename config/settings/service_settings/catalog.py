"""Settings of the catalog service: where product images are stored, and list paging."""

import os

from config.settings.env import env_bool, env_int, env_str

# Product images: S3 in the split shape (MEDIA_STORAGE=s3, or a bucket named), the local disk
# (MEDIA_ROOT) all-in-one. The endpoint is configurable so the moto server stands in for S3 locally.
MEDIA_STORAGE = env_str("MEDIA_STORAGE", "s3" if os.environ.get("AWS_STORAGE_BUCKET_NAME") else "local")
if MEDIA_STORAGE not in {"s3", "local"}:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"MEDIA_STORAGE must be 's3' or 'local', not {MEDIA_STORAGE!r}.")
# The public address of product images: a CDN (CloudFront) in front of the media bucket, or the
# bucket's own public host. With it, image URLs are stable and unsigned (shoppers' pages and
# caches keep them); without it they are signed and expire after AWS_QUERYSTRING_EXPIRE seconds.
MEDIA_PUBLIC_DOMAIN = env_str("AWS_S3_CUSTOM_DOMAIN", "") or None
if MEDIA_STORAGE == "s3":
    # base.py star-imports this module after it defines STORAGES, so this replaces base's value;
    # static files keep base's backend (production.py swaps in the manifest storage after this).
    STORAGES = {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME"),
                "endpoint_url": env_str("AWS_S3_ENDPOINT_URL", env_str("AWS_ENDPOINT_URL", "")) or None,
                "region_name": env_str("AWS_REGION", env_str("AWS_DEFAULT_REGION", "us-east-1")),
                "location": "catalog/",
                "file_overwrite": False,
                "querystring_auth": env_bool("AWS_QUERYSTRING_AUTH", MEDIA_PUBLIC_DOMAIN is None),
                "querystring_expire": env_int("AWS_QUERYSTRING_EXPIRE", 3600),
                "custom_domain": MEDIA_PUBLIC_DOMAIN,
            },
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

# Product list paging (cursor pagination): default and largest page size.
CATALOG_PAGE_SIZE = env_int("CATALOG_PAGE_SIZE", 20)
CATALOG_MAX_PAGE_SIZE = env_int("CATALOG_MAX_PAGE_SIZE", 100)
# Public HTTP caching of list and detail responses (Cache-Control: public, max-age=...).
CATALOG_CACHE_MAX_AGE = env_int("CATALOG_CACHE_MAX_AGE", 60)
# Seconds a rendered list/detail/category answer is kept in each process's memory
# (apps/core/api/caching.py) and served without touching the database; 0 turns it off: the
# default here, so local runs and tests read fresh data; production keeps 15. Edits show up within
# twice this many seconds, well inside the public max-age above.
CATALOG_RESPONSE_CACHE_SECONDS = env_int("CATALOG_RESPONSE_CACHE_SECONDS", 0)
# How many SKUs one GET /variants/ call may ask for.
CATALOG_MAX_VARIANT_LOOKUP = env_int("CATALOG_MAX_VARIANT_LOOKUP", 100)

# Product image uploads (apps/catalog/images.py): the decoded content must be JPEG, PNG, WebP or
# GIF, at most this many bytes and pixels (width x height x frames: decompression bombs are small
# files that decode to gigabytes); every upload is re-encoded, which drops EXIF and other metadata.
CATALOG_IMAGE_MAX_BYTES = env_int("CATALOG_IMAGE_MAX_BYTES", 10 * 1024 * 1024)
CATALOG_IMAGE_MAX_PIXELS = env_int("CATALOG_IMAGE_MAX_PIXELS", 40_000_000)

# Bulk (un)publishing from the admin: up to this many products change within the request; more
# run in the background (a Celery task on catalog's queue) in chunks of CATALOG_BULK_CHUNK_SIZE,
# one transaction and one relay pass each, with their progress on the admin's "Bulk jobs" page.
CATALOG_BULK_INLINE_LIMIT = env_int("CATALOG_BULK_INLINE_LIMIT", 200)
CATALOG_BULK_CHUNK_SIZE = env_int("CATALOG_BULK_CHUNK_SIZE", 200)
# The admin's low-stock list (Stock, filter "stock level"): active variants with at most this many available.
CATALOG_LOW_STOCK_THRESHOLD = env_int("CATALOG_LOW_STOCK_THRESHOLD", 5)
# The admin's catalog import (upload, dry-run preview, confirm): largest file; bigger ones go
# through manage.py import_catalog.
CATALOG_IMPORT_MAX_BYTES = env_int("CATALOG_IMPORT_MAX_BYTES", 5 * 1024 * 1024)
