"""The olapsink wheel: what the container image installs must start all three commands.

The Dockerfile builds wheels in one stage and installs them, without the source tree, in another.
These tests do the same outside Docker (no engine here): build the wheel, install it in a fresh
virtual environment, and run each console script's --help from there.
"""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COMMANDS = ("olapsink", "olapsink-worker", "olapsink-operator")
PACKAGES = ("olapsink_worker", "olapsink_operator")


def run(*args: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def check(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (
        f"{result.args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The olapsink wheel alone (dependencies come from wherever the test installs it)."""
    out = tmp_path_factory.mktemp("wheel")
    check(run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", out, REPO, cwd=out))
    (built,) = out.glob("olapsink-*.whl")
    return built


def assert_commands_start(venv: Path) -> None:
    """Each console script answers --help, importing our packages from the venv, not the source tree."""
    for command in COMMANDS:
        out = check(run(venv / "bin" / command, "--help", cwd=venv, timeout=60))
        assert re.search(r"usage", out, re.IGNORECASE), f"{command} --help printed no usage:\n{out}"
    where = check(
        run(
            venv / "bin" / "python",
            "-c",
            "import olapsink_worker as w, olapsink_operator as o; print(w.__file__, o.__file__)",
            cwd=venv,
        )
    )
    for path in where.split():
        assert Path(path).resolve().is_relative_to(venv.resolve()), f"imported from outside the venv: {path}"


def test_wheel_holds_both_packages_and_declares_the_three_commands(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (entry_points_file,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_points = archive.read(entry_points_file).decode()
    for package in PACKAGES:
        assert f"{package}/__init__.py" in names
    assert not [n for n in names if n.startswith("tests/")], "tests leaked into the wheel"
    scripts = dict(re.findall(r"^([\w-]+) = (\S+)$", entry_points, re.MULTILINE))
    assert scripts == {
        "olapsink": "olapsink_worker.cli:main",
        "olapsink-worker": "olapsink_worker.main:main",
        "olapsink-operator": "olapsink_operator.main:main",
    }


@pytest.fixture(scope="module")
def venv_sharing_dependencies(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A venv that reuses this interpreter's installed dependencies, so no download is needed.

    A .pth line, not --system-site-packages: when the tests themselves run in a venv (CI), the system
    site would be the base interpreter's, without our dependencies. Paths added by a .pth line get no
    .pth processing of their own, so the editable install of olapsink there stays invisible.
    """
    venv = tmp_path_factory.mktemp("venv-shared")
    check(run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=venv))
    python = venv / "bin" / "python"
    site = Path(
        check(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=venv)).strip()
    )
    outer = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "outer-dependencies.pth").write_text("".join(f"{path}\n" for path in sorted(outer)))
    # This interpreter's pip installs into the venv (pip --python), which saves bootstrapping one there.
    check(
        run(
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "--no-deps",
            "--no-index",
            wheel,
            cwd=venv,
        )
    )
    yield venv


def test_installed_wheel_commands_start(venv_sharing_dependencies: Path) -> None:
    assert_commands_start(venv_sharing_dependencies)


@pytest.mark.slow
def test_clean_venv_installs_from_wheels_alone_like_the_image(tmp_path: Path) -> None:
    """The Dockerfile's two stages: wheels for everything, then an offline install in a clean venv."""
    wheels = tmp_path / "wheels"
    check(run(sys.executable, "-m", "pip", "wheel", "--wheel-dir", wheels, REPO, cwd=tmp_path, timeout=600))
    venv = tmp_path / "venv"
    check(run(sys.executable, "-m", "venv", venv, cwd=tmp_path))
    pip = (venv / "bin" / "python", "-m", "pip")
    check(run(*pip, "install", "--no-index", "--find-links", wheels, "olapsink", cwd=tmp_path, timeout=600))
    assert_commands_start(venv)


def test_dockerfile_builds_in_two_stages_and_runs_as_a_numeric_non_root_user() -> None:
    lines = [ln.strip() for ln in (REPO / "Dockerfile").read_text().splitlines()]
    froms = [ln for ln in lines if ln.startswith("FROM ")]
    assert len(froms) == 2 and froms[0].endswith(" AS build")
    base = next(ln.split("=", 1)[1] for ln in lines if ln.startswith("ARG PYTHON_IMAGE="))
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), f"base image not pinned: {base}"
    (user,) = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
    uid, gid = (int(part) for part in user.split(":"))
    assert uid != 0 and gid != 0
    # The chart's pod securityContext must name the same user, or runAsNonRoot checks a different one.
    values = (REPO / "helm" / "olapsink" / "values.yaml").read_text()
    assert f"runAsUser: {uid}" in values
    assert "RUN pip wheel --wheel-dir /wheels ." in lines
    assert any("--no-index --find-links /wheels olapsink" in ln for ln in lines)
