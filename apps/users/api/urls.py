"""URLs of the users API, mounted under /api/v1/users/."""

urlpatterns: list = []
