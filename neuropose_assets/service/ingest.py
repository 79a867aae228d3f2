"""Zip ingestion's side effect on the intake folder: the task declared for the placed videos, written into each
cohort's ``protocol.yaml``."""

from __future__ import annotations

from pathlib import Path


def protocol_updates(intake: Path, placed: list[Path], decl, comment: str) -> dict[Path, bytes]:
    """The new content of each cohort's ``protocol.yaml``: its current text plus one YAML document that declares
    ``decl`` (its task, subject and session) for exactly the ``placed`` files (appended documents override earlier
    rules; the user's own text and comments are kept).  ``placed`` are absolute paths below ``intake`` (absolute)."""
    from neuropose_assets.core.analysis.tasks import PROTOCOL_FILE, protocol_rule_document

    by_cohort: dict[str, dict[str, dict]] = {}
    params = {}
    if decl.declared:
        params = decl.spec.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        params["task"] = decl.spec.task
    if decl.visit is not None:
        params |= {k: v for k, v in (("subject", decl.visit.subject), ("session", decl.visit.session)) if v}
    for p in placed:
        folder, inner = p.relative_to(intake).as_posix().split("/", 1)
        by_cohort.setdefault(folder, {})[inner] = params
    out = {}
    for folder, rules in by_cohort.items():
        path = intake / folder / PROTOCOL_FILE
        old = path.read_bytes() if path.exists() else b""
        out[path] = old + (b"\n" if old else b"") + protocol_rule_document(rules, comment).encode("utf-8")
    return out
