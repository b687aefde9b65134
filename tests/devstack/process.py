"""Start and stop one server process, with its output in a log file that errors can quote."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tests.devstack.errors import DevstackError, PortInUse

_PR_SET_PDEATHSIG = 1
# How Java, mariadbd and tansu (Rust) report a port that another process bound first.
_BIND_FAILURES = ("address already in use", "addrinuse")
START_ATTEMPTS = 3

T = TypeVar("T")


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: if pytest is killed (even with SIGKILL) the kernel sends the
    # server SIGTERM, so no orphaned Kafka or MariaDB keeps eating the shared cores.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class ServerProcess:
    """A running server: its name (for messages), process, working directory and main log."""

    name: str
    process: subprocess.Popen[bytes]
    workdir: Path
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def failure(self, reason: str) -> DevstackError:
        tail = log_tail(self.log)
        message = (
            f"{self.name}: {reason}. Log {self.log} ends with:\n{tail}\n"
            f"(working directory {self.workdir} kept for inspection)"
        )
        if any(marker in tail.lower() for marker in _BIND_FAILURES):
            return PortInUse(message)
        return DevstackError(message)

    def wait_ready(self, is_ready: Callable[[], bool], timeout: float) -> None:
        """Poll `is_ready` until it returns True; fail early if the process exits, or at the timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise self.failure(f"exited with code {code} while starting")
            if is_ready():
                return
            time.sleep(0.1)
        self.stop()
        raise self.failure(f"not ready after {timeout:.0f} s")

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM for a clean shutdown, SIGKILL if it takes longer than `grace` seconds."""
        stop_pid(self.pid, grace, self.process)


def spawn(
    name: str,
    argv: Sequence[str],
    workdir: Path,
    log: Path,
    *,
    detach: bool = False,
    env: dict[str, str] | None = None,
) -> ServerProcess:
    """Start `argv` in `workdir` with stdout/stderr written to `log` (a fresh file per start).

    Attached servers die with the calling process; detached ones (for `devstack up`) get their own session
    and outlive it.
    """
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(argv),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=detach,
            preexec_fn=None if detach else _die_with_parent,
        )
    return ServerProcess(name=name, process=process, workdir=workdir, log=log)


def retry_port_clash(start: Callable[[], T], attempts: int = START_ATTEMPTS) -> T:
    """Call `start` again (it picks new ports) when another process bound its port first.

    Several test sessions share this machine, so a port found free can be taken before the server binds it.
    """
    for attempt in range(1, attempts + 1):
        try:
            return start()
        except PortInUse:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_pid(pid: int, grace: float = 15.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Stop a process we started, by pid: SIGTERM, wait up to `grace` seconds, then SIGKILL."""
    if process is not None and process.poll() is not None:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if process is not None:
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
