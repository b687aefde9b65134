"""Fetch the Apache Kafka broker jars from Maven Central once, into a cache shared by every run."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.devstack.errors import DevstackError

DEFAULT_KAFKA_VERSION = "4.1.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
POM = REPO_ROOT / "scripts" / "kafka" / "pom.xml"
_COMPLETE_MARKER = ".complete"


def cache_root() -> Path:
    return Path(os.environ.get("OLAPSINK_CACHE") or Path.home() / ".cache" / "olapsink")


def kafka_version() -> str:
    return os.environ.get("OLAPSINK_KAFKA_VERSION") or DEFAULT_KAFKA_VERSION


def kafka_libs_dir(version: str, root: Path | None = None) -> Path:
    return (root or cache_root()) / f"kafka-{version}" / "libs"


def cached_kafka_libs(version: str, root: Path | None = None) -> Path | None:
    libs = kafka_libs_dir(version, root)
    return libs if (libs / _COMPLETE_MARKER).exists() else None


def ensure_kafka_libs(version: str | None = None, root: Path | None = None) -> Path:
    """The directory holding kafka_2.13-<version>.jar and its runtime dependencies, fetched if missing.

    A lock file serialises concurrent test runs (several engineers share this machine), and the jars are
    copied into a scratch directory first and renamed into place, so a half-finished download is never used.
    """
    version = version or kafka_version()
    libs = kafka_libs_dir(version, root)
    if cached_kafka_libs(version, root):
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise DevstackError(
            f"Kafka {version} jars are not cached in {libs} and `mvn` is not installed: "
            "install Maven (apt-get install -y maven) or point OLAPSINK_CACHE at a filled cache"
        )
    libs.parent.mkdir(parents=True, exist_ok=True)
    with (libs.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if cached_kafka_libs(version, root):
            return libs
        scratch = Path(tempfile.mkdtemp(prefix="libs-", dir=libs.parent))
        argv = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(POM),
            f"-Dkafka.version={version}",
            f"-DoutputDirectory={scratch}",
            "dependency:copy-dependencies",
        ]
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not (scratch / f"kafka_2.13-{version}.jar").exists():
            shutil.rmtree(scratch, ignore_errors=True)
            output = (result.stdout + result.stderr).strip().splitlines()[-20:]
            raise DevstackError(
                f"fetching Kafka {version} with Maven failed (exit {result.returncode}); "
                f"command: {' '.join(argv)}\n" + "\n".join(output)
            )
        (scratch / _COMPLETE_MARKER).touch()
        shutil.rmtree(libs, ignore_errors=True)
        scratch.rename(libs)
    return libs
