#!/usr/bin/env python3
"""Bootstrap and task runner: the two README commands.

    python3.11 tasks.py demo   # create .venv from requirements.lock, fetch sample clips, run the main job
    python3.11 tasks.py test   # same environment, then the test suite

Only the standard library is used here, so it runs on a fresh machine with nothing but Python 3.11 and pip.
The virtual environment is (re)built whenever ``requirements.lock`` or ``pyproject.toml`` changes; the
installed state is recorded in ``.venv/.lock-sha256``.  Extra arguments are passed through
(``python3.11 tasks.py test -k dtw``; ``python3.11 tasks.py demo --data-root /data/np``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("NEUROPOSE_VENV", ROOT / ".venv"))
LOCK = ROOT / "requirements.lock"
STAMP = VENV / ".lock-sha256"


def _py() -> Path:
    return VENV / "bin" / "python"


def _want_stamp() -> str:
    h = hashlib.sha256()
    for f in (LOCK, ROOT / "pyproject.toml"):
        h.update(f.read_bytes())
    return h.hexdigest()


def ensure_env() -> Path:
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"neuropose-assets needs Python 3.11 (this is {sys.version.split()[0]}); run: python3.11 tasks.py ...")
    want = _want_stamp()
    if _py().exists() and STAMP.exists() and STAMP.read_text().strip() == want:
        return _py()
    print(f"[tasks] setting up {VENV} from {LOCK.name} (first run downloads ~1.5 GB of wheels) ...", flush=True)
    if not _py().exists():
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    pip = [str(_py()), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    subprocess.run([*pip, "--require-hashes", "--no-deps", "-r", str(LOCK)], check=True)
    subprocess.run([*pip, "--no-deps", "--no-build-isolation", "-e", str(ROOT)], check=True)
    STAMP.write_text(want + "\n")
    return _py()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "env"}:
        print(__doc__)
        return 2
    cmd, rest = argv[0], argv[1:]
    py = ensure_env()
    if cmd == "env":
        print(py)
        return 0
    if cmd == "demo":
        return subprocess.call([str(py), "-m", "neuropose_assets.cli", "demo", *rest])
    return subprocess.call([str(py), "-m", "pytest", *rest], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
