#!/usr/bin/env python3
"""Container health check (Dockerfile HEALTHCHECK, ECS container healthCheck).

A container running gunicorn is healthy when /health/live answers 200 on $PORT; any other role
(worker, beat, relay) is healthy while its process runs, which the check being executed at all
already shows. Stdlib only."""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path


def serves_http(proc: Path = Path("/proc")) -> bool:
    for cmdline in proc.glob("[0-9]*/cmdline"):
        try:
            if b"gunicorn" in cmdline.read_bytes():
                return True
        except OSError:  # the process ended while we looked
            continue
    return False


def main() -> int:
    if not serves_http():
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
