"""Comparing movements: DTW between repetitions, gait cycles and videos (``dtw``, tslearn), Procrustes alignment
(``alignment``) and agreement with marker-based references (``agreement``).

Public API (imported on first use):

* ``dtw``: DTWConfig, RepetitionDTWConfig, CohortDTWConfig, pairwise, dtw_distance, mean_repetition
* ``alignment``: kabsch, procrustes_align
* ``agreement``: event_agreement, outcome_agreement, outcome_icc
"""

from neuropose_assets.core import lazy_api

_API = {
    "DTWConfig": "dtw",
    "RepetitionDTWConfig": "dtw",
    "CohortDTWConfig": "dtw",
    "pairwise": "dtw",
    "dtw_distance": "dtw",
    "mean_repetition": "dtw",
    "kabsch": "alignment",
    "procrustes_align": "alignment",
    "event_agreement": "agreement",
    "outcome_agreement": "agreement",
    "outcome_icc": "agreement",
}
__all__ = sorted(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
