#!/usr/bin/env python3
"""Container health check (Dockerfile HEALTHCHECK, ECS container healthCheck), stdlib only.

- gunicorn (web): healthy when /health/live answers 200 on $PORT;
- Celery worker and beat: healthy while the heartbeat file (deploy/heartbeat.py: touched by the
  worker's consumer loop and beat's scheduler loop every 30 s) is younger than 120 s: a loop that
  hangs (a broker call that never returns, a deadlock) makes the task unhealthy and ECS replaces it;
- anything else (a one-off manage command): healthy while its process runs, which the check being
  executed at all already shows.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.request
from pathlib import Path

HEARTBEAT_FILE = Path(os.environ.get("HEARTBEAT_FILE", "/tmp/shopstack-heartbeat"))  # noqa: S108 (the writable volume)
HEARTBEAT_SECONDS = 30
HEARTBEAT_MAX_AGE = 4 * HEARTBEAT_SECONDS


def running(proc: Path = Path("/proc")) -> str | None:
    """What the container runs: "web" (gunicorn), "celery" (worker or beat), or None."""
    found = None
    for cmdline in proc.glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:  # the process ended while we looked
            continue
        if any(b"gunicorn" in arg for arg in argv[:2]):
            return "web"
        if any(arg.endswith(b"celery") for arg in argv[:2]) and ({b"worker", b"beat"} & set(argv)):
            found = "celery"
    return found


def serves_http(proc: Path = Path("/proc")) -> bool:
    return running(proc) == "web"


def heartbeat_fresh(path: Path = HEARTBEAT_FILE, now: float | None = None) -> bool:
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except OSError:
        return False
    return age <= HEARTBEAT_MAX_AGE


def main() -> int:
    role = running()
    if role == "celery":
        if heartbeat_fresh():
            return 0
        print(f"healthcheck: {HEARTBEAT_FILE} older than {HEARTBEAT_MAX_AGE} s (or missing)", file=sys.stderr)
        return 1
    if role != "web":
        return 0
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/health/live"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError as error:
        print(f"healthcheck: {url}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
