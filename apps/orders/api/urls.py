"""URLs of the orders API, mounted under /api/v1/orders/."""

urlpatterns: list = []
