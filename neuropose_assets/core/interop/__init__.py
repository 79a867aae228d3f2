"""Other tools' files: marker-based capture in (TRC, C3D, MOT, force plates: ``mocap``) and OpenSim files out
(``opensim``).

Public API (imported on first use):

* ``mocap``: import_markers, probe_markers, read_trc, write_trc, read_mot, write_mot, read_c3d
* ``opensim``: opensim_tables, write_export
"""

from neuropose_assets.core import lazy_api

_API = {
    "import_markers": "mocap",
    "probe_markers": "mocap",
    "read_trc": "mocap",
    "write_trc": "mocap",
    "read_mot": "mocap",
    "write_mot": "mocap",
    "read_c3d": "mocap",
    "opensim_tables": "opensim",
    "write_export": "opensim",
}
__all__ = sorted(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
