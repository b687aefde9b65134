"""Run a private MariaDB server (the Debian `mariadb-server` binaries) with its own data directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pymysql

from tests.devstack.errors import DevstackError
from tests.devstack.mariadb import MariaDB
from tests.devstack.ports import free_port
from tests.devstack.process import ServerProcess, retry_port_clash, spawn

TEST_USER = "olapsink"
TEST_PASSWORD = "olapsink-test"
START_TIMEOUT = 60.0


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or next(
            (str(p) for d in ("/usr/sbin", "/usr/bin") if (p := Path(d) / name).exists()), None
        )
        if found:
            return found
    raise DevstackError(
        f"MariaDB is not installed (none of {', '.join(names)} found): apt-get install -y mariadb-server"
    )


def server_options(datadir: Path, port: int, workdir: Path) -> list[str]:
    """mariadbd options for a throwaway test server: local TCP only, small buffers, no binary log."""
    options = [
        "--no-defaults",
        f"--datadir={datadir}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        f"--socket={workdir / 'mysqld.sock'}",
        f"--pid-file={workdir / 'mysqld.pid'}",
        f"--log-error={workdir / 'server.log'}",
        "--skip-name-resolve",
        "--innodb-buffer-pool-size=128M",
        "--innodb-log-file-size=32M",
        # Tests check what was loaded, not what survives a power cut: skip the fsync per commit.
        "--innodb-flush-log-at-trx-commit=0",
        "--skip-log-bin",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_general_ci",
        "--max-connections=200",
    ]
    if os.geteuid() == 0:
        options.append("--user=root")  # mariadbd refuses to run as root unless told so
    return options


def install_datadir(datadir: Path, workdir: Path) -> None:
    argv = [
        _binary("mariadb-install-db", "mysql_install_db"),
        "--no-defaults",
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
        f"--datadir={datadir}",
    ]
    if os.geteuid() == 0:
        argv.append("--user=root")
    log = workdir / "install.log"
    with log.open("wb") as out:
        code = subprocess.run(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, check=False
        )
    if code.returncode != 0:
        raise DevstackError(f"mariadb-install-db failed (exit {code.returncode}); see {log}")


def _root_answers(port: int) -> bool:
    try:
        pymysql.connect(host="127.0.0.1", port=port, user="root", password="", connect_timeout=2).close()
    except pymysql.MySQLError:
        return False
    return True


def create_test_user(port: int) -> None:
    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", password="", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (TEST_USER, TEST_PASSWORD))
            cur.execute("GRANT ALL PRIVILEGES ON *.* TO %s@'%%' WITH GRANT OPTION", (TEST_USER,))
    finally:
        conn.close()


def start_mariadb(workdir: Path | None = None, *, detach: bool = False) -> tuple[ServerProcess, MariaDB]:
    """Initialise a data directory, start mariadbd on a free port, and add the test user."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="olapsink-mariadb-"))
    workdir.mkdir(parents=True, exist_ok=True)
    datadir = workdir / "data"
    install_datadir(datadir, workdir)
    mariadbd = _binary("mariadbd", "mysqld")

    def start_once() -> tuple[ServerProcess, int]:
        port = free_port()
        argv = [mariadbd, *server_options(datadir, port, workdir)]
        server = spawn("MariaDB", argv, workdir, workdir / "server.log", detach=detach)
        server.wait_ready(lambda: _root_answers(port), START_TIMEOUT)
        return server, port

    server, port = retry_port_clash(start_once)
    create_test_user(port)
    return server, MariaDB(host="127.0.0.1", port=port, user=TEST_USER, password=TEST_PASSWORD)
