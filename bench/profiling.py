"""Where the stack's Python processes spend their CPU during a benchmark phase: py-spy (a
sampling profiler that attaches to a running process, on PyPI) records each chosen process (and
its children: gunicorn's workers) for the phase, and the raw stacks are summed up by function,
inclusive and self.

py-spy samples from outside the process; with --nonblocking it does not pause the process for
each sample, so the profiled run is only slightly slower. It is still a separate run from the
one whose figures are recorded: profiling costs the machine CPU of its own. Only samples holding
the GIL count, so the counts approximate the Python CPU time (C code that releases the GIL, such
as libpq's, is not seen)."""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# A py-spy frame without line numbers: "function (path/to/module.py)".
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*)\)$")


@dataclass
class Recording:
    name: str
    output: Path
    process: subprocess.Popen


def record(py_spy: str, *, pid: int, name: str, seconds: int, directory: Path) -> Recording:
    directory.mkdir(parents=True, exist_ok=True)
    output = directory / f"{name}.txt"
    argv = [
        py_spy,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(seconds),
        "--rate",
        "100",
        "--format",
        "raw",
        "--nolineno",
        "--nonblocking",
        # Only samples that hold the GIL: Python's own CPU, not a thread waiting on a socket
        # (py-spy cannot always tell psycopg's or kombu's waits from work otherwise).
        "--gil",
        # A gunicorn master's workers are its children.
        "--subprocesses",
        "--output",
        str(output),
    ]
    log = (directory / f"{name}.log").open("wb")
    return Recording(name, output, subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))


def parse_raw(lines: Iterable[str]) -> list[tuple[list[str], int]]:
    """py-spy's raw (collapsed) format: one "frame;frame;...;leaf COUNT" per line, outermost first."""
    stacks = []
    for line in lines:
        line = line.rstrip("\n")
        if not line or " " not in line:
            continue
        frames, _, count = line.rpartition(" ")
        if count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    return stacks


def frame_label(frame: str) -> str:
    """ "send (botocore/endpoint.py)" -> "botocore/endpoint.py:send"."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    return f"{match['file']}:{match['function']}"


@dataclass
class Summary:
    samples: int
    inclusive: Counter[str]
    own: Counter[str]

    def lines(self, name: str, *, top: int) -> list[str]:
        out = [f"    {name}: {self.samples} samples (about {self.samples / 100:.1f} s of CPU at 100 Hz)"]
        share = 100 / max(self.samples, 1)
        out.append("      inclusive (the function or anything it called):")
        out += [f"        {count * share:5.1f} %  {label}" for label, count in self.inclusive.most_common(top)]
        out.append("      self (the function's own code):")
        out += [f"        {count * share:5.1f} %  {label}" for label, count in self.own.most_common(top)]
        return out


def summarize(stacks: list[tuple[list[str], int]]) -> Summary:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    samples = 0
    for frames, count in stacks:
        # The first "frame" of a raw stack names the process and thread, not code.
        labels = [frame_label(frame) for frame in frames if _FRAME.match(frame.strip())]
        if not labels:
            continue
        samples += count
        own[labels[-1]] += count
        for label in set(labels):
            inclusive[label] += count
    return Summary(samples, inclusive, own)


def summaries(recordings: list[Recording], *, timeout: float) -> dict[str, Summary]:
    found = {}
    for recording in recordings:
        try:
            recording.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            recording.process.terminate()
            recording.process.wait(timeout=10)
        if recording.output.exists():
            with recording.output.open(encoding="utf-8", errors="replace") as file:
                found[recording.name] = summarize(parse_raw(file))
    return found
