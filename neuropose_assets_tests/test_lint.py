"""ruff's lint (pycodestyle, pyflakes, import order) and formatter (``[tool.ruff]`` in pyproject.toml) pass on the whole
code: ``ruff format`` would change nothing."""

import subprocess
import sys
from pathlib import Path

from neuropose_assets_tests import REPO

PATHS = ["neuropose_assets", "neuropose_assets_tests", "benchmarks", "data_contracts", "tasks.py"]


def ruff(*args: str) -> subprocess.CompletedProcess:
    """ruff of the test's environment (the locked version) on :data:`PATHS`."""
    exe = Path(sys.executable).parent / "ruff"
    return subprocess.run([str(exe), *args, "--no-cache", *PATHS], cwd=REPO, capture_output=True, text=True)


def test_ruff_finds_nothing():
    out = ruff("check")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_the_code_is_formatted():
    out = ruff("format", "--check")
    assert out.returncode == 0, "run `ruff format .`:\n" + out.stdout[-4000:] + out.stderr[-2000:]


def test_no_formatter_escapes():
    """No formatter escapes (``fmt`` skip / off comments): the formatter's layout holds everywhere."""
    marker = "# fmt" + ":"
    files = [p for path in PATHS for p in ([REPO / path] if path.endswith(".py") else (REPO / path).rglob("*.py"))]
    hits = [f"{p}:{i}" for p in files for i, line in enumerate(p.read_text().splitlines(), 1) if marker in line]
    assert hits == []
