"""Fetch Kafka Connect and the two peer connectors into a cache (Maven Central only), once per machine.

What Maven Central offers here (checked 2026-11-21, through this machine's Maven Central mirror):
- Kafka Connect (connect-runtime, connect-json, connect-transforms) and every dependency of both connectors:
  yes (scripts/peers/*/pom.xml).
- org.apache.doris:doris-kafka-connector: listed on central.sonatype.com (25.0.0; 26.0.0 released on GitHub
  2026-04-07) but **absent from the mirror reachable here** (maven-metadata.xml and every version: 404).
- StarRocks's Kafka connector: **not on Maven Central at all** (com.starrocks:starrocks-kafka-connector and
  com.starrocks:starrocks-connector-for-kafka: 404; its pom's groupId is org.example; StarRocks ships it as a
  GitHub/Confluent Hub download).

So a connector jar comes from, in order: the cache; Maven Central (Doris only, when the mirror has it); or a
build from a source tree of the released tag named by OLAPSINK_DORIS_CONNECTOR_SRC /
OLAPSINK_STARROCKS_CONNECTOR_SRC (a git clone: the tag is exported; or a plain source tree), compiled with
javac against the Central jars. The Doris build replaces the one io.confluent class its config code imports
(EnumRecommender, from Confluent's own repository) with a same-named recommender written here.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import zipfile
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
    git_tag: str
    central: str | None  # groupId:artifactId:version on Maven Central, if it is published there
    src_env: str
    connector_class: str


DORIS = Connector(
    name="doris",
    version="26.0.0",
    git_tag="26.0.0",
    central="org.apache.doris:doris-kafka-connector:26.0.0",
    src_env="OLAPSINK_DORIS_CONNECTOR_SRC",
    connector_class="org.apache.doris.kafka.connector.DorisSinkConnector",
)
STARROCKS = Connector(
    name="starrocks",
    version="1.0.6",
    git_tag="v1.0.6",
    central=None,
    src_env="OLAPSINK_STARROCKS_CONNECTOR_SRC",
    connector_class="com.starrocks.connector.kafka.StarRocksSinkConnector",
)
CONNECTORS = {c.name: c for c in (DORIS, STARROCKS)}

# Confluent's io.confluent.kafka.schemaregistry.utils.EnumRecommender is the only io.confluent class the Doris
# connector's own code uses (validator/recommender of delivery.guarantee). Same name and contract, our code.
_ENUM_RECOMMENDER = """package io.confluent.kafka.schemaregistry.utils;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigException;

public final class EnumRecommender<T extends Enum<?>> implements ConfigDef.Validator, ConfigDef.Recommender {
  private final List<Object> values = new ArrayList<>();

  private EnumRecommender(T[] enums) {
    for (T e : enums) {
      values.add(e.toString().toLowerCase(Locale.ROOT));
    }
  }

  @SafeVarargs
  public static <T extends Enum<?>> EnumRecommender<T> in(T... enums) {
    return new EnumRecommender<>(enums);
  }

  @Override
  public void ensureValid(String key, Object value) {
    if (value != null && !values.contains(value.toString().toLowerCase(Locale.ROOT))) {
      throw new ConfigException(key, value, "must be one of " + values);
    }
  }

  @Override
  public List<Object> validValues(String name, Map<String, Object> connectorConfigs) {
    return values;
  }

  @Override
  public boolean visible(String name, Map<String, Object> connectorConfigs) {
    return true;
  }
}
"""


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


def _export_source(connector: Connector, dest: Path) -> Path:
    raw = os.environ.get(connector.src_env)
    if not raw:
        where = (
            f"Maven Central ({connector.central}) does not have it here"
            if connector.central
            else ("it is not published on Maven Central")
        )
        raise FetchError(
            f"the {connector.name} Kafka connector {connector.version} is not cached in {cache_root()} and "
            f"{where}: set {connector.src_env} to a git clone of its repository (tag {connector.git_tag} is "
            "built) or to a source tree of that release"
        )
    src = Path(raw)
    if (src / ".git").exists() or ((src / "HEAD").exists() and (src / "objects").exists()):
        archive = subprocess.run(
            ["git", "-C", str(src), "archive", connector.git_tag], capture_output=True, check=False
        )
        if archive.returncode != 0:
            raise FetchError(
                f"{connector.src_env}={src}: git archive {connector.git_tag} failed: {archive.stderr!r}"
            )
        dest.mkdir(parents=True)
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
        return dest
    if not (src / "src" / "main" / "java").is_dir():
        raise FetchError(
            f"{connector.src_env}={src} is neither a git clone nor a source tree (no src/main/java)"
        )
    return src


def _compile(
    connector: Connector, source: Path, libs: Path, connect_libs: Path, jar: Path, work: Path
) -> None:
    files = sorted(str(p) for p in (source / "src" / "main" / "java").rglob("*.java"))
    if connector is DORIS:
        stub = (
            work / "stub" / "io" / "confluent" / "kafka" / "schemaregistry" / "utils" / "EnumRecommender.java"
        )
        stub.parent.mkdir(parents=True)
        stub.write_text(_ENUM_RECOMMENDER)
        files.append(str(stub))
    classes = work / "classes"
    classes.mkdir()
    classpath = ":".join(str(p) for p in [*sorted(connect_libs.glob("*.jar")), *sorted(libs.glob("*.jar"))])
    argfile = work / "sources.txt"
    argfile.write_text("\n".join(files))
    javac = shutil.which("javac")
    if javac is None:
        raise FetchError(
            "javac is not on PATH: install a JDK 17 (apt-get install -y openjdk-17-jdk-headless)"
        )
    _run(
        [
            javac,
            "-nowarn",
            "-encoding",
            "UTF-8",
            "--release",
            "8",
            "-d",
            str(classes),
            "-cp",
            classpath,
            f"@{argfile}",
        ],
        f"compiling the {connector.name} connector {connector.version}",
    )
    resources = source / "src" / "main" / "resources"
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as zf:
        for root in (classes, resources):
            if root.is_dir():
                for path in sorted(root.rglob("*")):
                    if path.is_file():
                        zf.write(path, path.relative_to(root).as_posix())


def ensure_plugin(name: str) -> Path:
    """A `plugin.path` entry for the named connector: a directory whose one subdirectory holds its jars.

    (A directory of jars given directly to plugin.path would make every jar a plugin of its own, each in its
    own class loader, and the connector could not see its dependencies.)
    """
    connector = CONNECTORS[name]
    connect_libs = ensure_connect_libs()

    def build(root: Path) -> None:
        out = root / name
        out.mkdir()
        if connector.central and _from_central(connector.central, out):
            (out / "SOURCE").write_text(f"maven-central {connector.central}\n")
            return
        for stale in out.glob("*"):
            stale.unlink()
        _copy_dependencies(POMS / name / "pom.xml", out)
        with tempfile.TemporaryDirectory(prefix=f"build-{name}-") as tmp:
            work = Path(tmp)
            source = _export_source(connector, work / "src")
            _compile(
                connector,
                source,
                out,
                connect_libs,
                out / f"{name}-kafka-connector-{connector.version}.jar",
                work,
            )
        (out / "SOURCE").write_text(
            f"built from source tag {connector.git_tag} ({connector.src_env}); "
            "dependencies from Maven Central\n"
        )

    return _locked_build(cache_root() / f"plugin-{name}-{connector.version}", build)


def main() -> None:
    print(ensure_connect_libs())
    for name in CONNECTORS:
        print(ensure_plugin(name))


if __name__ == "__main__":
    main()
