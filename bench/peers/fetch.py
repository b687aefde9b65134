"""Fetch Kafka Connect and the two peer connectors into a cache (Maven Central only), once per machine.

What Maven Central offers here (checked 2026-11-21, through this machine's Maven Central mirror):
- Kafka Connect (connect-runtime, connect-json, connect-transforms) and every dependency of both connectors:
  yes (scripts/peers/*/pom.xml).
- org.apache.doris:doris-kafka-connector: listed on central.sonatype.com (25.0.0; 26.0.0 released on GitHub
  2026-04-07) but **absent from the mirror reachable here** (maven-metadata.xml and every version: 404).
- StarRocks's Kafka connector: **not on Maven Central at all** (com.starrocks:starrocks-kafka-connector and
  com.starrocks:starrocks-connector-for-kafka: 404; its pom's groupId is org.example; StarRocks ships it as a
  GitHub/Confluent Hub download).

So a connector comes from, in order: the cache; Maven Central (Doris only, when the mirror has it); or a
released connector jar the user downloaded (the project's release page), named by
OLAPSINK_DORIS_CONNECTOR_JAR / OLAPSINK_STARROCKS_CONNECTOR_JAR, whose dependencies are then fetched from
Maven Central (scripts/peers/<name>/pom.xml). This project never builds the connectors from their source.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
POMS = ROOT / "scripts" / "peers"
CONNECT_VERSION = "3.7.2"
_COMPLETE = ".complete"


@dataclass(frozen=True)
class Connector:
    name: str  # "doris" | "starrocks"
    version: str
    release: str  # where users get the released jar when Maven Central does not serve it
    central: str | None  # groupId:artifactId:version on Maven Central, if it is published there
    jar_env: str
    connector_class: str


DORIS = Connector(
    name="doris",
    version="26.0.0",
    release="apache/doris-kafka-connector release 26.0.0",
    central="org.apache.doris:doris-kafka-connector:26.0.0",
    jar_env="OLAPSINK_DORIS_CONNECTOR_JAR",
    connector_class="org.apache.doris.kafka.connector.DorisSinkConnector",
)
STARROCKS = Connector(
    name="starrocks",
    version="1.0.6",
    release="StarRocks/starrocks-connector-for-kafka release v1.0.6",
    central=None,
    jar_env="OLAPSINK_STARROCKS_CONNECTOR_JAR",
    connector_class="com.starrocks.connector.kafka.StarRocksSinkConnector",
)
CONNECTORS = {c.name: c for c in (DORIS, STARROCKS)}


class FetchError(RuntimeError):
    pass


def cache_root() -> Path:
    return Path(os.environ.get("OLAPSINK_CACHE") or Path.home() / ".cache" / "olapsink") / "peers"


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise FetchError("`mvn` is not installed: apt-get install -y maven (needs Java 17 too)")
    return mvn


def _run(argv: list[str], what: str, cwd: Path | None = None) -> None:
    result = subprocess.run(
        argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise FetchError(f"{what} failed (exit {result.returncode}): {' '.join(argv[:6])} ...\n{tail}")


def _copy_dependencies(pom: Path, out: Path) -> None:
    _run(
        [_mvn(), "-B", "-q", "-f", str(pom), f"-DoutputDirectory={out}", "dependency:copy-dependencies"],
        f"fetching the jars of {pom.relative_to(ROOT)} from Maven Central",
    )


def _locked_build(target: Path, build: Callable[[Path], None]) -> Path:
    """Build `target` once: under a lock, into a scratch dir renamed into place (never half-filled)."""
    if (target / _COMPLETE).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f".{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / _COMPLETE).exists():
            return target
        scratch = Path(tempfile.mkdtemp(prefix=f"{target.name}-", dir=target.parent))
        try:
            build(scratch)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        (scratch / _COMPLETE).touch()
        shutil.rmtree(target, ignore_errors=True)
        scratch.rename(target)
    return target


def ensure_connect_libs() -> Path:
    """Directory of Kafka Connect's jars (the standalone worker's classpath)."""

    def build(out: Path) -> None:
        _copy_dependencies(POMS / "connect" / "pom.xml", out)

    return _locked_build(cache_root() / f"connect-{CONNECT_VERSION}", build)


def _from_central(coordinates: str, out: Path) -> bool:
    """Copy a released connector jar from Maven Central into `out`; False when Central does not have it."""
    result = subprocess.run(
        [_mvn(), "-B", "-q", "dependency:copy", f"-Dartifact={coordinates}", f"-DoutputDirectory={out}"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0 and any(out.glob("*.jar"))


def _released_jar(connector: Connector) -> Path:
    raw = os.environ.get(connector.jar_env)
    if not raw:
        where = (
            f"Maven Central ({connector.central}) does not have it here"
            if connector.central
            else "it is not published on Maven Central"
        )
        raise FetchError(
            f"the {connector.name} Kafka connector {connector.version} is not cached in {cache_root()} and "
            f"{where}: download its release jar ({connector.release}) and set {connector.jar_env} to its path"
        )
    jar = Path(raw)
    if not jar.is_file() or jar.suffix != ".jar":
        raise FetchError(f"{connector.jar_env}={jar} is not a .jar file")
    return jar


def ensure_plugin(name: str) -> Path:
    """A `plugin.path` entry for the named connector: a directory whose one subdirectory holds its jars.

    (A directory of jars given directly to plugin.path would make every jar a plugin of its own, each in its
    own class loader, and the connector could not see its dependencies.)
    """
    connector = CONNECTORS[name]
    ensure_connect_libs()

    def build(root: Path) -> None:
        out = root / name
        out.mkdir()
        if connector.central and _from_central(connector.central, out):
            (out / "SOURCE").write_text(f"maven-central {connector.central}\n")
            return
        jar = _released_jar(connector)
        for stale in out.glob("*"):
            stale.unlink()
        _copy_dependencies(POMS / name / "pom.xml", out)
        shutil.copy2(jar, out / jar.name)
        (out / "SOURCE").write_text(f"release jar {jar.name}; dependencies from Maven Central\n")

    return _locked_build(cache_root() / f"plugin-{name}-{connector.version}", build)


def main() -> None:
    print(ensure_connect_libs())
    for name in CONNECTORS:
        print(ensure_plugin(name))


if __name__ == "__main__":
    main()
