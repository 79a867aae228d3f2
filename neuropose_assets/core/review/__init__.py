"""What a clinician looks at: the review video and key frames (``render``), the figures (``plots``) and the per-video
report, HTML and PDF (``report``).

Public API (imported on first use):

* ``render``: render_review_video, contact_sheet
* ``plots``: signal_plot, angles_plot, gait_cycle_plot, dtw_heatmap, cohort_charts
* ``report``: build_report, write_report, Report
"""

from neuropose_assets.core import lazy_api

_API = {
    "render_review_video": "render",
    "contact_sheet": "render",
    "signal_plot": "plots",
    "angles_plot": "plots",
    "gait_cycle_plot": "plots",
    "dtw_heatmap": "plots",
    "cohort_charts": "plots",
    "build_report": "report",
    "write_report": "report",
    "Report": "report",
}
__all__ = sorted(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
