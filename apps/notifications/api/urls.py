"""URLs of the notifications API, mounted under /api/v1/notifications/."""

urlpatterns: list = []
