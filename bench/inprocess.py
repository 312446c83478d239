"""What the in-process benchmarks share: a WSGI environ for a request served by Django's handler in
the benchmark's own process, and a child run under valgrind's callgrind, whose instruction count
does not move with the machine's load (bench/tracing_cost.py, catalog_profile.py,
catalog_saga.py, orders_cost.py)."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from typing import Any

from bench.catalog_list import ROOT

_COLLECTED = re.compile(r"Collected : (\d+)")


def wsgi_environ(method: str, path: str, *, body: bytes = b"", **extra: str) -> dict[str, Any]:
    """The environ of `method path` (a query string after `?`) from 127.0.0.1, asking for JSON;
    `extra` adds or replaces keys (CONTENT_TYPE, HTTP_AUTHORIZATION, ...)."""
    path_info, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_ACCEPT": "application/json",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        **({"CONTENT_LENGTH": str(len(body))} if body else {}),
        **extra,
    }


class CallgrindFailed(RuntimeError):
    pass


def callgrind(argv: list[str], env: dict[str, str], *, timeout: float = 3600) -> tuple[int, str]:
    """(instructions counted, stdout) of `argv` run under callgrind from the project's root, every
    thread of the process counted; CallgrindFailed with the end of its output if it failed."""
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    collected = _COLLECTED.search(run.stderr)
    if run.returncode or not collected:
        raise CallgrindFailed(f"{' '.join(argv[1:])}: the callgrind run failed:\n{run.stderr[-3000:]}")
    return int(collected.group(1)), run.stdout
