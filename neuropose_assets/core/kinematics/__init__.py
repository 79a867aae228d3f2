"""Joint angles: the skeletal model fitted to each video and the clinical features. ``fit``: the model fitted to the
keypoints (OpenSim coordinates); ``features``: joints, angles, speeds; the model's geometry (``biomech``), skeleton
definitions, marker sets, filters (``signal``) and coordinate frames.

Public API (imported on first use):

* ``fit``: FitConfig, fit_imposed, fit_model, kinematics_table, observations_from_poses
* ``features``: FeaturesConfig, compute_features, angle_column, flexion_deg, included_angle, person_arrays
* ``biomech``: forward_kinematics, Dimensions
* ``skeletons``: Skeleton, get_skeleton, CLINICAL_JOINTS
* ``markersets``: MarkerMapping, choose_mapping, clinical_from_markers
* ``signal``: lowpass, lowpass_times, fill_gaps, CYCLE_POINTS
* ``frames``: FrameTransform, camera_to_opensim, lab_to_camera, handedness
"""

from neuropose_assets.core import lazy_api

_API = {
    "FitConfig": "fit",
    "fit_imposed": "fit",
    "fit_model": "fit",
    "kinematics_table": "fit",
    "observations_from_poses": "fit",
    "FeaturesConfig": "features",
    "compute_features": "features",
    "angle_column": "features",
    "flexion_deg": "features",
    "included_angle": "features",
    "person_arrays": "features",
    "forward_kinematics": "biomech",
    "Dimensions": "biomech",
    "Skeleton": "skeletons",
    "get_skeleton": "skeletons",
    "CLINICAL_JOINTS": "skeletons",
    "MarkerMapping": "markersets",
    "choose_mapping": "markersets",
    "clinical_from_markers": "markersets",
    "lowpass": "signal",
    "lowpass_times": "signal",
    "fill_gaps": "signal",
    "CYCLE_POINTS": "signal",
    "FrameTransform": "frames",
    "camera_to_opensim": "frames",
    "lab_to_camera": "frames",
    "handedness": "frames",
}
__all__ = sorted(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
