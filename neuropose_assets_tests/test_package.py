"""The package works installed, away from the checkout: its instance configuration ships inside it, and `run`
analyses a real clip from another working directory with only the installed copy importable."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from neuropose_assets_tests import REPO


def test_the_shipped_instance_configuration_is_the_repository_one():
    assert (REPO / "neuropose_assets" / "dagster.yaml").read_bytes() == (REPO / "dagster.yaml").read_bytes()


@pytest.mark.e2e
def test_the_installed_package_runs_a_video_without_the_checkout(tmp_path, cam01):
    wheels, site, src = tmp_path / "wheels", tmp_path / "site", tmp_path / "src"
    for folder in ("neuropose_assets", "data_contracts"):  # a copy: building writes build/ beside the sources
        shutil.copytree(REPO / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(src)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("neuropose_assets-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "NEUROPOSE_DATA_ROOT": str(tmp_path / "data")}
    env.pop("DAGSTER_HOME", None)
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import neuropose_assets, data_contracts; print(neuropose_assets.__file__); print(data_contracts.__file__)",
        ],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(Path(w).is_relative_to(site) for w in where), where  # the installed copy, not the checkout
    out = subprocess.run(
        [sys.executable, "-m", "neuropose_assets.cli", "run", str(cam01), "--task", "gait", "--key", "installed"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    data = tmp_path / "data"
    assert (data / "assets" / "outcomes" / "installed.parquet").exists()
    # the installed package's instance configuration is the checkout's (package data, the same file)
    from neuropose_assets.instance import instance_yaml

    assert (data / "dagster_home" / "dagster.yaml").read_bytes() == instance_yaml(data / "dagster_home")
