"""ruff's lint (pycodestyle, pyflakes, import order; ``[tool.ruff]`` in pyproject.toml) passes on the whole code."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    ruff = Path(sys.executable).parent / "ruff"
    out = subprocess.run([str(ruff), "check", "--no-cache", "neuropose_assets", "neuropose_assets_tests", "benchmarks",
                          "data_contracts", "tasks.py"], cwd=REPO, capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
