"""Load balancer health checks arrive with the task's IP as Host; they are answered before host
validation, while every other request from that Host is still refused."""

from __future__ import annotations

from django.test import Client


def test_liveness_answers_a_host_not_in_allowed_hosts(settings):
    settings.ALLOWED_HOSTS = ["api.shop.example"]
    client = Client()
    response = client.get("/health/live", HTTP_HOST="10.40.3.17:8000")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_other_paths_from_that_host_are_still_refused(settings):
    settings.ALLOWED_HOSTS = ["api.shop.example"]
    response = Client().get("/admin/", HTTP_HOST="10.40.3.17:8000")
    assert response.status_code == 400
