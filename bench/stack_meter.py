"""What the split stack spends on a benchmark's orders: CPU by process class, read from /proc, and
the AWS calls the moto server answered, by operation (bench/checkout.py).

CPU: a thread samples /proc every half second for every process the stack started (the pid files
of scripts/stack and their children: gunicorn's workers) and for the PostgreSQL backends connected
to the stack's databases (found by the database name in their title). It keeps each process's
last reading, so a process that ends inside a window (a backend closed after CONN_MAX_AGE) still
counts up to its last sample. The PostgreSQL server's own background processes (WAL writer,
checkpointer) are shared with everything else on the machine and are not counted.

AWS calls are counted at the moto server rather than with botocore's event hooks in the shop's
processes: the server sees every caller whatever library it uses (kombu's SQS transport polls
with its own HTTP client on the worker's event loop, where botocore's hooks never fire), and the
shop needs no benchmark code. Counting uses moto's request recorder (/moto-api/recorder/), which
appends every request to a file; the benchmark reads it for the window and names each request's
operation from its X-Amz-Target header (SQS's JSON protocol) or its Action parameter (SNS's query
protocol). Recording costs the moto server a little CPU of its own (a JSON line per request)."""

from __future__ import annotations

import base64
import json
import os
import threading
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The order classes are printed in; anything else the stack runs (nginx, localstripe) follows.
CLASSES = ("web", "worker", "relay", "beat", "moto", "postgres")
PROJECT_CLASSES = ("web", "worker", "relay", "beat")

# A process: (pid, start time in ticks since boot), so a reused pid is another process.
ProcessKey = tuple[int, int]


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    start: int
    cpu_ticks: int  # user + system, this process only (its own threads)


def parse_stat(text: str) -> ProcStat:
    """/proc/<pid>/stat: the command name is in parentheses and may hold spaces or ')'."""
    pid = int(text[: text.index(" ")])
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15, starttime 22.
    return ProcStat(pid=pid, ppid=int(fields[1]), start=int(fields[19]), cpu_ticks=int(fields[11]) + int(fields[12]))


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as file:
            return file.read().decode("utf-8", "replace")
    except OSError:
        return None


def process_class(name: str) -> tuple[str, str]:
    """(class, service) of a stack pid file's name: "orders-worker" -> ("worker", "orders"),
    "moto" -> ("moto", "")."""
    service, _, role = name.rpartition("-")
    return (role, service) if service else (name, "")


def postgres_database(cmdline: str, prefix: str) -> str | None:
    """The stack database a PostgreSQL backend serves, from its process title
    ("postgres: postgres shopstack_stack_orders 127.0.0.1(5432) idle"); None for any other."""
    if not cmdline.startswith("postgres: "):
        return None
    for word in cmdline.split()[1:4]:
        if word.startswith(f"{prefix}_"):
            return word.removeprefix(f"{prefix}_")
    return None


