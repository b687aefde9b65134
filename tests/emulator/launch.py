"""Start the emulator as its own process (`python -m tests.emulator`), as the benchmarks do.

Benchmarks run it in a separate process so that its CPU is not the measured process's; pytest fixtures run it
in-process instead (`fixtures.py`).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class LaunchedEmulator:
    process: subprocess.Popen[str]
    fe_urls: tuple[str, ...]
    be_url: str
    query_port: int

    @property
    def fe_url(self) -> str:
        return self.fe_urls[0]


def parse_address_line(line: str) -> tuple[tuple[str, ...], int, str]:
    """``fe=URL[,URL…] query=PORT be=URL`` (what ``__main__`` prints before ``ready``) → its parts."""
    fields = dict(part.split("=", 1) for part in line.split())
    return tuple(fields["fe"].split(",")), int(fields["query"]), fields["be"]


def launch(flavor: str, *, user: str, password: str = "", count_only: bool = True) -> LaunchedEmulator:
    """Start an emulator on free ports and wait for ``ready``; the caller terminates ``process``."""
    argv = [
        sys.executable,
        "-m",
        "tests.emulator",
        "--flavor",
        flavor,
        "--user",
        user,
        "--password",
        password,
    ]
    if count_only:
        argv.append("--count-only")
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    addresses: tuple[tuple[str, ...], int, str] | None = None
    for line in proc.stdout:
        if line.startswith("fe="):
            addresses = parse_address_line(line)
        elif line.strip() == "ready" and addresses is not None:
            fe_urls, query_port, be_url = addresses
            return LaunchedEmulator(proc, fe_urls, be_url, query_port)
    proc.wait()
    raise RuntimeError(f"the {flavor} emulator exited (code {proc.returncode}) before printing ready")
