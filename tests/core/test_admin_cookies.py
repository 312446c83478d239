"""Split shape: each service's admin keeps its own session and CSRF cookies (name and path), so
staff signed in to several admins on one host stay signed in to all of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from config.services import SERVICES

ROOT = Path(__file__).resolve().parents[2]
PRINT_COOKIES = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps([s.SESSION_COOKIE_NAME, s.SESSION_COOKIE_PATH, s.CSRF_COOKIE_NAME, s.CSRF_COOKIE_PATH]))"
)


def _cookies(service: str) -> list[str]:
    env = {**os.environ, "SERVICE": service, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    done = subprocess.run(
        [sys.executable, "-c", PRINT_COOKIES], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_service_admin_has_its_own_session_and_csrf_cookies():
    cookies = {name: _cookies(name) for name in SERVICES}

    assert cookies["orders"] == ["orders_sessionid", "/admin/orders/", "orders_csrftoken", "/admin/orders/"]
    session_names = {values[0] for values in cookies.values()}
    csrf_names = {values[2] for values in cookies.values()}
    assert len(session_names) == len(csrf_names) == len(SERVICES)
    for name, (_, session_path, _, csrf_path) in cookies.items():
        assert session_path == csrf_path == f"/admin/{name}/"
