"""manage.py import_catalog: all rows or none, every error reported with its row number."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.catalog.models import Product, Stock, StockAdjustment, Variant
from tests.catalog import factories
from tests.catalog.helpers import events

pytestmark = pytest.mark.django_db(databases="__all__")

HEADER = "product_slug,product_name,brand,category,sku,variant_name,price,currency,options,stock\n"


def _run(path) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_catalog", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_imports_a_csv_with_products_variants_and_audited_stock(tmp_path):
    factories.category(slug="shirts")
    path = tmp_path / "catalog.csv"
    path.write_text(
        HEADER
        + "linen-shirt,Linen Shirt,Northwind,shirts,LINEN-M,M,49.00,EUR,size=M,5\n"
        + "linen-shirt,Linen Shirt,Northwind,shirts,LINEN-L,L,51.00,EUR,size=L,0\n"
        + 'mug,Mug,Hearth,,MUG-1,White,9.50,,"{""colour"": ""white""}",\n'
    )

    out, _ = _run(path)

    assert "Imported 3 rows" in out
    assert Product.objects.count() == 2
    assert Variant.objects.get(sku="LINEN-M").option_values == {"size": "M"}
    assert Variant.objects.get(sku="MUG-1").option_values == {"colour": "white"}
    assert Stock.objects.get(variant__sku="LINEN-M").on_hand == 5
    assert StockAdjustment.objects.get().reason == "import catalog.csv"
    assert sorted(event["sku"] for event in events("product.updated")) == ["LINEN-L", "LINEN-M", "MUG-1"]


def test_a_file_with_bad_rows_imports_nothing_and_reports_every_row(tmp_path):
    path = tmp_path / "catalog.csv"
    path.write_text(
        HEADER
        + "ok,Fine,Acme,,OK-1,One,10.00,EUR,,1\n"  # row 2: fine
        + "neg,Negative,Acme,,NEG-1,One,-5.00,EUR,,1\n"  # row 3: negative price
        + "stock,Stock,Acme,,STK-1,One,5.00,EUR,,-2\n"  # row 4: negative stock
        + "cat,Category,Acme,nowhere,CAT-1,One,5.00,euro,,1\n"  # row 5: unknown category, bad currency
        + "dup,Duplicate,Acme,,OK-1,One,5.00,EUR,,1\n"  # row 6: SKU already on row 2
    )
    err = StringIO()

    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_catalog", str(path), stdout=StringIO(), stderr=err)

    report = err.getvalue()
    assert "row 3: price: Must not be negative." in report
    assert "row 4: stock: Must not be negative." in report
    assert "row 5: category: There is no category 'nowhere'." in report
    assert "row 5: currency:" in report
    assert "row 6: sku: 'OK-1' is already on row 2." in report
    assert "row 2:" not in report
    assert not Product.objects.exists()


def test_imports_json_and_updates_existing_rows(tmp_path):
    product = factories.product(slug="mug", name="Mug")
    factories.variant(product=product, sku="MUG-1", price="9.50", on_hand=3)
    path = tmp_path / "catalog.json"
    path.write_text(
        json.dumps(
            [
                {"product_slug": "mug", "product_name": "Mug", "sku": "MUG-1", "price": "8.00", "stock": 3},
                {
                    "product_slug": "mug",
                    "product_name": "Mug",
                    "sku": "MUG-2",
                    "price": "8.00",
                    "options": {"colour": "red"},
                },
            ]
        )
    )

    out, _ = _run(path)

    assert "0 products created, 1 updated; 1 variants created, 1 updated" in out  # description now blank
    assert str(Variant.objects.get(sku="MUG-1").price) == "8.00"
    assert not StockAdjustment.objects.exists()  # stock unchanged
    assert [event["sku"] for event in events("product.updated")] == ["MUG-1", "MUG-2"]


def test_json_rows_are_numbered_from_one_and_unknown_columns_are_errors(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text(
        json.dumps({"rows": [{"product_slug": "x", "product_name": "X", "sku": "X-1", "price": "1", "colour": "red"}]})
    )
    err = StringIO()

    with pytest.raises(CommandError):
        call_command("import_catalog", str(path), stdout=StringIO(), stderr=err)

    assert "row 1: row: Unknown column(s): colour." in err.getvalue()


def test_stock_below_reservations_is_refused(tmp_path):
    product = factories.product(slug="mug", name="Mug")
    factories.variant(product=product, sku="MUG-1", on_hand=5, reserved=4)
    path = tmp_path / "catalog.csv"
    path.write_text(HEADER + "mug,Mug,Acme,,MUG-1,One,5.00,EUR,,2\n")
    err = StringIO()

    with pytest.raises(CommandError):
        call_command("import_catalog", str(path), stdout=StringIO(), stderr=err)

    assert "row 2: stock: 4 units are reserved" in err.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("catalog.txt", "x", "Import a .csv or .json file"),
        ("catalog.json", "{not json", "is not valid JSON"),
        ("catalog.csv", "sku,price\nA,1\n", "lacks the column(s): product_slug, product_name"),
    ],
)
def test_unreadable_files_are_clear_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)

    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("import_catalog", str(path), stdout=StringIO(), stderr=StringIO())


def test_progress_goes_to_stderr_on_large_files(tmp_path):
    rows = "".join(f"p-{n},Product {n},Acme,,SKU-{n},One,1.00,EUR,,1\n" for n in range(2100))
    path = tmp_path / "big.csv"
    path.write_text(HEADER + rows)

    _, err = _run(path)

    assert "validated: 1000/2100 rows" in err
    assert "imported: 2000/2100 rows" in err
    assert Variant.objects.count() == 2100


@pytest.mark.parametrize("currency", ["XXX", "XTS", "XAU", "ABC", "eur"])
def test_a_code_that_is_not_an_iso_4217_currency_is_refused(tmp_path, currency):
    path = tmp_path / "catalog.csv"
    path.write_text(HEADER + f"mug,Mug,Acme,,MUG-1,One,10.00,{currency},,1\n")
    err = StringIO()

    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_catalog", str(path), stdout=StringIO(), stderr=err)

    assert "row 2: currency: Use an ISO 4217 currency code" in err.getvalue()
    assert not Product.objects.exists()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("sale,Sale,Acme,,SALE-1,One,10.00,EUR,,1\n", None),
        ("mixed,Mixed,Acme,,MIX-1,One,10.00,EUR,,1\nmixed,Mixed,Acme,,MIX-2,Two,10.00,USD,,1\n", "one currency"),
    ],
)
def test_the_admin_product_rules_hold_in_the_import(tmp_path, rows, message):
    # Given a compare-at price below the price (first case) or two currencies in one product
    path = tmp_path / "catalog.csv"
    if message is None:
        path.write_text(
            "product_slug,product_name,brand,category,sku,variant_name,price,currency,options,stock,compare_at_price\n"
            + rows.replace("\n", ",8.00\n")
        )
        message = "must not be below the price"
    else:
        path.write_text(HEADER + rows)
    err = StringIO()

    # When it is imported, then nothing is, with the rule's message
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_catalog", str(path), stdout=StringIO(), stderr=err)
    assert message in err.getvalue()
    assert not Product.objects.exists()
