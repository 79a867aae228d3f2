"""Intake sensor tick time with 10,000 files in the intake tree (Dagster's tick limit is 60 s).

Three ticks on the same tree: first sight (everything settling), registration (10,000 new partitions: registry
entries, run requests, partition requests), steady state (nothing new — the common case).
"""

from __future__ import annotations

import os
import sys
import time

import dagster as dg
from scratch import scratch_dir

from neuropose_assets.core.io.storage import Layout
from neuropose_assets.dagster_defs.sensors import evaluate_intake

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000


def main() -> None:
    tmp = scratch_dir("np-intake-")
    root = tmp / "intake"
    old = time.time() - 3600
    for i in range(N):
        p = root / f"cohort_{i % 10}" / f"subject_{i // 100:03d}" / f"session_{i % 3}" / f"trial {i}.mp4"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
        os.utime(p, (old, old))
    os.environ["NEUROPOSE_INTAKE"] = str(root)
    layout = Layout(tmp / "data")
    with dg.instance_for_test() as inst:
        cursor = None
        for label in ("first sight", "registration", "steady state"):
            ctx = dg.build_sensor_context(instance=inst, cursor=cursor)
            t = time.perf_counter()
            res = evaluate_intake(ctx, layout, stable_seconds=30, pseudonymise=False)
            dt = time.perf_counter() - t
            runs = len(res.run_requests) if isinstance(res, dg.SensorResult) else 0
            cursor = res.cursor if isinstance(res, dg.SensorResult) else ctx.cursor
            if isinstance(res, dg.SensorResult):
                for req in res.dynamic_partitions_requests:
                    inst.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
            print(f"{label:13s} {N} files: {dt:6.2f} s, {runs} run requests, cursor {len(cursor or '')} bytes")


if __name__ == "__main__":
    main()
