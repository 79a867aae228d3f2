"""Wall time of ``neuropose-assets demo`` from a cold start (fresh process, fresh data root, samples cached),
broken down into imports, model load, inference, analysis and Dagster overhead; plus the import cost of each heavy
library measured alone in a fresh interpreter, and which of them the demo process actually loaded.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

from scratch import scratch_dir

IMPORTS = {
    "dagster": "import dagster",
    "code location (neuropose_assets.definitions)": "import neuropose_assets.definitions",
    "mediapipe (plain import, probes TensorFlow)": "import mediapipe",
    "mediapipe (as the BlazePose backend imports it)": (
        "from neuropose_assets.core.pose.blazepose import import_mediapipe; import_mediapipe()"
    ),
    "tslearn.metrics": "import tslearn.metrics",
    "tslearn first dtw_path call (numba JIT)": (
        "import numpy as np, tslearn.metrics as m; m.dtw_path(np.zeros((5,2)), np.ones((6,2)))"
    ),
    "tensorflow": "import tensorflow",
}


def fresh(code: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    base = fresh("pass")
    print(f"interpreter start: {base:.2f} s; each figure below is net of it\n")
    for name, code in IMPORTS.items():
        print(f"  import {name:52s} {fresh(code) - base:6.2f} s")
    root = str(scratch_dir("np-demo-bench-"))
    probe = (
        "import sys, runpy; sys.argv=['neuropose-assets','demo','--data-root',%r]\n"
        "from neuropose_assets.cli import main\nrc = main()\n"
        "print('HEAVY', [m for m in ('tensorflow','mediapipe','tslearn','numba') if m in sys.modules])\n"
        "sys.exit(rc)"
    ) % root
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    wall = time.perf_counter() - t
    if out.returncode != 0:
        print(out.stdout[-3000:], out.stderr[-3000:])
        raise SystemExit("demo failed")
    line = next(x for x in out.stdout.splitlines() if x.startswith("time:"))
    heavy = next(x for x in out.stdout.splitlines() if x.startswith("HEAVY"))
    parts = dict((k, float(v)) for k, v in re.findall(r"(\w+) ([\d.]+)", line))
    print(f"\ndemo, 9 clips, cold process: {wall:.1f} s wall (interpreter + CLI {wall - parts['total_s']:.1f} s)")
    for k, v in parts.items():
        print(f"  {k:20s} {v:6.1f} s")
    print(f"  heavy modules loaded by the demo process: {heavy[6:]}")


if __name__ == "__main__":
    main()
