"""The catalog back office in the admin: an import checked first (dry run: every error, or what
would change) and written only on confirmation; an export in the import's columns."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.catalog.models import Product, Stock, Variant
from tests.catalog import factories

pytestmark = pytest.mark.django_db(databases="__all__")

IMPORT = "/admin/catalog/product/import/"
EXPORT = "/admin/catalog/product/export.csv"
HEADER = "product_slug,product_name,brand,sku,variant_name,price,currency,stock\n"


def _upload(content: str, name: str = "catalog.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode(), content_type="text/csv")


def _token(page: str) -> str:
    return page.split('name="token" value="')[1].split('"')[0]


def test_an_import_is_previewed_and_written_only_when_confirmed(staff_client):
    factories.product_with_variants(count=1, slug="mug")
    content = HEADER + "mug,Mug,Acme,MUG-NEW,Blue,9.50,EUR,4\nlamp,Lamp,Acme,LAMP-1,Brass,40.00,EUR,2\n"

    preview = staff_client.post(IMPORT, {"file": _upload(content)}).content.decode()

    assert "dry run: nothing is written yet" in preview
    assert "1 products created, 1 updated" in preview and "2 variants created, 0 updated" in preview
    assert not Variant.objects.filter(sku__in=["MUG-NEW", "LAMP-1"]).exists()

    token = _token(preview)
    done = staff_client.post(IMPORT, {"token": token})
    again = staff_client.post(IMPORT, {"token": token}, follow=True)

    assert done.status_code == 302
    assert Stock.objects.get(variant__sku="LAMP-1").on_hand == 2
    assert Product.objects.get(slug="lamp").name == "Lamp"
    assert "This import preview has expired" in again.content.decode()


def test_an_import_with_bad_rows_lists_every_error_and_writes_nothing(staff_client):
    content = HEADER + "ok,Fine,Acme,OK-1,One,10.00,EUR,1\nneg,Neg,Acme,NEG-1,One,-5.00,EUR,1\n"

    page = staff_client.post(IMPORT, {"file": _upload(content)}).content.decode()

    assert "nothing was imported" in page
    assert "row 3: price: Must not be negative." in page
    assert 'name="token"' not in page
    assert not Product.objects.exists()


def test_the_export_has_the_filtered_products_in_the_import_columns_and_imports_back(staff_client):
    shirts = factories.category(slug="shirts")
    factories.product_with_variants(count=2, slug="linen", category=shirts)
    factories.product_with_variants(count=1, slug="hidden", active=False)

    response = staff_client.get(EXPORT, {"active__exact": "1"})
    exported = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(exported)))
    preview = staff_client.post(IMPORT, {"file": _upload(exported)}).content.decode()

    assert [row["product_slug"] for row in rows] == ["linen", "linen"]
    assert rows[0]["category"] == "shirts" and rows[0]["stock"] == "10" and rows[0]["currency"] == "EUR"
    assert "0 products created, 1 updated" in preview and "0 variants created, 2 updated" in preview
    assert "errornote" not in preview
