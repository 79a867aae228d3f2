"""Outcomes as a clinician reads them: each task's main measures, values at a sensible precision with their units,
and the quality flags beside them — for the terminal (``neuropose-assets outcomes`` / ``list``), the CSV export and
the Dagster UI's Markdown tables.

Precision follows the measurement's resolution, not the float: times to 0.01 s (one frame at 60–100 fps is
0.01–0.017 s), percentages to 0.1 %, lengths to 0.01 m, speeds to 0.01 m/s, angles to 0.1°, cadence to 0.1
steps/min, counts as integers (:func:`rounded`).
"""

from __future__ import annotations

import polars as pl

from neuropose_assets.core.analysis.outcomes import definition as _def

#: the measures a clinician looks at first, per task (the full table has them all)
MAIN_OUTCOMES: dict[str, tuple[str, ...]] = {
    "gait": (
        "cadence_steps_min",
        "stride_time_s",
        "step_time_s",
        "double_support_pct",
        "gait_speed_m_s",
        "stride_time_cv_pct",
    ),
    "sit_to_stand": ("repetitions", "five_sts_time_s", "mean_rise_time_s", "mean_sit_time_s"),
    "squat": ("repetitions", "depth_knee_flexion_deg", "mean_duration_s"),
    "arm_raise": ("left_peak_elevation_deg", "right_peak_elevation_deg", "left_repetitions", "right_repetitions"),
    "tug": ("tug_time_s", "rise_s", "turn_s", "steps"),
    "generic": ("repetitions", "mean_duration_s", "mean_peak_value"),
}
#: decimals per unit suffix of a measure name (module docstring); counts have none
DECIMALS = {"_steps_min": 1, "_m_s": 2, "_pct": 1, "_deg": 1, "_s": 2, "_m": 2}


def decimals(measure: str) -> int:
    """Decimals to show for ``measure`` (by its unit suffix; counts and unknown units: 0 and 3)."""
    if _unit(measure) == "count":
        return 0
    for suffix, n in DECIMALS.items():
        if measure.endswith(suffix):
            return n
    return 3


def _unit(measure: str) -> str:
    try:
        return _def(measure).unit
    except KeyError:
        return ""


def unit_label(measure: str) -> str:
    """``"s"``, ``"steps/min"``, … for a column header ("" for counts)."""
    u = _unit(measure)
    return "" if u == "count" else u


def rounded(measure: str, value: float | None) -> float | int | None:
    """``value`` at the precision of ``measure`` (module docstring); ``None`` stays ``None``."""
    if value is None:
        return None
    n = decimals(measure)
    return int(round(value)) if n == 0 else round(float(value), n)


def shown(measure: str, value: float | None) -> str:
    """The value as text at its precision, ``—`` for null."""
    v = rounded(measure, value)
    return "—" if v is None else (f"{v:d}" if isinstance(v, int) else f"{v:.{decimals(measure)}f}")


def shown_interval(measure: str, low: float | None, high: float | None) -> str:
    """A 95 % confidence interval as text at the measure's precision (``12.10–12.44``); ``""`` when there is none."""
    if low is None or high is None:
        return ""
    return f"{shown(measure, low)}–{shown(measure, high)}"


def with_interval(measure: str, value: float | None, low: float | None, high: float | None) -> str:
    """The value and its interval as text (``12.27 (12.10–12.44)``), the value alone without an interval."""
    ci = shown_interval(measure, low, high)
    return shown(measure, value) + (f" ({ci})" if ci else "")


def header(measure: str) -> str:
    """Column header: the measure without its unit suffix, the unit in brackets (``five_sts_time [s]``)."""
    unit = unit_label(measure)
    if not unit:
        return measure
    for suffix in DECIMALS:
        if measure.endswith(suffix):
            return f"{measure[: -len(suffix)]} [{unit}]"
    return f"{measure} [{unit}]"


def text_table(rows: list[list[str]], head: list[str], right: set[int] | None = None) -> str:
    """A plain-text table: columns as wide as their widest cell, numbers right-aligned (``right``: column indices)."""
    right = right or set()
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def markdown_table(outcomes: pl.DataFrame, flags: dict[str, str] | None = None) -> str:
    """One video's outcome table as Markdown (measure, value at its precision, its 95 % confidence interval, unit, n,
    flag): what the Dagster UI shows on the ``outcomes`` materialization.  ``flags``: measure → short note (e.g.
    "null: <reason>")."""
    lines = ["| measure | value | 95 % CI | unit | n | note |", "|---|---:|---:|---|---:|---|"]
    for r in outcomes.iter_rows(named=True):
        note = (flags or {}).get(r["measure"]) or (f"null — {r['null_reason']}" if r["value"] is None else "")
        unit = "" if r["unit"] == "count" else r["unit"]
        interval = shown_interval(r["measure"], r.get("ci_low"), r.get("ci_high"))
        lines.append(
            f"| {r['measure']} | {shown(r['measure'], r['value'])} | {interval} | {unit} | {r['n']} | "
            f"{note.replace('|', '/')} |"
        )
    return "\n".join(lines)


def cohort_csv(cohort: pl.DataFrame, reasons: dict[str, dict[str, str]]) -> pl.DataFrame:
    """The cohort table for R / SPSS / Excel: values and the bounds of their 95 % intervals (``<measure>_ci_low`` /
    ``_ci_high``) rounded at their precision (counts as integers) and, for every measure that is null in some video,
    a ``<measure>_null_reason`` column beside it (``reasons``: partition →
    measure → reason, from each video's ``outcomes`` table; a measure another task's video does not have: "not a
    measure of task …")."""
    cols: list[pl.Series] = []
    known = _known(cohort)
    for c in cohort.columns:
        base = c.removesuffix("_ci_low").removesuffix("_ci_high")
        if base != c and base in known:
            cols.append(pl.Series(c, [rounded(base, v) for v in cohort[c].to_list()], dtype=pl.Float64))
            continue
        if c in ("partition", "task", "declared") or c not in known:
            cols.append(cohort[c])
            continue
        values = [rounded(c, v) for v in cohort[c].to_list()]
        dtype = pl.Int64 if decimals(c) == 0 else pl.Float64
        cols.append(pl.Series(c, values, dtype=dtype))
        if any(v is None for v in values):
            why = [
                None if v is not None else reasons.get(p, {}).get(c) or f"not a measure of task {task}"
                for p, task, v in zip(cohort["partition"], cohort["task"], values, strict=True)
            ]
            cols.append(pl.Series(f"{c}_null_reason", why, dtype=pl.Utf8))
    return pl.DataFrame(cols)


def _known(df: pl.DataFrame) -> set[str]:
    out = set()
    for c in df.columns:
        try:
            _def(c)
            out.add(c)
        except KeyError:
            pass
    return out


__all__ = [
    "MAIN_OUTCOMES",
    "cohort_csv",
    "decimals",
    "header",
    "markdown_table",
    "rounded",
    "shown",
    "text_table",
    "unit_label",
]
