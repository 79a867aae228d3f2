"""Do the groups differ: per task and outcome, the declared groups of a cohort compared — mean ± SD per group, an
effect size with its 95 % interval, and a test, with n and the multiple-comparison policy stated.

**Units.**  One value per subject: the mean of the subject's videos of the task in its *first* session (a
cross-sectional comparison; later sessions are the business of :mod:`.change`).  A video without a declared subject
counts as its own subject.  Subjects without a ``group`` are left out.

**Tests** (pingouin; Vallat, J Open Source Softw 3:1026, 2018):

* two groups: Welch's t-test (unequal variances), effect size Cohen's *d* with its 95 % interval
  (``pingouin.compute_esci``);
* three or more: Welch's ANOVA, effect size partial η² (no interval: none with a reason).

At least :data:`MIN_PER_GROUP` subjects per group; otherwise no test, with the reason.  **Multiple comparisons**:
the p-values of all outcomes of one task are adjusted together with Holm's step-down method (Holm, Scand J Stat 6:65,
1979), ``p_holm``; report those, or pre-register one outcome and use its ``p_value``.
"""

from __future__ import annotations

import json

import polars as pl

#: fewest subjects per group for a test
MIN_PER_GROUP = 3
_META = {"partition", "task", "declared", "subject", "session", "age_years", "sex", "population", "group"}


def _units(cohort: pl.DataFrame, task: str, measure: str) -> dict[str, list[float]]:
    """``group → [one value per subject]`` (module docstring)."""
    from neuropose_assets.core.analysis.tasks import Visit

    rows = cohort.filter((pl.col("task") == task) & pl.col("group").is_not_null() & pl.col(measure).is_not_null())
    by_subject: dict[str, dict] = {}
    for r in rows.iter_rows(named=True):
        subject = r["subject"] or f"video:{r['partition']}"
        order = Visit(subject="s", session=r["session"]).session_order() if r["session"] else (-1, "")
        entry = by_subject.setdefault(subject, {"group": r["group"], "order": order, "values": []})
        if order < entry["order"]:
            entry.update(order=order, values=[])
        if order == entry["order"]:
            entry["values"].append(r[measure])
    out: dict[str, list[float]] = {}
    for e in by_subject.values():
        out.setdefault(e["group"], []).append(sum(e["values"]) / len(e["values"]))
    return out


def group_comparison(cohort: pl.DataFrame) -> pl.DataFrame:
    """The ``group_comparison`` table of a cohort table (``cohort_outcomes`` with ``group``): one row per task and
    outcome measured in two or more groups (module docstring); empty with the contract's columns when fewer than two
    groups are declared."""
    import numpy as np
    import pandas as pd
    import pingouin as pg

    from data_contracts import polars_schema
    from neuropose_assets.core.analysis.outcomes import CI_SUFFIXES, RECORDING_MEASURES

    schema = polars_schema("group_comparison")
    if "group" not in cohort.columns or cohort["group"].drop_nulls().n_unique() < 2:
        return pl.DataFrame(schema=schema)
    rows = []
    for task in sorted(cohort["task"].unique().to_list()):
        measures = [
            c for c in cohort.columns if c not in _META and not c.endswith(CI_SUFFIXES) and c not in RECORDING_MEASURES
        ]
        task_rows = []
        for measure in measures:
            units = _units(cohort, task, measure)
            if len(units) < 2:
                continue
            groups = sorted(units)
            stats = {
                g: {"n": len(v), "mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else None}
                for g, v in units.items()
            }  # noqa: E501
            row = {"task": task, "measure": measure, "groups": ", ".join(groups), "per_group": json.dumps(stats)}
            small = [g for g in groups if len(units[g]) < MIN_PER_GROUP]
            if small:
                row["null_reason"] = f"fewer than {MIN_PER_GROUP} subjects in group(s) {', '.join(small)}"
            elif len(groups) == 2:
                a, b = (np.asarray(units[g]) for g in groups)
                t = pg.ttest(a, b, correction=True).iloc[0]
                d = float(t["cohen_d"])
                low, high = pg.compute_esci(stat=d, nx=len(a), ny=len(b), eftype="cohen", confidence=0.95)
                row |= {
                    "test": "Welch t-test",
                    "statistic": float(t["T"]),
                    "dof": float(t["dof"]),
                    "p_value": float(t["p_val"]),
                    "effect_size": d,
                    "effect_kind": f"Cohen's d ({groups[0]} − {groups[1]})",
                    "effect_ci_low": float(low),
                    "effect_ci_high": float(high),
                }
            else:
                data = pd.DataFrame([(g, v) for g in groups for v in units[g]], columns=["group", "value"])
                w = pg.welch_anova(dv="value", between="group", data=data).iloc[0]
                row |= {
                    "test": "Welch ANOVA",
                    "statistic": float(w["F"]),
                    "dof": float(w["ddof2"]),
                    "p_value": float(w["p_unc"]),
                    "effect_size": float(w["np2"]),
                    "effect_kind": "partial eta squared",
                    "effect_ci_null_reason": "no interval for partial eta squared here",
                }
            task_rows.append(row)
        tested = [r for r in task_rows if r.get("p_value") is not None]
        if tested:
            _, adjusted = pg.multicomp([r["p_value"] for r in tested], method="holm")
            for r, p in zip(tested, adjusted, strict=True):
                r["p_holm"] = float(p)
        rows += task_rows
    if not rows:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame([{k: r.get(k) for k in schema} for r in rows], schema=schema)
