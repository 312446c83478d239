"""Category pages read their subtree from the category tree each process keeps
(first_pages._CategoryTree), checked against the tree's version inside the page's own query: staff's
changes to the tree (added, moved, renamed, deleted categories, through the ORM or bulk SQL) show
on the very next request, and a page read with an outdated tree is read again, never served."""

from __future__ import annotations

import pytest
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext

from apps.catalog.models import Category
from apps.catalog.selectors import first_pages
from tests.catalog import factories

pytestmark = pytest.mark.django_db(databases="__all__")
URL = "/api/v1/catalog/products/"


@pytest.fixture
def tree() -> dict[str, Category]:
    """clothing > shirts (a tee), clothing > hats (a cap); home (a mug)."""
    clothing = factories.category(slug="clothing")
    shirts = factories.category(slug="shirts", parent=clothing)
    hats = factories.category(slug="hats", parent=clothing)
    home = factories.category(slug="home")
    factories.product_with_variants(slug="tee", category=shirts)
    factories.product_with_variants(slug="cap", category=hats)
    factories.product_with_variants(slug="mug", category=home)
    return {"clothing": clothing, "shirts": shirts, "hats": hats, "home": home}


def _page(client, category: str, **query: str) -> tuple[int, list[str], int]:
    """Status, the slugs on the first page, and how many queries it took."""
    with CaptureQueriesContext(connections["catalog"]) as queries:
        response = client.get(URL, {"category": category, **query})
    body = response.json()
    slugs = sorted(item["slug"] for item in body["results"]) if response.status_code == 200 else body
    return response.status_code, slugs, len(queries)


@pytest.mark.parametrize("ordering", ["name", "price", "-price", "newest"])
def test_a_kept_tree_serves_every_category_page_in_one_query(client, tree, ordering):
    assert _page(client, "home", ordering=ordering) == (200, ["mug"], 2)  # the tree, then the page

    assert _page(client, "clothing", ordering=ordering) == (200, ["cap", "tee"], 1)
    assert _page(client, "shirts", ordering=ordering) == (200, ["tee"], 1)
    assert _page(client, "home", ordering=ordering) == (200, ["mug"], 1)


def test_an_added_category_and_its_products_show_on_the_next_request(client, tree):
    assert _page(client, "clothing")[1] == ["cap", "tee"]
    coats = factories.category(slug="coats", parent=tree["clothing"])
    factories.product_with_variants(slug="parka", category=coats)

    assert _page(client, "clothing") == (200, ["cap", "parka", "tee"], 4)  # outdated: read again
    assert _page(client, "coats") == (200, ["parka"], 1)


@pytest.mark.parametrize("bulk", [False, True], ids=["save", "queryset-update"])
def test_a_moved_category_shows_under_its_new_parent_on_the_next_request(client, tree, bulk):
    assert _page(client, "clothing")[1] == ["cap", "tee"]
    assert _page(client, "home")[1] == ["mug"]

    if bulk:  # no model signal: the database's trigger still renews the version
        Category.objects.filter(slug="hats").update(parent=tree["home"])
    else:
        tree["hats"].parent = tree["home"]
        tree["hats"].save()

    assert _page(client, "clothing")[1] == ["tee"]
    assert _page(client, "home")[1] == ["cap", "mug"]
    assert _page(client, "hats") == (200, ["cap"], 1)


def test_a_renamed_slug_is_unknown_and_the_new_one_serves_on_the_next_request(client, tree):
    assert _page(client, "shirts")[1] == ["tee"]
    tree["shirts"].slug = "tops"
    tree["shirts"].save()

    status, body, reads = _page(client, "shirts")

    assert status == 400
    assert body["errors"] == {"category": ["There is no category 'shirts'."]}
    assert reads == 3  # the page (outdated: empty), the version, the tree (which has no "shirts")
    assert _page(client, "tops") == (200, ["tee"], 1)
    assert _page(client, "clothing")[1] == ["cap", "tee"]


def test_a_deleted_category_is_unknown_on_the_next_request(client, tree):
    empty = factories.category(slug="empty", parent=tree["clothing"])
    assert _page(client, "empty") == (200, [], 3)  # the tree, the page, the version
    empty.delete()

    status, body, _ = _page(client, "empty")

    assert status == 400
    assert body["errors"] == {"category": ["There is no category 'empty'."]}


def test_a_change_rolled_back_leaves_no_outdated_tree_behind(client, tree):
    """A page read inside the change's own transaction keeps the tree that transaction saw, at a
    version number no later change can reuse (a sequence gives it, not a counter): after the
    rollback, and another change, it is read again."""
    with pytest.raises(RuntimeError), transaction.atomic(using="catalog"):
        Category.objects.filter(slug="hats").update(parent=tree["home"])
        assert _page(client, "home")[1] == ["cap", "mug"]
        raise RuntimeError("rolled back")
    Category.objects.filter(slug="shirts").update(parent=tree["home"])

    assert _page(client, "home")[1] == ["mug", "tee"]
    assert _page(client, "clothing")[1] == ["cap"]


def test_a_display_name_or_position_change_keeps_the_tree(client, tree):
    assert _page(client, "clothing")[1] == ["cap", "tee"]
    version = first_pages._CATEGORY_TREES["catalog"].version
    Category.objects.filter(slug="hats").update(name="Caps and hats", position=3)

    assert _page(client, "clothing") == (200, ["cap", "tee"], 1)
    assert first_pages._CATEGORY_TREES["catalog"].version == version


def test_an_empty_and_an_unknown_category_need_the_version_only(client, tree):
    factories.category(slug="empty", parent=tree["home"])
    assert _page(client, "home")[1] == ["mug"]

    assert _page(client, "empty") == (200, [], 2)  # the page, then the version
    status, _, reads = _page(client, "nowhere")
    assert (status, reads) == (400, 1)  # the version only


def test_a_process_first_unknown_category_needs_the_tree_only(client, tree):
    status, body, reads = _page(client, "nowhere")

    assert (status, reads) == (400, 1)
    assert body["errors"] == {"category": ["There is no category 'nowhere'."]}
