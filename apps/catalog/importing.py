"""The catalog import: reads a CSV or JSON file into rows, validates every row (reporting every
error with its row number), and writes them all in one transaction, or nothing.

One row is one variant (SKU) with its product's fields; rows sharing `product_slug` are one
product. Columns: product_slug, product_name, description, brand, category (slug of an existing
category), product_active, attributes (JSON object), sku, variant_name, price, currency,
compare_at_price, options (JSON object, or "colour=red;size=M"), weight_grams, stock (units on
hand; the change is audited), variant_active. Row numbers are the spreadsheet's: in a CSV the
header is row 1, so the first product row is row 2; in JSON the first object is row 1."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.text import slugify

from apps.catalog.models import (
    COMPARE_AT_MESSAGE,
    OPTION_NAME,
    Category,
    Stock,
    Variant,
    product_variant_errors,
    validate_attributes,
    validate_option_values,
)
from apps.core.currencies import CURRENCY_MESSAGE, is_currency

REQUIRED = ("product_slug", "product_name", "sku", "price")
KNOWN = (
    *REQUIRED,
    "description",
    "brand",
    "category",
    "product_active",
    "attributes",
    "variant_name",
    "currency",
    "compare_at_price",
    "options",
    "weight_grams",
    "stock",
    "variant_active",
)
_SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off"}
MAX_PRICE = Decimal("9999999999.99")


class ImportFileError(ValueError):
    """The file cannot be read at all (unknown format, broken JSON or CSV, missing columns)."""


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.message}"


@dataclass
class ImportRow:
    """One validated row, typed."""

    row: int
    product_slug: str
    product_name: str
    description: str
    brand: str
    category: str
    product_active: bool
    attributes: dict[str, Any]
    sku: str
    variant_name: str
    price: Decimal
    currency: str
    compare_at_price: Decimal | None
    options: dict[str, str]
    weight_grams: int | None
    stock: int | None
    variant_active: bool
    extra: dict[str, Any] = field(default_factory=dict)


def read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(row number, raw row) pairs from a .csv or .json file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ImportFileError(f"Cannot read {path}: {error}") from error
    return parse_rows(text=text, path=path)


def parse_rows(*, text: str, path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(row number, raw row) pairs from the text of a .csv or .json file (named by `path`)."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ImportFileError(f"{path} is not valid JSON: {error}") from error
        if isinstance(data, dict):
            data = data.get("rows", data.get("products"))
        if not isinstance(data, list):
            raise ImportFileError('A JSON import is a list of row objects (or {"rows": [...]}).')
        return [(number, item if isinstance(item, dict) else {"": item}) for number, item in enumerate(data, start=1)]
    if suffix == ".csv":
        try:
            reader = csv.DictReader(io.StringIO(text))
            header = reader.fieldnames or []
            missing = [name for name in REQUIRED if name not in header]
            if missing:
                raise ImportFileError(f"The CSV header lacks the column(s): {', '.join(missing)}.")
            return [(reader.line_num, dict(row)) for row in reader]
        except csv.Error as error:
            raise ImportFileError(f"{path} is not valid CSV: {error}") from error
    raise ImportFileError(f"Import a .csv or .json file, not {path.name!r}.")


def _text(raw: dict[str, Any], name: str) -> str:
    value = raw.get(name)
    return "" if value is None else str(value).strip()


def _bool(value: str, default: bool) -> bool:
    if value == "":
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError("Use true or false.")


def _money(value: str, *, required: bool) -> Decimal | None:
    if value == "":
        if required:
            raise ValueError("Required.")
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number.") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a number.")
    if amount < 0:
        raise ValueError("Must not be negative.")
    if amount > MAX_PRICE or amount != amount.quantize(Decimal("0.01")):
        raise ValueError("At most 10 digits before the point and 2 after.")
    return amount.quantize(Decimal("0.01"))


def _count(value: Any) -> int | None:
    if value in ("", None):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number.") from None
    if number < 0:
        raise ValueError("Must not be negative.")
    return number


def _object(value: Any, *, options: bool) -> dict[str, Any]:
    if value in ("", None):
        return {}
    if isinstance(value, dict):
        data = value
    elif options and "=" in str(value) and not str(value).lstrip().startswith("{"):
        data = {}
        for part in str(value).split(";"):
            if not part.strip():
                continue
            name, sep, option = part.partition("=")
            if not sep or not name.strip() or not option.strip():
                raise ValueError(f"{part!r} is not name=value.")
            data[name.strip()] = option.strip()
    else:
        try:
            data = json.loads(str(value))
        except json.JSONDecodeError:
            raise ValueError("Not a JSON object.") from None
        if not isinstance(data, dict):
            raise ValueError("Not a JSON object.")
    if options:
        for name, option in data.items():
            if not OPTION_NAME.fullmatch(str(name)):
                raise ValueError(f"Option name {name!r}: lower-case letters and digits, single _ between them.")
            if not isinstance(option, (str, int)) or isinstance(option, bool):
                raise ValueError(f"Option {name!r} needs a text value.")
        data = {str(name): str(option) for name, option in data.items()}
    # The model's own rules (what the admin and every service are held to), said as a row error.
    try:
        (validate_option_values if options else validate_attributes)(data)
    except ValidationError as error:
        raise ValueError(" ".join(error.messages)) from None
    return data


def _convert(number: int, raw: dict[str, Any], errors: list[RowError]) -> ImportRow | None:
    before = len(errors)

    def attempt(name: str, convert: Callable[[], Any]) -> Any:
        try:
            return convert()
        except ValueError as error:
            errors.append(RowError(number, name, str(error)))
            return None

    unknown = sorted(key for key in raw if key not in KNOWN)
    if unknown:
        errors.append(RowError(number, "row", f"Unknown column(s): {', '.join(map(str, unknown))}."))
    values = {name: _text(raw, name) for name in KNOWN if name not in {"attributes", "options"}}
    for name in REQUIRED:
        if not values[name]:
            errors.append(RowError(number, name, "Required."))
    if values["product_slug"] and not _SLUG.match(values["product_slug"]):
        errors.append(RowError(number, "product_slug", "Letters, digits, - and _ only."))
    for name, limit in (
        ("product_slug", 220),
        ("product_name", 200),
        ("brand", 100),
        ("sku", 64),
        ("variant_name", 120),
    ):
        if len(values[name]) > limit:
            errors.append(RowError(number, name, f"At most {limit} characters."))
    currency = values["currency"] or "EUR"
    if not is_currency(currency):
        errors.append(RowError(number, "currency", CURRENCY_MESSAGE))
    price = attempt("price", lambda: _money(values["price"], required=False)) if values["price"] else None
    compare_at = attempt("compare_at_price", lambda: _money(values["compare_at_price"], required=False))
    weight = attempt("weight_grams", lambda: _count(values["weight_grams"]))
    stock = attempt("stock", lambda: _count(values["stock"]))
    product_active = attempt("product_active", lambda: _bool(values["product_active"], True))
    variant_active = attempt("variant_active", lambda: _bool(values["variant_active"], True))
    attributes = attempt("attributes", lambda: _object(raw.get("attributes"), options=False))
    options = attempt("options", lambda: _object(raw.get("options"), options=True))
    if price is not None and compare_at is not None and compare_at < price:
        errors.append(RowError(number, "compare_at_price", COMPARE_AT_MESSAGE))
    if len(errors) > before:
        return None
    return ImportRow(
        row=number,
        product_slug=values["product_slug"],
        product_name=values["product_name"],
        description=values["description"],
        brand=values["brand"],
        category=values["category"],
        product_active=product_active,
        attributes=attributes,
        sku=values["sku"],
        variant_name=values["variant_name"] or slugify(" ".join(options.values())) or values["sku"],
        price=price,
        currency=currency,
        compare_at_price=compare_at,
        options=options,
        weight_grams=weight,
        stock=stock,
        variant_active=variant_active,
    )


def validate_rows(
    raw_rows: list[tuple[int, dict[str, Any]]], *, progress: Callable[[int, int], None] | None = None
) -> tuple[list[ImportRow], list[RowError]]:
    """Every row checked, on its own and against the file and the database; all errors kept."""
    errors: list[RowError] = []
    rows: list[ImportRow] = []
    texts: list[tuple[int, dict[str, str]]] = []
    for index, (number, raw) in enumerate(raw_rows, start=1):
        row = _convert(number, raw, errors)
        if row is not None:
            rows.append(row)
        texts.append((number, {name: _text(raw, name) for name in ("product_slug", "sku", "category")}))
        if progress and index % 1000 == 0:
            progress(index, len(raw_rows))

    # Across the file (every row, valid or not, so all errors show at once): a SKU once; a
    # product's fields the same on each of its rows.
    seen_skus: dict[str, int] = {}
    for number, text in texts:
        sku = text["sku"]
        if sku and sku in seen_skus:
            errors.append(RowError(number, "sku", f"{sku!r} is already on row {seen_skus[sku]}."))
        if sku:
            seen_skus.setdefault(sku, number)
    products: dict[str, ImportRow] = {}
    for row in rows:
        first = products.setdefault(row.product_slug, row)
        for name in ("product_name", "description", "brand", "category", "product_active", "attributes"):
            if getattr(row, name) != getattr(first, name):
                errors.append(
                    RowError(row.row, name, f"Differs from row {first.row} of the same product {row.product_slug!r}.")
                )

    # The product rules the admin holds too (one currency; published means an active variant),
    # over the product's rows in the file together with its variants already in the database.
    stored: dict[str, list[tuple[str, str, bool]]] = {}
    for slug, sku, currency, active in Variant.objects.filter(product__slug__in=list(products)).values_list(
        "product__slug", "sku", "currency", "active"
    ):
        stored.setdefault(slug, []).append((sku, currency, active))
    for slug, first in products.items():
        in_file = {row.sku: (row.currency, row.variant_active) for row in rows if row.product_slug == slug}
        variants = list(in_file.values()) + [
            (currency, active) for sku, currency, active in stored.get(slug, []) if sku not in in_file
        ]
        for message in product_variant_errors(published=first.product_active, variants=variants):
            errors.append(RowError(first.row, "product", message))

    # Against the database: categories exist; a SKU stays with its product; stock covers reservations.
    wanted_categories = {text["category"] for _, text in texts if text["category"]}
    categories = set(Category.objects.filter(slug__in=wanted_categories).values_list("slug", flat=True))
    existing = {
        sku: (product_slug, reserved)
        for sku, product_slug, reserved in Variant.objects.filter(sku__in=list(seen_skus)).values_list(
            "sku", "product__slug", "stock__reserved"
        )
    }
    for number, text in texts:
        if text["category"] and text["category"] not in categories:
            errors.append(RowError(number, "category", f"There is no category {text['category']!r}."))
        if text["sku"] in existing and text["product_slug"]:
            product_slug, _ = existing[text["sku"]]
            if product_slug != text["product_slug"]:
                errors.append(RowError(number, "sku", f"{text['sku']!r} belongs to product {product_slug!r}."))
    for row in rows:
        if row.sku in existing and row.stock is not None:
            reserved = existing[row.sku][1] or 0
            if row.stock < reserved:
                errors.append(
                    RowError(row.row, "stock", f"{reserved} units are reserved by orders; stock cannot be lower.")
                )
    errors.sort(key=lambda error: error.row)  # stable: a row's errors keep their order
    return rows, errors


def stock_rows_for(variant_ids: list[int]) -> dict[int, Stock]:
    return {stock.pk: stock for stock in Stock.objects.select_for_update().filter(pk__in=variant_ids)}
