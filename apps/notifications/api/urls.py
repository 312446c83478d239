"""URLs of the notifications API, mounted under /api/v1/notifications/."""

from django.urls import path

from apps.notifications.api import views

urlpatterns = [
    path("preferences/", views.PreferenceView.as_view(), name="preferences"),
]
