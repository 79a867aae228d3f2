"""Files and folders.  Data root layout, atomic writes, Parquet tables with provenance, video probing and decoding, the
intake scan, stored raw videos, zip ingestion and the sample clips.

Public API (imported on first use):

* ``storage``: Layout, Registry, default_data_root, default_cache_dir, sanitize_key, check_key, secure_data_root
* ``atomic``: atomic_path, atomic_write_bytes, sha256_file
* ``tables``: write_table, read_provenance
* ``video``: VideoProbe, probe_video, iter_frames, verify_decoding
* ``errors``: VideoError
* ``rawvideo``: store_video, StoredVideo
* ``intake``: scan_intake, IntakeFile, ScanResult
* ``zip_ingest``: ingest_zip, IngestResult, IngestError
* ``samples``: fetch_samples, fetch_sample, fetch_mocap_samples, SampleClip
* ``concurrency``: pose_slots
"""

from neuropose_assets.core import lazy_api

_API = {
    "Layout": "storage",
    "Registry": "storage",
    "default_data_root": "storage",
    "default_cache_dir": "storage",
    "sanitize_key": "storage",
    "check_key": "storage",
    "secure_data_root": "storage",
    "atomic_path": "atomic",
    "atomic_write_bytes": "atomic",
    "sha256_file": "atomic",
    "write_table": "tables",
    "read_provenance": "tables",
    "VideoProbe": "video",
    "probe_video": "video",
    "iter_frames": "video",
    "verify_decoding": "video",
    "VideoError": "errors",
    "store_video": "rawvideo",
    "StoredVideo": "rawvideo",
    "scan_intake": "intake",
    "IntakeFile": "intake",
    "ScanResult": "intake",
    "ingest_zip": "zip_ingest",
    "IngestResult": "zip_ingest",
    "IngestError": "zip_ingest",
    "fetch_samples": "samples",
    "fetch_sample": "samples",
    "fetch_mocap_samples": "samples",
    "SampleClip": "samples",
    "pose_slots": "concurrency",
}
__all__ = sorted(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
