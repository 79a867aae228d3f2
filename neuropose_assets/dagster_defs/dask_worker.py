"""Preloaded into every dask worker process started by ``neuropose-assets worker`` (``dask worker --preload``).

It imports the code location and loads the pose model before the worker accepts tasks, so that every ``poses`` step
on this worker finds the model in the process cache (``PoseModelResource.get_backend`` reports a load time of 0):
the model loads once per worker process, not once per video.  A worker whose model cannot load (missing weights,
wrong checksum) stops here with that error instead of failing every video it is given.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("neuropose_assets.worker")


def dask_setup(worker) -> None:  # dask's preload hook
    """dask's preload hook: load the code location and the pose model (``pose_model_from_env``) before
    ``worker`` accepts tasks, and log how long that took."""
    t = time.perf_counter()
    from neuropose_assets.definitions import pose_model_from_env

    _, load_s = pose_model_from_env().get_backend()
    log.warning(
        "neuropose-assets worker %s ready: code location and pose model loaded in %.1f s (model %.1f s)",
        worker.name,
        time.perf_counter() - t,
        load_s,
    )
