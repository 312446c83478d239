"""The first page of the product list unfiltered or filtered by category alone (the shop's landing
and category pages) is read with SQL compiled once per process (selectors.product_list_start) and paginated by
ProductCursorPagination.paginate_first_page: it must answer exactly as the queryset path does."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connections
from rest_framework.pagination import Cursor
from rest_framework.pagination import CursorPagination as DRFCursorPagination
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from apps.catalog import selectors
from apps.catalog.api.views import ProductCursorPagination, ProductListView
from apps.catalog.models import Category, Product
from apps.catalog.selectors import first_pages
from tests.catalog import factories

pytestmark = pytest.mark.django_db(databases="__all__")
URL = "/api/v1/catalog/products/"
ORDERINGS = sorted(set(selectors.ORDERINGS) - {"relevance"})  # relevance needs a search


@pytest.fixture
def listing_with_ties() -> None:
    """Equal names, prices and creation times, so some first pages have no unique position to
    put in the next cursor and DRF falls back to an offset cursor."""
    shirts = factories.category(slug="shirts")
    created = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    for index, (name, price) in enumerate([("Tee", "10.00"), ("Tee", "10.00"), ("Tee", "10.00"), ("Cap", "25.50")]):
        product = factories.product(slug=f"p-{index}", name=name, category=shirts if index % 2 else None)
        factories.variant(product=product, price=price, compare_at_price=Decimal("30.00") if index == 1 else None)
        if index == 2:
            factories.image(product=product, name="products/tee.jpg")
        Product.objects.filter(pk=product.pk).update(created_at=created if index < 3 else created.replace(hour=13))
    hidden = factories.product(slug="hidden", active=False)
    factories.variant(product=hidden)


def _answer(ordering: str, query: dict, *, first_page: bool, category: str | None = None) -> tuple[dict, bool]:
    request = Request(APIRequestFactory().get(URL, {"ordering": ordering, **query}))
    view = ProductListView()
    view.cursor_ordering = selectors.ORDERINGS[ordering]
    paginator = ProductCursorPagination()
    if first_page:
        page = paginator.paginate_first_page(
            lambda limit: selectors.product_list_start(ordering=ordering, limit=limit, category=category), request, view
        )
    else:
        queryset = selectors.product_list(filters=selectors.ProductFilters(category=category), ordering=ordering)
        page = paginator.paginate_queryset(queryset, request, view=view)
    return dict(paginator.get_paginated_response(page).data), paginator.display_page_controls


@pytest.mark.usefixtures("listing_with_ties")
@pytest.mark.parametrize("ordering", ORDERINGS)
@pytest.mark.parametrize("query", [{}, {"page_size": "1"}, {"page_size": "2"}, {"page_size": "3"}, {"page_size": "4"}])
def test_first_page_answers_as_the_queryset_paginator_does(ordering, query):
    expected = _answer(ordering, query, first_page=False)

    assert _answer(ordering, query, first_page=True) == expected


@pytest.mark.usefixtures("listing_with_ties")
@pytest.mark.parametrize("ordering", ORDERINGS)
@pytest.mark.parametrize("category", ["clothing", "shirts", "empty"])
@pytest.mark.parametrize("query", [{}, {"page_size": "1"}])
def test_a_category_first_page_answers_as_the_queryset_paginator_does(ordering, category, query):
    clothing = factories.category(slug="clothing")
    Category.objects.filter(slug="shirts").update(parent=clothing)
    factories.category(slug="empty", parent=clothing)
    coat = factories.product(slug="coat", name="Coat", category=clothing)
    factories.variant(product=coat, price="80.00")
    expected = _answer(ordering, query, first_page=False, category=category)

    assert _answer(ordering, query, first_page=True, category=category) == expected


@pytest.mark.usefixtures("listing_with_ties")
@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])  # sqlite: the ordinary-queryset fallback
def test_a_first_page_of_an_unknown_category_is_a_bad_request(monkeypatch, vendor):
    """The queryset gives an empty page (the view then asks whether the category exists); the
    first page's selector answers that itself."""
    monkeypatch.setattr(connections["catalog"], "vendor", vendor)
    assert _answer("name", {}, first_page=False, category="unknown")[0]["results"] == []

    with pytest.raises(selectors.UnknownCategory) as raised:
        _answer("name", {}, first_page=True, category="unknown")

    assert raised.value.extra == {"errors": {"category": ["There is no category 'unknown'."]}}


def test_a_category_cycle_made_in_the_database_ends_the_subtree():
    top = factories.category(slug="top")
    below = factories.category(slug="below", parent=top)
    Category.objects.filter(pk=top.pk).update(parent=below)  # past Category.clean, as by hand
    factories.variant(product=factories.product(slug="p", category=below))

    rows = selectors.product_list_start(ordering="name", limit=5, category="top")

    assert [row["slug"] for row in rows] == ["p"]


