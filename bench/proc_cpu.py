"""CPU time used by a group of processes, read from /proc (Linux): the measure of a server's cost
that other work on the machine does not bend. A rate measured under load swings with whatever
else runs; the CPU seconds a server spends per answered request stay put (caches and frequency
scaling aside), so comparisons between configurations read it rather than the rate alone."""

from __future__ import annotations

import os
from pathlib import Path

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU of one process; 0 if it has ended."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_SECOND


def process_group_cpu_seconds(group_id: int) -> float:
    """User plus system CPU of every live process in the process group `group_id` (a server
    started with `start_new_session=True` leads its own group: master and workers)."""
    total_ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended while the directory was read
            continue
        # Fields after the command name, which is in parentheses and may contain spaces.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == group_id:  # pgrp
            total_ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return total_ticks / _TICKS_PER_SECOND
