"""The landing page and the category pages are answered without DRF's dispatch
(views._first_page_answer): every answer, whichever path made it, must be the one DRF's path
gives: status, headers, body, ETag and 304, with the same queries."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.db import connections
from django.test.utils import CaptureQueriesContext
from rest_framework.views import APIView

from apps.catalog.api import views
from apps.catalog.models import Product
from tests.catalog import factories

pytestmark = pytest.mark.django_db(databases="__all__")
URL = "/api/v1/catalog/products/"
# Made per request by the middleware, whichever path answered.
_PER_REQUEST = {"X-Request-ID", "X-Trace-ID"}

LEAN = [
    {},
    {"page_size": "1"},
    {"page_size": "2"},
    {"page_size": "100"},
    {"ordering": "price"},
    {"ordering": "-price", "page_size": "2"},
    {"ordering": "newest", "page_size": "1"},
    {"ordering": "newest", "page_size": "2"},  # a next link holding a time (microseconds shown)
    {"category": "clothing"},
    {"category": "shirts", "ordering": "newest"},
    {"category": "clothing", "ordering": "price", "page_size": "1"},
    {"category": "clothing", "ordering": "-price", "page_size": "2"},
    {"category": "empty"},
]
# Bad input, an unknown category, other filters, a cursor: DRF's path answers these.
NOT_LEAN = [
    {"category": "unknown"},
    {"category": ""},
    {"page_size": "0"},
    {"page_size": "101"},
    {"page_size": "ten"},
    {"ordering": "relevance"},
    {"ordering": "popularity"},
    {"ordering": ["price", "name"]},
    {"category": ["clothing", "shirts"]},
    {"colour": "red"},
    {"in_stock": "true"},
    {"category": "clothing", "q": "tee"},
    {"format": "json"},
    {"cursor": "garbage!"},
]


# Every character JSON escapes or a JavaScript string may not hold, and some it leaves as they are:
# PostgreSQL writes the items on the lean path, Python's json on DRF's.
BRANDS = ["Acme", "".join(map(chr, range(1, 32))) + '"\\/\x7f\u2028\u2029 é 😀 </script>']


@pytest.fixture(autouse=True)
def listing(client) -> None:
    """Ties in names, prices and creation times (so some next links carry offsets), an image, a
    compare-at price, a name and a brand that JSON must escape, and a category tree with an empty
    leaf; the tree already kept by the process, as after its first category page."""
    clothing = factories.category(slug="clothing")
    shirts = factories.category(slug="shirts", parent=clothing)
    factories.category(slug="empty", parent=clothing)
    created = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    names = ["Tee", "Tee", "Tee", 'Cap "Løvé"\u2028\n', "Coat"]
    for index, name in enumerate(names):
        product = factories.product(
            slug=f"p-{index}", name=name, brand=BRANDS[index % 2], category=[None, shirts, clothing][index % 3]
        )
        factories.variant(product=product, price="10.00" if index < 3 else "25.50", compare_at_price=None)
        if index == 1:
            factories.variant(product=product, price="12.00", compare_at_price=Decimal("30.00"))
        if index == 2:
            factories.image(product=product, name="products/tee ü.jpg")
        stamp = created if index < 3 else created.replace(hour=13, microsecond=120)
        Product.objects.filter(pk=product.pk).update(created_at=stamp)
    client.get(URL, {"category": "clothing"})


def _lean_taken(monkeypatch) -> list[str]:
    """Records every request DRF's dispatch answers."""
    seen = []
    dispatch = APIView.dispatch

    def recording_dispatch(self, request, *args, **kwargs):
        seen.append(request.get_full_path())
        return dispatch(self, request, *args, **kwargs)

    monkeypatch.setattr(APIView, "dispatch", recording_dispatch)
    return seen


def _answer(client, method: str, query: dict, **headers) -> tuple:
    with CaptureQueriesContext(connections["catalog"]) as queries:
        response = getattr(client, method)(URL, query, **headers)
    kept = {name: value for name, value in response.items() if name not in _PER_REQUEST}
    return response.status_code, kept, response.content, [query["sql"] for query in queries]


def _drf_answer(client, monkeypatch, method: str, query: dict, **headers) -> tuple:
    with monkeypatch.context() as patch:
        patch.setattr(views, "_first_page_answer", lambda view, request: None)
        return _answer(client, method, query, **headers)


@pytest.mark.parametrize("query", LEAN)
@pytest.mark.parametrize("method", ["get", "head"])
def test_first_pages_are_answered_without_drf_exactly_as_drf_answers_them(client, monkeypatch, query, method):
    expected = _drf_answer(client, monkeypatch, method, query)
    through_drf = _lean_taken(monkeypatch)

    answer = _answer(client, method, query)

    assert through_drf == []
    assert answer[:3] == expected[:3]
    assert answer[0] == 200
    _assert_same_reads(answer[3], expected[3])