def test_an_empty_first_page_answers_as_the_queryset_paginator_does():
    assert _answer("name", {}, first_page=True) == _answer("name", {}, first_page=False)


@pytest.mark.usefixtures("listing_with_ties")
@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])  # sqlite: the ordinary-queryset fallback
@pytest.mark.parametrize("ordering", ORDERINGS)
def test_product_list_start_gives_the_querysets_rows(monkeypatch, ordering, vendor):
    monkeypatch.setattr(connections["catalog"], "vendor", vendor)
    expected = list(selectors.product_list(filters=selectors.ProductFilters(), ordering=ordering)[:3])

    rows = selectors.product_list_start(ordering=ordering, limit=3)

    assert rows == expected
    assert [{key: type(value) for key, value in row.items()} for row in rows] == [
        {key: type(value) for key, value in row.items()} for row in expected
    ]
    # Read with psycopg's own timestamptz loader, not Django's: the same instants, in the same zone.
    assert [row["created_at"].tzinfo for row in rows] == [row["created_at"].tzinfo for row in expected]


@pytest.fixture
def built(monkeypatch):
    """The first-page SQL's cache emptied, and every time the list's query is built recorded."""
    first_pages._product_list_start_sql.cache_clear()
    calls = []
    product_list = first_pages.product_list

    def counting_product_list(**kwargs):
        calls.append(kwargs)
        return product_list(**kwargs)

    monkeypatch.setattr(first_pages, "product_list", counting_product_list)
    yield calls
    first_pages._product_list_start_sql.cache_clear()


def test_the_landing_page_builds_its_query_once_and_still_reads_every_time(api_client, built):
    factories.product_with_variants(slug="tee")

    first = api_client.get(URL)
    factories.product_with_variants(slug="mug")
    second = api_client.get(URL)

    assert [item["slug"] for item in first.json()["results"]] == ["tee"]
    assert sorted(item["slug"] for item in second.json()["results"]) == ["mug", "tee"]
    assert second["ETag"] != first["ETag"]
    assert len(built) == 1  # the SQL was compiled for the first request only


def test_category_pages_build_their_query_once_per_ordering(api_client, built):
    home, garden = factories.category(slug="home"), factories.category(slug="garden")
    factories.product_with_variants(slug="mug", category=home)
    factories.product_with_variants(slug="rake", category=garden)

    answers = [api_client.get(URL, {"category": slug}).json()["results"] for slug in ("home", "garden", "home")]

    assert [[item["slug"] for item in results] for results in answers] == [["mug"], ["rake"], ["mug"]]
    assert len(built) == 1


def test_filtered_and_later_pages_still_take_the_queryset(api_client, monkeypatch):
    calls = []
    monkeypatch.setattr(selectors, "product_list_start", lambda **kwargs: calls.append(kwargs) or [])
    for index in range(3):
        factories.product_with_variants(slug=f"p-{index}")

    first = api_client.get(URL, {"page_size": 2, "in_stock": "true"})
    second = api_client.get(first.json()["next"])

    assert len(first.json()["results"]) == 2
    assert len(second.json()["results"]) == 1
    assert calls == []


@pytest.mark.parametrize(
    "base_url",
    [
        "http://testserver/api/v1/catalog/products/",
        "http://testserver/api/v1/catalog/products/?category=shoes-boots&ordering=-price&page_size=5",
        "https://shop.example.com/api/v1/catalog/products/?page_size=2&category=caf%C3%A9",
        "http://testserver/api/v1/catalog/products/?cursor=old&q=a+b%26c&option=size:M&option=colour:red",
        "http://testserver/api/v1/catalog/products/?q=~.cursor.~",  # the mark itself: DRF writes it
        "http://testserver/api/v1/catalog/products/?a=~.cursor.~&q=~.cursor.~",
    ],
)
@pytest.mark.parametrize(
    "cursor",
    [
        Cursor(offset=0, reverse=False, position="Tee"),
        Cursor(offset=3, reverse=False, position="10.00"),
        Cursor(offset=20, reverse=False, position=None),
        Cursor(offset=1, reverse=True, position="Løvé & co + 2026-11-01 12:00:00+00:00/?"),
    ],
)
def test_links_are_the_ones_drf_writes(base_url, cursor):
    """The catalog's paginator keeps each URL's link around the cursor's value; DRF rebuilds it."""
    paginator = ProductCursorPagination()
    paginator.base_url = base_url

    for _ in range(2):  # kept the second time
        assert paginator.encode_cursor(cursor) == DRFCursorPagination.encode_cursor(paginator, cursor)
