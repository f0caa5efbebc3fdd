"""``pip install`` stays true: the wheel holds every file the package reads at run time, and the
installed copy (not this checkout) validates, draws and counts a bundled genotype."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "nasfpn_cli"
# what the build reads besides the package (pyproject's readme; the genotypes the package links)
BUILD_INPUTS = ("pyproject.toml", "README.md", "genotypes")
# files the package reads at run time, named so that a lost package-data rule fails loudly
RUNTIME_DATA = ("nasfpn_cli/genotype/genotype.lark", "nasfpn_cli/genotypes/nasfpn.txt",
                "nasfpn_cli/genotypes/fpn.txt")
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")


def package_files() -> set[str]:
    """Every file of the package as the checkout has it (symbolic links followed), as wheel
    paths: all of them, Python or data, must be installed."""
    found = set()
    for folder, dirs, files in os.walk(ROOT / PACKAGE, followlinks=True):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        found |= {(Path(folder) / name).relative_to(ROOT).as_posix() for name in files
                  if not name.endswith(".pyc")}
    return found


def run(*args: str | Path, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_the_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    pytest.importorskip("setuptools", reason="the wheel is built without isolation, offline")
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the checkout
    for name in (*BUILD_INPUTS, PACKAGE):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=SKIPPED)
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
        "-w", tmp_path / "dist", source, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("nasfpn-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(RUNTIME_DATA) <= names
    missing = sorted(package_files() - names)
    assert not missing, f"files of the package left out of the wheel (package-data?): {missing}"

    site = tmp_path / "site"
    run(sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "-q", "--target",
        site, wheel, cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    where = run(sys.executable, "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)",
                cwd=elsewhere, env=env).stdout.strip()
    assert Path(where).is_relative_to(site), f"{where} shadows the installed copy"

    def nasfpn(*args: str) -> str:
        return run(sys.executable, "-m", PACKAGE, *args, cwd=elsewhere, env=env).stdout

    nasfpn("validate", "nasfpn")
    drawing = "nasfpn.svg" if shutil.which("dot") else "nasfpn.dot"  # no Graphviz: the source
    nasfpn("draw", "nasfpn", "-o", drawing)
    assert (elsewhere / drawing).stat().st_size > 0
    assert "nasfpn" in nasfpn("list")
    counted = nasfpn("flops", "nasfpn", "--backbone", "resnet10", "--stack", "1",
                     "--channels", "32", "--image-size", "128", "--num-classes", "3")
    assert "MACs (multiply-adds)" in counted and "uncounted ops" in counted
    # the console script installed beside the package runs too
    script = site / "bin" / "nasfpn"
    if script.exists():
        assert "nasfpn" in run(script, "list", cwd=elsewhere, env=env).stdout
