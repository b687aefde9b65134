"""`python scripts/devstack.py up|down|status|env|fetch`: keep the dev stack running in the background.

`up` starts Apache Kafka and MariaDB detached, records them in a state file and prints `export` lines on
stdout (human-readable lines go to stderr), so `eval "$(python scripts/devstack.py up)"` points the test
fixtures at them. `down` stops exactly the processes recorded there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.devstack.errors import DevstackError
from tests.devstack.kafka_dist import cache_root, ensure_kafka_libs, kafka_version
from tests.devstack.kafka_server import broker_answers
from tests.devstack.process import ServerProcess, pid_alive, stop_pid
from tests.devstack.stack import real_kafka_missing_tools, start_kafka_broker, start_mariadb_server

SERVICES = ("kafka", "mariadb")


@dataclass
class ServiceState:
    """One background server as recorded in the state file."""

    pid: int
    workdir: str
    address: str
    kind: str = ""
    user: str = ""
    password: str = ""
    started_in: float = 0.0


@dataclass
class StackState:
    services: dict[str, ServiceState] = field(default_factory=dict)


def state_dir() -> Path:
    return Path(os.environ.get("OLAPSINK_DEVSTACK_DIR") or cache_root() / "devstack")


def load_state(path: Path) -> StackState:
    if not path.exists():
        return StackState()
    raw = json.loads(path.read_text())
    return StackState({name: ServiceState(**svc) for name, svc in raw.get("services", {}).items()})


def save_state(path: Path, state: StackState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2) + "\n")
    tmp.replace(path)


def is_ours(svc: ServiceState) -> bool:
    """The pid is alive and still runs from the recorded working directory (pids get reused)."""
    if not pid_alive(svc.pid):
        return False
    try:
        cmdline = Path(f"/proc/{svc.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return svc.workdir in cmdline


def env_lines(state: StackState) -> list[str]:
    """Shell `export` lines that make the pytest fixtures reuse the running servers."""
    lines = []
    if kafka := state.services.get("kafka"):
        lines += [
            f"export OLAPSINK_KAFKA_BOOTSTRAP={kafka.address}",
            f"export OLAPSINK_KAFKA_KIND={kafka.kind}",
        ]
    if db := state.services.get("mariadb"):
        lines.append(f"export OLAPSINK_MARIADB={db.address}:{db.user}:{db.password}")
    return lines


def describe(name: str, svc: ServiceState) -> str:
    running = "running" if is_ours(svc) else "NOT RUNNING"
    extra = f" ({svc.kind})" if svc.kind else ""
    if svc.user:
        extra += f" user {svc.user} password {svc.password}"
    return f"{name:8} {svc.address}{extra} pid {svc.pid} {running}, dir {svc.workdir}"


def _start(name: str, workdir: Path) -> tuple[ServerProcess, ServiceState]:
    began = time.monotonic()
    if name == "kafka":
        server, broker = start_kafka_broker(workdir, detach=True)
        svc = ServiceState(server.pid, str(workdir), broker.bootstrap, kind=broker.kind)
    else:
        server, db = start_mariadb_server(workdir, detach=True)
        svc = ServiceState(server.pid, str(workdir), db.address, user=db.user, password=db.password)
    svc.started_in = round(time.monotonic() - began, 2)
    return server, svc


def up(names: Sequence[str], path: Path) -> StackState:
    state = load_state(path)
    for name in names:
        old = state.services.get(name)
        if old is not None and is_ours(old):
            print(f"{name}: already running", file=sys.stderr)
            continue
        workdir = path.parent / name
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"{name}: starting ...", file=sys.stderr, flush=True)
        _, state.services[name] = _start(name, workdir)
        save_state(path, state)  # after each server, so `down` can stop it even if the next one fails
        print(f"{name}: up in {state.services[name].started_in:.1f} s", file=sys.stderr)
    return state


def down(names: Sequence[str], path: Path) -> StackState:
    state = load_state(path)
    for name in names:
        svc = state.services.pop(name, None)
        if svc is None:
            continue
        if is_ours(svc):
            stop_pid(svc.pid, grace=30)
        shutil.rmtree(svc.workdir, ignore_errors=True)
        print(f"{name}: stopped", file=sys.stderr)
    save_state(path, state)
    return state


def status(path: Path) -> int:
    """Print each recorded server; exit code 1 when one is recorded but not running or not answering."""
    state = load_state(path)
    healthy = True
    for name in SERVICES:
        svc = state.services.get(name)
        if svc is None:
            print(f"{name:8} not started")
            continue
        print(describe(name, svc))
        answers = is_ours(svc) and (name != "kafka" or broker_answers(svc.address))
        healthy = healthy and answers
    return 0 if healthy else 1


def fetch() -> None:
    """Pre-fetch the Kafka jars into the cache (CI does this before running tests)."""
    if "mvn" in real_kafka_missing_tools() and shutil.which("mvn") is None:
        raise DevstackError("cannot fetch Kafka jars: `mvn` is not installed (apt-get install -y maven)")
    began = time.monotonic()
    libs = ensure_kafka_libs()
    print(f"Kafka {kafka_version()} jars in {libs} ({time.monotonic() - began:.1f} s)", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="devstack", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("command", choices=("up", "down", "status", "env", "fetch"))
    parser.add_argument("services", nargs="*", metavar="{kafka,mariadb}", help="default: both")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.services) - set(SERVICES))
    if unknown:
        parser.error(f"unknown service {', '.join(unknown)}: choose from {', '.join(SERVICES)}")
    names = args.services or list(SERVICES)
    path = state_dir() / "state.json"
    try:
        if args.command == "up":
            state = up(names, path)
            for name in SERVICES:
                if svc := state.services.get(name):
                    print(describe(name, svc), file=sys.stderr)
            print("\n".join(env_lines(state)))
        elif args.command == "down":
            down(names, path)
        elif args.command == "status":
            return status(path)
        elif args.command == "env":
            print("\n".join(env_lines(load_state(path))))
        else:
            fetch()
    except DevstackError as exc:
        print(f"devstack {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0