def _assert_same_reads(lean: list[str], drf: list[str]) -> None:
    """The same queries, but that the lean path's page query writes the items around the very query
    DRF's path runs (an empty category page then asks whether the category exists, on both)."""
    assert len(lean) == len(drf)
    assert f"FROM ({drf[0]}) AS page ORDER BY" in lean[0]
    assert lean[1:] == drf[1:]


@pytest.mark.parametrize("query", LEAN[:3] + LEAN[7:9])
def test_a_matching_if_none_match_is_a_304_on_both_paths(client, monkeypatch, query):
    etag = client.get(URL, query)["ETag"]
    for if_none_match in (etag, f'"other", {etag}', "*", '"other"'):
        expected = _drf_answer(client, monkeypatch, "get", query, HTTP_IF_NONE_MATCH=if_none_match)

        answer = _answer(client, "get", query, HTTP_IF_NONE_MATCH=if_none_match)

        assert answer[:3] == expected[:3]
        _assert_same_reads(answer[3], expected[3])
    assert expected[0] == 200  # the last: no match


@pytest.mark.parametrize("query", NOT_LEAN)
def test_other_requests_get_drfs_answer(client, monkeypatch, query):
    expected = _drf_answer(client, monkeypatch, "get", query)
    through_drf = _lean_taken(monkeypatch)

    answer = _answer(client, "get", query)

    assert len(through_drf) == 1
    assert answer[:3] == expected[:3]


@pytest.mark.parametrize(
    "accept", ["application/json; indent=4", "*/*; indent=2", "text/html,application/xhtml+xml,*/*;q=0.8", "text/csv"]
)
def test_other_accept_headers_get_drfs_answer(client, monkeypatch, accept):
    expected = _drf_answer(client, monkeypatch, "get", {}, HTTP_ACCEPT=accept)
    through_drf = _lean_taken(monkeypatch)

    answer = _answer(client, "get", {}, HTTP_ACCEPT=accept)

    assert len(through_drf) == 1
    assert answer == expected


@pytest.mark.parametrize("accept", ["application/json", "*/*", ""])
def test_plain_json_accept_headers_take_the_lean_path(client, monkeypatch, accept):
    expected = _drf_answer(client, monkeypatch, "get", {}, HTTP_ACCEPT=accept)
    through_drf = _lean_taken(monkeypatch)

    answer = _answer(client, "get", {}, HTTP_ACCEPT=accept)

    assert answer[:3] == expected[:3]
    assert through_drf == []


@pytest.mark.parametrize(("category", "status", "reads"), [("empty", 200, 2), ("unknown", 400, 1)])
def test_an_empty_or_unknown_category_page_asks_whether_the_tree_changed_once(
    client, monkeypatch, category, status, reads
):
    """On both paths: the page, then (empty) whether the kept tree is still the database's; for a
    category the kept tree does not know, only the latter, and DRF's path makes the problem body
    without reading it again."""
    expected = _drf_answer(client, monkeypatch, "get", {"category": category})

    answer = _answer(client, "get", {"category": category})

    assert answer[0] == status
    assert answer[:3] == expected[:3]
    assert len(answer[3]) == reads
    assert "catalog_category_tree_version" in answer[3][-1]


@pytest.mark.parametrize("media_url", ["/media/", "https://cdn.example.com/shop-ü/"])
def test_image_urls_follow_the_storage_on_both_paths(client, monkeypatch, settings, media_url):
    settings.MEDIA_URL = media_url
    expected = _drf_answer(client, monkeypatch, "get", {"category": "clothing"})

    answer = _answer(client, "get", {"category": "clothing"})

    assert answer[:3] == expected[:3]
    urls = [item["image_url"] for item in json.loads(answer[2])["results"]]
    assert sorted(urls, key=bool) == [None, None, default_storage.url("products/tee ü.jpg")]
    assert default_storage.url("x").startswith(media_url)


@pytest.mark.parametrize(
    "query_string",
    [
        "",
        "category=clothing",
        "category=clothing&ordering=price&page_size=2",
        "ordering=newest&category=shirts",
        "category=caf%C3%A9",
        "category=café".encode().decode("iso-8859-1"),  # raw UTF-8, as a WSGI server passes it
        "category=a+b&ordering=",
        "category=clothing&category=shirts",
        "category=clothing&q=tee",
        "cursor=abc",
        "category",
        "&&category=clothing&",
    ],
)
def test_a_first_pages_parameters_are_those_requestget_reads(rf, query_string):
    # Given the query string as a WSGI server passes it
    request = rf.get(URL)
    request.META["QUERY_STRING"] = query_string

    # When the lean path reads it, then it reads what request.GET holds, or refuses what is no
    # first page's query (another parameter, one given twice)
    parameters = views._first_page_parameters(query_string)
    params = request.GET
    if params.keys() <= views._FIRST_PAGE_PARAMETERS and all(len(values) == 1 for _, values in params.lists()):
        assert dict(parameters) == params.dict()
    else:
        assert parameters is None