class CpuMeter:
    """Samples the stack's processes until stopped; `reading()` is the CPU ticks each process had
    used at its last sample, for `window()` to subtract."""

    def __init__(self, run_dir: Path, db_prefix: str, *, interval: float = 0.5) -> None:
        self.run_dir = run_dir
        self.db_prefix = db_prefix
        self.interval = interval
        self._last: dict[ProcessKey, int] = {}
        self._labels: dict[ProcessKey, tuple[str, str]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-meter", daemon=True)

    def start(self) -> CpuMeter:
        self.sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def roots(self) -> dict[int, tuple[str, str]]:
        """The stack's processes by pid file: pid -> (class, service)."""
        found = {}
        for pidfile in self.run_dir.glob("*.pid"):
            text = _read(str(pidfile))
            if text and text.strip().isdigit():
                found[int(text.strip())] = process_class(pidfile.stem)
        return found

    def sample(self) -> None:
        stats: dict[int, ProcStat] = {}
        postgres: dict[int, str] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            text = _read(f"/proc/{entry}/stat")
            if text is None:
                continue
            stat = parse_stat(text)
            stats[stat.pid] = stat
            if "(postgres)" in text[: text.rindex(")") + 1]:
                cmdline = (_read(f"/proc/{entry}/cmdline") or "").replace("\0", " ")
                if (database := postgres_database(cmdline, self.db_prefix)) is not None:
                    postgres[stat.pid] = database
        labels = {pid: ("postgres", database) for pid, database in postgres.items()}
        roots = self.roots()
        children: dict[int, list[int]] = {}
        for stat in stats.values():
            children.setdefault(stat.ppid, []).append(stat.pid)
        for root, label in roots.items():
            pending = [root]
            while pending:
                pid = pending.pop()
                if pid in stats:
                    labels[pid] = label
                    pending.extend(children.get(pid, ()))
        with self._lock:
            for pid, label in labels.items():
                key = (pid, stats[pid].start)
                self._labels[key] = label
                self._last[key] = stats[pid].cpu_ticks

    def reading(self) -> dict[ProcessKey, int]:
        self.sample()
        with self._lock:
            return dict(self._last)

    def window(self, before: Mapping[ProcessKey, int], after: Mapping[ProcessKey, int]) -> CpuWindow:
        """CPU seconds by (class, service) between two readings; a process first seen in between
        counts from zero (it started inside the window)."""
        seconds: Counter[tuple[str, str]] = Counter()
        with self._lock:
            labels = dict(self._labels)
        for key, ticks in after.items():
            used = ticks - before.get(key, 0)
            if used > 0:
                seconds[labels[key]] += used / CLOCK_TICKS
        return CpuWindow(dict(seconds))


@dataclass
class CpuWindow:
    seconds: dict[tuple[str, str], float]

    def by_class(self) -> dict[str, float]:
        totals: Counter[str] = Counter()
        for (name, _), value in self.seconds.items():
            totals[name] += value
        ordered = [name for name in CLASSES if name in totals]
        return {name: totals[name] for name in [*ordered, *sorted(set(totals) - set(CLASSES))]}

    def by_service(self, name: str) -> dict[str, float]:
        return {service: value for (cls, service), value in sorted(self.seconds.items()) if cls == name}

    def project(self) -> float:
        """The shop's own processes: gunicorn, Celery workers, relays, beat (not moto, nginx,
        PostgreSQL or the payment provider's stand-in)."""
        return sum(value for (name, _), value in self.seconds.items() if name in PROJECT_CLASSES)

    def report(self, *, orders: int, elapsed: float, idle_per_second: float | None = None) -> list[str]:
        per = max(orders, 1)
        lines = [f"    CPU over {elapsed:.0f} s for {orders} confirmed orders (ms per confirmed order):"]
        for name, value in self.by_class().items():
            detail = ""
            if name in ("web", "worker", "postgres"):
                parts = self.by_service(name)
                detail = "  (" + ", ".join(f"{service} {v * 1000 / per:.1f}" for service, v in parts.items()) + ")"
            lines.append(f"      {name:<11} {value:7.1f} s  {value * 1000 / per:7.1f} ms{detail}")
        project = self.project()
        lines.append(f"      {'project':<11} {project:7.1f} s  {project * 1000 / per:7.1f} ms  (web+worker+relay+beat)")
        if idle_per_second is not None:
            idle = idle_per_second * elapsed
            lines.append(
                f"      idle share: the project's processes use {idle_per_second * 1000:.0f} ms of CPU a second "
                f"with no orders; {idle:.1f} s of this window, {(project - idle) * 1000 / per:.1f} ms/order net of it"
            )
        return lines


# --- AWS calls, counted at the moto server -------------------------------------------------------


def aws_operation(entry: Mapping[str, object]) -> str:
    """ "sqs:ReceiveMessage", "sns:Publish", ... for one request of moto's recording."""
    headers = {str(key).lower(): str(value) for key, value in dict(entry.get("headers") or {}).items()}
    service = ""
    credential = headers.get("authorization", "")
    if "Credential=" in credential:
        # Credential=KEY/20261130/us-east-1/sqs/aws4_request
        scope = credential.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        if len(scope) >= 4:
            service = scope[3]
    target = headers.get("x-amz-target", "")
    if target:
        prefix, _, action = target.partition(".")
        service = service or {"AmazonSQS": "sqs"}.get(prefix, prefix.lower())
        return f"{service}:{action}"
    url = str(entry.get("url") or "")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(str(body)).decode("utf-8", "replace")
    form = urllib.parse.parse_qs(str(body)) if "=" in str(body)[:200] else {}
    action = (query.get("Action") or form.get("Action") or [""])[0]
    if action:
        return f"{service or '?'}:{action}"
    return f"{service or '?'}:{entry.get('method')} {urllib.parse.urlsplit(url).path}"


def count_operations(lines: Iterable[str]) -> Counter[str]:
    """Operations in moto's recording. Its threads append to the file concurrently, writing each
    entry and its newline separately, so one line may hold two entries back to back."""
    decoder = json.JSONDecoder()
    counts: Counter[str] = Counter()
    for line in lines:
        position, line = 0, line.strip()
        while position < len(line):
            try:
                entry, position = decoder.raw_decode(line, position)
            except json.JSONDecodeError:
                counts["(unreadable entry)"] += 1
                break
            counts[aws_operation(entry)] += 1
            while position < len(line) and line[position].isspace():
                position += 1
    return counts


class MotoCalls:
    """Counts the requests the moto server answers between `start()` and `stop()`."""

    def __init__(self, endpoint: str, recording: Path) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.recording = recording

    def _post(self, action: str) -> None:
        url = f"{self.endpoint}/moto-api/recorder/{action}"
        request = urllib.request.Request(url, method="POST", data=b"")  # noqa: S310 (the stack's moto, 127.0.0.1)
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 (the stack's moto on 127.0.0.1)
            pass

    def start(self) -> None:
        self._post("reset-recording")
        self._post("start-recording")

    def stop(self) -> Counter[str]:
        self._post("stop-recording")
        if not self.recording.exists():
            raise SystemExit(
                f"moto's recording is not at {self.recording}: start the stack with this checkout's scripts/stack"
            )
        with self.recording.open(encoding="utf-8") as file:
            counts = count_operations(file)
        self._post("reset-recording")
        return counts


def calls_report(counts: Counter[str], *, orders: int, elapsed: float) -> list[str]:
    per = max(orders, 1)
    total = sum(counts.values())
    rate = total / max(elapsed, 1e-9)
    lines = [f"    AWS calls at moto: {total} ({total / per:.1f} per confirmed order, {rate:.0f}/s)"]
    for operation, count in counts.most_common():
        lines.append(f"      {operation:<34} {count:6d}  {count / per:6.2f} per order")
    return lines
