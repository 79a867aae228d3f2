"""What a video shows and what it measures: the declared task (``tasks``), its events, repetitions and gait cycles
(``events``, ``segmentation``), the outcomes (``outcomes``), the camera view, the task check, quality flags and the
clinician's summary.

Public API (imported on first use):

* ``tasks``: TaskSpec, TaskDeclaration, load_protocol, make_spec
* ``events``: EventsConfig, TaskAnalysis, analyse_task
* ``segmentation``: SegmentationConfig, extract_signal, segment_features
* ``outcomes``: compute_outcomes, definition, OutcomeDef
* ``view``: measure_view, effective_view, ViewMeasurement
* ``task_check``: task_contradiction
* ``quality``: CHECKS, Flag
* ``uncertainty``: Interval, bootstrap, event_timing
* ``summary``: MAIN_OUTCOMES, text_table, markdown_table, cohort_csv
"""

from neuropose_assets.core import lazy_api

_API = {
    "TaskSpec": "tasks",
    "TaskDeclaration": "tasks",
    "load_protocol": "tasks",
    "make_spec": "tasks",
    "EventsConfig": "events",
    "TaskAnalysis": "events",
    "analyse_task": "events",
    "SegmentationConfig": "segmentation",
    "extract_signal": "segmentation",
    "segment_features": "segmentation",
    "compute_outcomes": "outcomes",
    "definition": "outcomes",
    "OutcomeDef": "outcomes",
    "measure_view": "view",
    "effective_view": "view",
    "ViewMeasurement": "view",
    "task_contradiction": "task_check",
    "CHECKS": "quality",
    "Flag": "quality",
    "Interval": "uncertainty",
    "bootstrap": "uncertainty",
    "event_timing": "uncertainty",
    "MAIN_OUTCOMES": "summary",
    "text_table": "summary",
    "markdown_table": "summary",
    "cohort_csv": "summary",
}
__all__ = sorted(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
