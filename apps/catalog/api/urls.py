"""URLs of the catalog API, mounted under /api/v1/catalog/."""

from django.urls import path

from apps.catalog.api import views

urlpatterns = [
    path("products/", views.ProductListView.as_view(), name="product-list"),
    path("products/<slug:slug>/", views.ProductDetailView.as_view(), name="product-detail"),
    path("categories/", views.CategoryTreeView.as_view(), name="category-tree"),
    path("variants/", views.VariantLookupView.as_view(), name="variant-lookup"),
]
