"""An HTTP/1.1 load generator for the benchmarks: one asyncio loop in the calling process,
keep-alive connections to 127.0.0.1, GET only. Two modes:

- closed loop (`closed_loop`): each connection sends its next request as soon as the last one
  answered, which finds a server's peak rate;
- open loop (`open_loop`): requests are *scheduled* at a fixed rate, whatever the server does,
  and each latency is measured from the request's scheduled start, so time spent waiting for a
  free connection or in the server's queue counts (no "coordinated omission": a slow answer
  cannot hold back the requests behind it and hide its own cost). Connections are opened as the
  schedule needs them, up to `max_connections`.

Why not threads with http.client: on this 2-core machine the generator shares the CPU with the
server under test, and a thread per connection costs ~0.2-0.3 ms of CPU a request plus GIL
hand-overs that showed up as server latency. The loop here spends a fraction of that (printed as
`client CPU` with every result), and an open-loop phase is not capped by its thread count.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

_HEADER_END = b"\r\n\r\n"


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    client_cpu_seconds: float = field(default=0.0)

    @property
    def rate(self) -> float:
        """Answered (200) requests a second: failures and requests never sent do not count."""
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        """In milliseconds (nearest rank)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000

    def line(self) -> str:
        client = ""
        if self.requests and self.client_cpu_seconds:
            client = f", client CPU {self.client_cpu_seconds / self.requests * 1e6:.0f} us/request"
        return (
            f"{self.name:<44} {self.rate:8.0f} req/s   p50 {self.percentile(0.50):7.2f} ms   "
            f"p99 {self.percentile(0.99):7.2f} ms   ({self.requests} requests, {self.errors} errors{client})"
        )


def merged(name: str, results: list[Result]) -> Result:
    return Result(
        name,
        sum(result.requests for result in results),
        sum(result.errors for result in results),
        sum(result.seconds for result in results),
        [latency for result in results for latency in result.latencies],
        sum(result.client_cpu_seconds for result in results),
    )


class _Connection:
    """One keep-alive connection that sends GETs and reads whole answers."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, request: bytes) -> int:
        """The status of one answer, body read in full; reconnects first if needed."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(request)
        head = await self.reader.readuntil(_HEADER_END)
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
                break
        else:
            if status not in (204, 304):
                raise OSError("answer without Content-Length: keep-alive needs one")
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _request(port: int, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _timed_get(
    connection: _Connection, request: bytes, scheduled: float, latencies: list[float], errors: list[int]
) -> None:
    try:
        if await connection.get(request) != 200:
            errors.append(1)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        errors.append(1)
        connection.close()
    latencies.append(time.perf_counter() - scheduled)


async def _closed_loop(port: int, path: str, headers: dict[str, str], connections: int, duration: float) -> Result:
    request = _request(port, path, headers)
    latencies: list[float] = []
    errors: list[int] = []
    begin = time.perf_counter()
    stop_at = begin + duration

    async def one(index: int) -> None:
        # Staggered starts: a burst of simultaneous connects can land every connection on one
        # gunicorn worker process, which then serves alone while the other idles.
        await asyncio.sleep(index * 0.003)
        connection = _Connection(port)
        while (start := time.perf_counter()) < stop_at:
            await _timed_get(connection, request, start, latencies, errors)
        connection.close()

    await asyncio.gather(*(one(index) for index in range(connections)))
    return Result("", len(latencies), len(errors), time.perf_counter() - begin, latencies)


async def _open_loop(
    port: int, paths: Sequence[str], headers: dict[str, str], rate: float, duration: float, max_connections: int
) -> Result:
    requests = [_request(port, path, headers) for path in paths]
    latencies: list[float] = []
    errors: list[int] = []
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    opened = 0
    in_flight: set[asyncio.Task] = set()

    async def run(connection: _Connection, request: bytes, scheduled: float) -> None:
        await _timed_get(connection, request, scheduled, latencies, errors)
        idle.put_nowait(connection)

    begin = time.perf_counter() + 0.01
    end = begin + duration
    schedule = [begin + step / rate for step in range(math.ceil(duration * rate))]
    for step, scheduled in enumerate(schedule):
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if idle.empty() and opened < max_connections:
            idle.put_nowait(_Connection(port))
            opened += 1
        # Waiting here for a free connection delays this request past its schedule; that wait is
        # part of its latency (it is measured from `scheduled`).
        try:
            connection = await asyncio.wait_for(idle.get(), timeout=max(end - time.perf_counter(), 0.001))
        except TimeoutError:
            # Still no free connection when the phase ends: the server is too far behind for
            # the rest of the schedule to be sent. Each of those is an error, and its latency at
            # least the time it has waited (so the percentiles show the backlog), but the phase
            # stops on time instead of draining a queue that could take minutes.
            stopped = time.perf_counter()
            errors.extend([1] * (len(schedule) - step))
            latencies.extend(stopped - unsent for unsent in schedule[step:])
            break
        task = asyncio.create_task(run(connection, requests[step % len(requests)], scheduled))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight, timeout=30)
    while not idle.empty():
        idle.get_nowait().close()
    return Result("", len(latencies), len(errors), time.perf_counter() - begin, latencies)


def _timed(name: str, coroutine) -> Result:
    cpu = time.process_time()
    result = asyncio.run(coroutine)
    result.name = name
    result.client_cpu_seconds = time.process_time() - cpu
    return result


def closed_loop(
    name: str, port: int, path: str, *, connections: int, duration: float, headers: dict[str, str] | None = None
) -> Result:
    """`connections` keep-alive connections, each sending back to back for `duration` seconds."""
    return _timed(name, _closed_loop(port, path, headers or {}, connections, duration))


def open_loop(
    name: str,
    port: int,
    path: str | Sequence[str],
    *,
    rate: float,
    duration: float,
    max_connections: int = 64,
    headers: dict[str, str] | None = None,
) -> Result:
    """`rate` requests a second on a fixed schedule for `duration` seconds, latency measured from
    the schedule; given several paths, the requests take them in turn."""
    paths = [path] if isinstance(path, str) else list(path)
    return _timed(name, _open_loop(port, paths, headers or {}, rate, duration, max_connections))
