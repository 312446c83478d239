"""A stand-in for the ADOT collector in the tracing benchmark (bench/catalog_list.py --tracing):
accepts OTLP/HTTP exports on 127.0.0.1 and answers 200, so the server under test pays what it
pays in production (encoding, the HTTP post from its export thread) and nothing more. On SIGTERM it
prints how many exports and bytes it received.

    .venv/bin/python -m bench.otlp_sink PORT"""

from __future__ import annotations

import http.server
import signal
import sys
import threading


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    received = {"exports": 0, "bytes": 0}
    lock = threading.Lock()

    def do_POST(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(size)
        with self.lock:
            self.received["exports"] += 1
            self.received["bytes"] += size
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def main() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink)
    server.daemon_threads = True

    def stop(*_) -> None:
        print(f"otlp sink: {Sink.received['exports']} exports, {Sink.received['bytes']} bytes", flush=True)
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    server.serve_forever()


if __name__ == "__main__":
    main()
