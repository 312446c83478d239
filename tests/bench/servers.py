"""A tiny keep-alive HTTP server on 127.0.0.1 for the load generators' tests."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Iterator


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as gunicorn serves the benchmarks
    delay = 0.0
    status = 200
    paths: list[str]

    def do_GET(self) -> None:
        self.paths.append(self.path)
        if self.delay:
            time.sleep(self.delay)
        body = b'{"ok": true}'
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def local_server(*, delay: float = 0.0, status: int = 200, paths: list[str] | None = None) -> Iterator[int]:
    """A server answering every GET with `status` after `delay` seconds; yields its port. The
    paths asked for are appended to `paths`."""
    handler = type("Handler", (_Handler,), {"delay": delay, "status": status, "paths": [] if paths is None else paths})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
