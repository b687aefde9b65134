"""`python -m tests.emulator --flavor doris|starrocks --fe-port N --be-port M --mysql-host H --mysql-port P`

Prints `fe=<url>[,<url>] query=<port> be=<url>` and then one line `ready` once the endpoints serve; runs
until interrupted. Port 0 picks a free port.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import signal

from tests.emulator.server import Emulator, EmulatorConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.emulator", description=__doc__)
    p.add_argument("--flavor", choices=["doris", "starrocks"], required=True)
    p.add_argument("--fe-port", type=int, default=0)
    p.add_argument(
        "--extra-fe-port",
        type=int,
        action="append",
        default=[],
        help="another FE sharing the BE and state (repeatable; 0 = free port)",
    )
    p.add_argument("--be-port", type=int, default=0)
    p.add_argument(
        "--query-port",
        type=int,
        default=0,
        help="the FE's MySQL port: SHOW TRANSACTION from the emulator, other SQL on MariaDB (0 = free port)",
    )
    p.add_argument("--mysql-host", default="127.0.0.1")
    p.add_argument("--mysql-port", type=int, default=3306)
    p.add_argument("--user", default="root", help="Stream Load (HTTP Basic) user")
    p.add_argument("--password", default="", help="Stream Load (HTTP Basic) password")
    p.add_argument("--mysql-user", default=None, help="MariaDB user (default: --user)")
    p.add_argument("--mysql-password", default=None, help="MariaDB password (default: --password)")
    p.add_argument("--count-only", action="store_true", help="validate framing and count rows; no MariaDB")
    p.add_argument("--label-keep-seconds", type=float, default=None)
    p.add_argument("--precommit-timeout", type=float, default=3600.0)
    p.add_argument("--group-commit-interval", type=float, default=1.0)
    return p.parse_args(argv)


def config_from(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        flavor=args.flavor,
        user=args.user,
        password=args.password,
        mysql_host=args.mysql_host,
        mysql_port=args.mysql_port,
        mysql_user=args.mysql_user if args.mysql_user is not None else args.user,
        mysql_password=args.mysql_password if args.mysql_password is not None else args.password,
        count_only=args.count_only,
        label_keep_seconds=args.label_keep_seconds,
        precommit_timeout=args.precommit_timeout,
        group_commit_interval=args.group_commit_interval,
    )


async def serve(args: argparse.Namespace) -> None:
    emulator = Emulator(config_from(args))
    await emulator.start([args.fe_port, *args.extra_fe_port], args.be_port, args.query_port)
    fes = ",".join(emulator.fe_url(i) for i in range(len(emulator.fes)))
    assert emulator.query is not None
    # query= sits before be= because some readers take everything after "be=" as the BE's URL.
    print(f"fe={fes} query={emulator.query.port} be={emulator.be_url}", flush=True)
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await emulator.stop()


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def keep_freed_memory() -> None:
    """glibc malloc: serve blocks up to 32 MiB from the heap and keep up to 256 MiB of it when freed.

    By default a load's freed 8 MB buffers (body, decompressed body) go back to the kernel, and the next
    load faults in fresh zeroed pages: ~4,000 page faults and 7-8 ms of emulator CPU per 8 MB lz4 or gzip load
    (bench/load_path.py), CPU taken from the worker being benchmarked. The price is a footprint that stays
    at its peak. Elsewhere than glibc this does nothing.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20)


def main(argv: list[str] | None = None) -> None:
    keep_freed_memory()
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
