"""Has it changed: each subject's outcomes from session to session, judged against the published minimal detectable or
clinically important change for the subject's population *and* against the two sessions' own confidence intervals.

For every subject with two or more sessions, every task and every outcome of the movement
(:data:`.outcomes.RECORDING_MEASURES` — the camera's view, excluded repetitions — are left out), two comparisons: each
session against the previous one (``consecutive``) and against the first (``baseline``).  Several videos of one subject,
session and task are averaged (their standard errors combined as ``√Σ SE² / k``).

**Uncertainty of a change.**  Each session's 95 % interval (:mod:`.uncertainty`) gives its standard error
``SE = (high − low) / (2 × 1.96)``; the change's interval is ``Δ ± 1.96 √(SE_a² + SE_b²)`` (normal approximation,
independent sessions).  Without an interval in either session the change has none.

**Thresholds** (``neuropose_assets/data/change_thresholds.csv``, each with its statistic and source): the smallest
change that exceeds measurement error (MDC95, SRD) or that matters to patients (MCID) for a measure in a population,
absolute (in the measure's unit) or relative (% of the earlier session); some apply to a range of the earlier value
(e.g. gait-speed MDC by speed band in stroke).

**Verdict**: ``exceeds`` only when |Δ| is above the threshold *and* the change's interval excludes 0 — a change
larger than the published threshold that this recording cannot resolve is not called real; ``within`` when neither
says so; otherwise which one does and which does not.  No threshold for the subject's population (or no population
declared) gives no verdict, with the reason.

**Contradicting declarations** (:func:`.tasks.visit_problems`): a subject whose sessions mix dates and ordinals has
no change (their order is unknown); one whose videos declare different populations has no verdict, with the reason.
The cohort's ``visits_consistent`` check names both.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

import polars as pl

from neuropose_assets.core.analysis.uncertainty import Z95


@dataclass(frozen=True)
class Threshold:
    """A published change threshold: ``measure`` in ``population``, its ``statistic`` (``MDC95``, ``MCID``, ``SRD``),
    ``value`` in the measure's unit — or in % of the earlier session when ``relative`` — applicable when the earlier
    value lies in ``[lower, upper)`` (``None``: unbounded), and its ``source``."""

    measure: str
    population: str
    statistic: str
    value: float
    relative: bool
    lower: float | None
    upper: float | None
    source: str

    def applies(self, earlier: float) -> bool:
        """Whether the threshold applies to a change from ``earlier``."""
        return (self.lower is None or earlier >= self.lower) and (self.upper is None or earlier < self.upper)

    def amount(self, earlier: float) -> float:
        """The threshold in the measure's unit for a change from ``earlier``."""
        return abs(earlier) * self.value / 100 if self.relative else self.value


@cache
def thresholds() -> tuple[Threshold, ...]:
    """The thresholds of ``neuropose_assets/data/change_thresholds.csv``."""
    text = resources.files("neuropose_assets.data").joinpath("change_thresholds.csv").read_text(encoding="utf-8")
    out = []
    for r in csv.DictReader(line for line in text.splitlines() if line.strip() and not line.startswith("#")):
        out.append(
            Threshold(
                r["measure"],
                r["population"],
                r["statistic"],
                float(r["value"]),
                r["relative"] == "yes",
                float(r["lower"]) if r["lower"] else None,
                float(r["upper"]) if r["upper"] else None,
                r["source"],
            )
        )
    return tuple(out)


def threshold_for(measure: str, population: str | None, earlier: float) -> Threshold | None:
    """The threshold of ``measure`` for ``population`` that applies to a change from ``earlier`` (``None``: none)."""
    for t in thresholds():
        if t.measure == measure and t.population == population and t.applies(earlier):
            return t
    return None


def _se(low: float | None, high: float | None) -> float | None:
    return None if low is None or high is None else (high - low) / (2 * Z95)


