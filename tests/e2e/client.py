"""An HTTP client for the end-to-end suite: a shopper through the public API and a staff member
through the Django admin, against a running shop (the split stack behind its gateway, or the
all-in-one server). Nothing here imports the project: it speaks HTTP only."""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass, field
from html import unescape

import requests

BASE_URL = os.environ.get("E2E_BASE_URL", "http://127.0.0.1:8080").rstrip("/")
# The split shape mounts each service's admin at /admin/<service>/; all-in-one has one /admin/.
SPLIT = os.environ.get("E2E_SHAPE", "split") == "split"
STAFF_USERNAME = os.environ.get("E2E_STAFF_USERNAME", "e2e-staff")
STAFF_PASSWORD = os.environ.get("E2E_STAFF_PASSWORD", "")
TIMEOUT = 10


def admin_url(service: str, path: str = "") -> str:
    prefix = f"/admin/{service}/" if SPLIT else "/admin/"
    return f"{BASE_URL}{prefix}{path}"


def eventually(probe, *, timeout: float = 60, interval: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last: {value!r}")
        time.sleep(interval)


@dataclass
class Shopper:
    email: str = field(default_factory=lambda: f"e2e-{uuid.uuid4().hex[:10]}@example.com")
    password: str = "An-e2e-Passphrase-42"
    session: requests.Session = field(default_factory=requests.Session)
    access_token: str = ""

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        return self.session.request(method, f"{BASE_URL}{path}", headers=headers, timeout=TIMEOUT, **kwargs)

    def register_and_log_in(self) -> None:
        response = self.call(
            "POST",
            "/api/v1/users/register/",
            json={"email": self.email, "password": self.password, "first_name": "Eve", "last_name": "Tester"},
        )
        assert response.status_code == 201, response.text
        response = self.call("POST", "/api/v1/users/token/", json={"email": self.email, "password": self.password})
        assert response.status_code == 200, response.text
        self.access_token = response.json()["access_token"]


class Staff:
    """Signs in to a service's admin with a session and CSRF token, like a browser."""

    def __init__(self, service: str):
        self.service = service
        # Split, each service's admin has its own cookies, so staff can use several at once.
        self.csrf_cookie = f"{service}_csrftoken" if SPLIT else "csrftoken"
        self.session = requests.Session()
        login = admin_url(service, "login/")
        self.session.get(login, timeout=TIMEOUT)
        response = self.session.post(
            login,
            data={
                "username": STAFF_USERNAME,
                "password": STAFF_PASSWORD,
                "csrfmiddlewaretoken": self.session.cookies[self.csrf_cookie],
                "next": admin_url(service),
            },
            headers={"Referer": login},
            timeout=TIMEOUT,
        )
        assert response.status_code == 200 and "logout" in response.text.lower(), (
            f"staff sign-in to the {service} admin failed"
        )

    def get(self, path: str, **params) -> str:
        response = self.session.get(admin_url(self.service, path), params=params, timeout=TIMEOUT)
        assert response.status_code == 200, response.status_code
        return unescape(response.text)

    def post(self, path: str, data: dict) -> str:
        url = admin_url(self.service, path)
        response = self.session.post(
            url,
            data={**data, "csrfmiddlewaretoken": self.session.cookies[self.csrf_cookie]},
            headers={"Referer": url},
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, response.status_code
        return unescape(response.text)


def delivery_text(staff: Staff, email: str, template: str) -> str:
    """The text body of the newest sent email of `template` to one recipient, as the delivery
    log's page shows it (rendered from the stored context; the same page in both shapes), or ""
    while there is none."""
    page = staff.get(
        "notifications/delivery/", q=email, template__exact=template, channel__exact="email", status__exact="sent"
    )
    found = re.search(r"/delivery/([0-9a-f-]{36})/change/", page)
    if found is None:
        return ""
    response = staff.session.get(
        admin_url(staff.service, f"notifications/delivery/{found.group(1)}/change/"), timeout=TIMEOUT
    )
    assert response.status_code == 200, response.status_code
    body = re.search(r'field-text_body">.*?<div class="readonly">(.*?)</div>', response.text, re.S)
    assert body is not None, "the delivery page shows the text body"
    return unescape(re.sub(r"<br\s*/?>", "\n", body.group(1)))


def delivery_templates(staff: Staff, email: str) -> list[str]:
    """Templates of the messages the notifications log holds for one recipient, as sent."""
    page = staff.get("notifications/delivery/", q=email, status__exact="sent")
    return re.findall(r'<td class="field-template">([a-z_]+)</td>', page)
