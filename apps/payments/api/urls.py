"""URLs of the payments API, mounted under /api/v1/payments/."""

urlpatterns: list = []
