"""Per-frame cost of our MeTRAbs glue at 1080p, with the fake SavedModel (no real weights here).

Glue = batching (np.stack + tensor conversion), ragged → per-frame conversion, tracking + subject selection, the
``poses`` table, and the atomic Parquet write.  Decoding is excluded (frames are pre-decoded) and so is the model
call (timed inside the session and subtracted).  Target: ≤ 2 ms/frame.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from scratch import scratch_dir

from neuropose_assets.core.io.atomic import sha256_file
from neuropose_assets.core.io.tables import write_table
from neuropose_assets.core.pose import load_backend
from neuropose_assets.core.pose.estimate import build_poses_table
from neuropose_assets.core.pose.tracking import select_subject, track_boxes
from neuropose_assets_tests.fake_metrabs import build_fake_metrabs, make_tarball

N_FRAMES = int(sys.argv[1]) if len(sys.argv) > 1 else 240
BATCH = 8


def main() -> None:
    tmp = scratch_dir("np-glue-")
    tb = make_tarball(build_fake_metrabs(tmp / "sm"), tmp / "fake.tar.gz")
    backend = load_backend(
        "metrabs",
        cache=str(tmp / "cache"),
        variant="fake",
        sha256=sha256_file(tb),
        tarball=str(tb),
        batch_size=BATCH,
        num_aug=1,
    )
    rng = np.random.default_rng(0)
    base = rng.integers(30, 220, (1080, 1920, 3), dtype=np.uint8)
    frames = [np.roll(base, i, axis=1) for i in range(N_FRAMES)]
    session = backend.open_video(width=1920, height=1080, fps=30.0)
    session.process(frames[:BATCH])  # warm-up: first call traces/optimises the graph
    session.model_s = 0.0
    t = time.perf_counter()
    out = []
    for i in range(0, N_FRAMES, BATCH):
        out.extend(session.process(frames[i : i + BATCH]))
    process_s = time.perf_counter() - t
    batching_ragged = process_s - session.model_s
    t = time.perf_counter()
    boxes = [f.boxes for f in out]
    tracks = track_boxes(boxes)
    subject = select_subject(boxes, tracks, image_size=(1920, 1080))
    table = build_poses_table(out, tracks, subject, np.arange(N_FRAMES) / 30.0, backend.skeleton.joints)
    tracking_table = time.perf_counter() - t
    t = time.perf_counter()
    write_table(table, tmp / "poses.parquet", {"model": backend.info.as_dict()})
    parquet = time.perf_counter() - t
    glue = batching_ragged + tracking_table + parquet
    print(f"{N_FRAMES} frames 1920x1080, batch {BATCH}, 2 persons/frame, {table.shape[1]} columns")
    print(f"  model call (excluded)          {1000 * session.model_s / N_FRAMES:7.3f} ms/frame")
    print(f"  batching + ragged conversion   {1000 * batching_ragged / N_FRAMES:7.3f} ms/frame")
    print(f"  tracking + subject + table     {1000 * tracking_table / N_FRAMES:7.3f} ms/frame")
    print(f"  Parquet write (atomic)         {1000 * parquet / N_FRAMES:7.3f} ms/frame")
    print(f"  glue total                     {1000 * glue / N_FRAMES:7.3f} ms/frame (target <= 2)")


if __name__ == "__main__":
    main()
