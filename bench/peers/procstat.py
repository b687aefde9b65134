"""CPU seconds and peak RSS of a process (and its children) from /proc, the same way for every system."""

from __future__ import annotations

import ctypes
import os
import signal
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: the kernel sends the child SIGTERM when the harness dies, so no JVM outlives a run."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` plus those of its waited-for children, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the ")" that closes comm: state is field 0, utime 11, stime 12, cutime 13, cstime 14.
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / _TICKS


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise ValueError(f"/proc/{pid}/status has no VmHWM line")


def children(pid: int) -> list[int]:
    """Direct and indirect children of `pid` (olapsink's worker may fork load processes)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            kids = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        for kid in map(int, kids):
            found.append(kid)
            pending.append(kid)
    return found


@dataclass
class ProcessSampler:
    """Remembers the last CPU and peak-RSS readings, so figures survive the process exiting."""

    pid: int
    cpu: float = 0.0
    peak_rss: int = 0

    def sample(self) -> None:
        total_cpu = 0.0
        peak = 0
        for pid in [self.pid, *children(self.pid)]:
            try:
                total_cpu += cpu_seconds(pid)
                peak += peak_rss_bytes(pid)
            except (OSError, ValueError, IndexError):
                continue
        if total_cpu:
            self.cpu = max(self.cpu, total_cpu)
        self.peak_rss = max(self.peak_rss, peak)
