"""Load balancer health checks arrive with the task's IP as Host; they are answered before host
validation, while every other request from that Host is still refused. The target groups probe the
path the app answers readiness on."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.core.health import READY_PATH
from tests.deploy.templates import load, resources

TASK_HOST = "10.40.3.17:8000"


def test_liveness_answers_a_host_not_in_allowed_hosts(settings):
    settings.ALLOWED_HOSTS = ["api.shop.example"]
    client = Client()
    response = client.get("/health/live", HTTP_HOST=TASK_HOST)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db(databases="__all__")
def test_readiness_answers_a_host_not_in_allowed_hosts(settings):
    settings.ALLOWED_HOSTS = ["api.shop.example"]
    response = Client().get(READY_PATH, HTTP_HOST=TASK_HOST)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["checks"] and set(response.json()["checks"].values()) == {"ok"}


@pytest.mark.django_db(databases="__all__")
def test_readiness_reports_a_failed_check_to_that_host_too(settings):
    settings.ALLOWED_HOSTS = ["api.shop.example"]
    settings.READINESS_CHECKS = ["tests.deploy.test_health.queue_down"]
    response = Client().get(READY_PATH, HTTP_HOST=TASK_HOST)
    assert response.status_code == 503
    assert response.json()["checks"]["queue:shopstack-test"] == "unavailable"


def queue_down() -> dict[str, str]:
    return {"queue:shopstack-test": "unavailable"}


def test_other_paths_from_that_host_are_still_refused(settings):
    settings.ALLOWED_HOSTS = ["api.shop.example"]
    response = Client().get("/admin/", HTTP_HOST=TASK_HOST)
    assert response.status_code == 400


@pytest.mark.parametrize("name", ["service", "service-asg"])
def test_target_groups_probe_the_readiness_path(name):
    groups = resources(load(name), "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert {"WebTargetGroupBlue", "WebTargetGroupGreen"} <= set(groups)
    for group in groups.values():
        properties = group["Properties"]
        assert properties["HealthCheckPath"] == READY_PATH
        # Readiness answers 200 when ready and 503 otherwise; ELB's default matcher is 200.
        assert properties.get("Matcher", {"HttpCode": "200"}) == {"HttpCode": "200"}
        assert properties.get("HealthCheckProtocol", properties["Protocol"]) == "HTTP"
        assert properties["Port"] == 8000
