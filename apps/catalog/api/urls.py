"""URLs of the catalog API, mounted under /api/v1/catalog/."""

urlpatterns: list = []