def _sessions(cohort: pl.DataFrame) -> dict[tuple[str, str], list[tuple[str, dict]]]:
    """``(subject, task) → [(session, {measure: (value, se)})]`` in session order, videos of a session averaged."""
    from neuropose_assets.core.analysis.outcomes import CI_SUFFIXES, RECORDING_MEASURES
    from neuropose_assets.core.analysis.tasks import Visit

    meta = {"partition", "task", "declared", "subject", "session", "age_years", "sex", "population", "group"}
    measures = [
        c for c in cohort.columns if c not in meta and not c.endswith(CI_SUFFIXES) and c not in RECORDING_MEASURES
    ]
    grouped: dict[tuple[str, str], dict[str, list[dict]]] = {}
    for r in cohort.filter(pl.col("subject").is_not_null() & pl.col("session").is_not_null()).iter_rows(named=True):
        grouped.setdefault((r["subject"], r["task"]), {}).setdefault(r["session"], []).append(r)
    out = {}
    for key, by_session in grouped.items():
        order = sorted(by_session, key=lambda s: Visit(subject=key[0], session=s).session_order())
        rows = []
        for session in order:
            videos = by_session[session]
            values = {}
            for m in measures:
                vals = [v[m] for v in videos if v.get(m) is not None]
                if len(vals) != len(videos) or not vals:
                    continue  # a measure missing in one video of the session is not averaged over the others
                ses = [_se(v.get(m + "_ci_low"), v.get(m + "_ci_high")) for v in videos]
                se = None if any(s is None for s in ses) else math.sqrt(sum(s * s for s in ses)) / len(ses)
                values[m] = (sum(vals) / len(vals), se)
            rows.append((session, values))
        out[key] = rows
    return out


def _population(cohort: pl.DataFrame, subject: str) -> str | None:
    pops = cohort.filter(pl.col("subject") == subject)["population"].drop_nulls()
    return pops[0] if len(pops) else None


def subject_changes(cohort: pl.DataFrame) -> pl.DataFrame:
    """The ``subject_changes`` table of a cohort table (``cohort_outcomes``, with its ``subject``, ``session`` and
    ``population`` columns): per subject, task, outcome and pair of sessions (consecutive and against baseline) the
    change, its 95 % interval, the threshold that applies and the verdict (module docstring).  Empty (same columns)
    when no subject has two sessions."""
    from data_contracts import polars_schema
    from neuropose_assets.core.analysis.outcomes import definition
    from neuropose_assets.core.analysis.tasks import visit_problems

    problems = visit_problems(cohort)
    rows = []
    for (subject, task), sessions in _sessions(cohort).items():
        if any(p.startswith("mixed sessions") for p in problems.get(subject, ())):
            continue  # no order, no change (the cohort's visits_consistent check says so)
        conflict = next((p for p in problems.get(subject, ()) if p.startswith("population")), None)
        population = None if conflict else _population(cohort, subject)
        for i in range(1, len(sessions)):
            for kind, j in (("consecutive", i - 1), ("baseline", 0)):
                if kind == "baseline" and j == i - 1:
                    continue  # the second session's baseline comparison is its consecutive one
                (s_from, a), (s_to, b) = sessions[j], sessions[i]
                for measure in [m for m in b if m in a]:
                    (va, sea), (vb, seb) = a[measure], b[measure]
                    row = _row(subject, task, population, measure, kind, s_from, s_to, va, vb, sea, seb)
                    if conflict:
                        row["verdict_null_reason"] = f"the subject's {conflict}"
                    rows.append(row)
    schema = polars_schema("subject_changes")
    if not rows:
        return pl.DataFrame(schema=schema)
    for r in rows:
        try:
            r["unit"] = definition(r["measure"]).unit
        except KeyError:
            r["unit"] = ""
    # per subject, task and measure in session order (consecutive comparisons, then each against baseline)
    return pl.DataFrame(rows, schema=schema).sort("subject", "task", "measure", maintain_order=True)


def _row(subject, task, population, measure, kind, s_from, s_to, va, vb, sea, seb) -> dict:
    change = vb - va
    half = Z95 * math.sqrt(sea**2 + seb**2) if sea is not None and seb is not None else None
    low, high = (change - half, change + half) if half is not None else (None, None)
    resolved = None if half is None else (low > 0 or high < 0)
    t = threshold_for(measure, population, va)
    amount = t.amount(va) if t else None
    above = None if t is None else abs(change) > amount
    if t is None:
        verdict = None
        reason = (
            "no population declared for the subject (protocol.yaml subjects)"
            if population is None
            else f"no published threshold for {measure} in population {population!r}"
        )
    elif resolved is None:
        verdict, reason = None, "a session has no confidence interval: the change cannot be told from measurement error"
    else:
        reason = None
        verdict = (
            "exceeds"
            if above and resolved
            else "within"
            if not above and not resolved
            else f"above the {t.statistic} but not resolved by the sessions' intervals"
            if above
            else f"resolved by the sessions' intervals but below the {t.statistic}"
        )
    return {
        "subject": subject,
        "task": task,
        "measure": measure,
        "comparison": kind,
        "session_from": s_from,
        "session_to": s_to,
        "value_from": va,
        "value_to": vb,
        "change": change,
        "change_ci_low": low,
        "change_ci_high": high,
        "population": population,
        "threshold": amount,
        "threshold_statistic": t.statistic if t else None,
        "threshold_source": t.source if t else None,
        "verdict": verdict,
        "verdict_null_reason": reason,
    }
