"""Is it abnormal: each outcome against published normative values for the subject's age and sex, and against
clinical cut-offs.

* **Norms** (``neuropose_assets/data/norms.csv``): per outcome, sex and age band the published mean of healthy adults
  with its 95 % confidence interval and, where the source gives one, the value beyond which performance is *worse
  than average* (e.g. Bohannon 2006 for the 5×STS and the TUG).  A value is placed as ``worse than average``,
  ``better than average`` (beyond the other side of the interval) or ``within the average``, and as a percentage of
  the mean where a mean is published.  Without the subject's age (and sex, for sex-specific norms) or outside the
  published ages there is no comparison, with the reason.
* **Cut-offs** (``neuropose_assets/data/cutoffs.csv``): clinical thresholds with their meaning and source (e.g.
  fall risk), reported as flags; a cut-off applies to every subject whose population it was derived in (``any``:
  all).

Every row of the result names its source.  The norms describe healthy people measured with a stopwatch from "Go";
this pipeline times from movement onset (:mod:`.outcomes`), so its times are slightly shorter — a value near a
boundary deserves a look at the recording.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

import polars as pl


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("neuropose_assets.data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(line for line in text.splitlines() if line.strip() and not line.startswith("#")))


def _num(text: str) -> float | None:
    return float(text) if text else None


@dataclass(frozen=True)
class Norm:
    """A published normative value: ``measure`` of healthy ``sex`` (``any``) aged ``age_min``–``age_max`` years, its
    ``mean`` and 95 % interval ``low``–``high`` (in the measure's unit, any may be ``None``), the boundaries of worse
    than average performance (``worse_above`` for times, ``worse_below`` for speeds) and the ``source``."""

    measure: str
    sex: str
    age_min: float
    age_max: float
    mean: float | None
    low: float | None
    high: float | None
    worse_above: float | None
    worse_below: float | None
    source: str

    def applies(self, age: float, sex: str | None) -> bool:
        """Whether the norm applies to a subject of ``age`` years and ``sex``."""
        return self.age_min <= age < self.age_max + 1 and (self.sex == "any" or self.sex == sex)


@dataclass(frozen=True)
class Cutoff:
    """A clinical cut-off: ``measure`` ``op`` (``>=``, ``>``, ``<=``, ``<``) ``value`` means ``meaning`` in
    ``population`` (``any``: all), per ``source``."""

    measure: str
    op: str
    value: float
    meaning: str
    population: str
    source: str

    def met(self, value: float) -> bool:
        """Whether ``value`` meets the cut-off."""
        import operator

        return {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}[self.op](value, self.value)


@cache
def norms() -> tuple[Norm, ...]:
    """The norms of ``neuropose_assets/data/norms.csv``."""
    return tuple(
        Norm(
            r["measure"],
            r["sex"],
            float(r["age_min"]),
            float(r["age_max"]),
            _num(r["mean"]),
            _num(r["low"]),
            _num(r["high"]),
            _num(r["worse_above"]),
            _num(r["worse_below"]),
            r["source"],
        )
        for r in _rows("norms.csv")
    )


@cache
def cutoffs() -> tuple[Cutoff, ...]:
    """The clinical cut-offs of ``neuropose_assets/data/cutoffs.csv``."""
    return tuple(
        Cutoff(r["measure"], r["op"], float(r["value"]), r["meaning"], r["population"], r["source"])
        for r in _rows("cutoffs.csv")
    )


def position(value: float, norm: Norm) -> str:
    """Where ``value`` lies against ``norm``: ``worse than average``, ``better than average`` or ``within the
    average`` (module docstring)."""
    if norm.worse_above is not None:
        if value > norm.worse_above:
            return "worse than average"
        return "better than average" if norm.low is not None and value < norm.low else "within the average"
    if norm.worse_below is not None:
        if value < norm.worse_below:
            return "worse than average"
        return "better than average" if norm.high is not None and value > norm.high else "within the average"
    return "within the average"


def normative_comparison(cohort: pl.DataFrame) -> pl.DataFrame:
    """The ``normative_comparison`` table of a cohort table (``cohort_outcomes``: values and the subject's
    ``age_years``, ``sex``, ``population``): one row per video and outcome that has a norm or a cut-off — the norm's
    mean and interval, the value's position and % of the mean, or why there is no comparison; and per cut-off whether
    it is met."""
    from data_contracts import polars_schema

    measured = {n.measure for n in norms()} | {c.measure for c in cutoffs()}
    rows = []
    for r in cohort.iter_rows(named=True):
        for measure in sorted(m for m in measured if r.get(m) is not None):
            value, age, sex = r[measure], r.get("age_years"), r.get("sex")
            base = {"partition": r["partition"], "subject": r.get("subject"), "measure": measure, "value": value}
            candidates = [n for n in norms() if n.measure == measure]
            if candidates:
                norm = None if age is None else next((n for n in candidates if n.applies(age, sex)), None)
                if norm is not None:
                    rows.append(
                        {
                            **base,
                            "kind": "norm",
                            "reference": norm.mean,
                            "reference_low": norm.low,
                            "reference_high": norm.high,
                            "boundary": norm.worse_above if norm.worse_above is not None else norm.worse_below,
                            "pct_of_reference": 100 * value / norm.mean if norm.mean else None,
                            "result": position(value, norm),
                            "null_reason": None,
                            "source": norm.source,
                        }
                    )
                else:
                    ages = f"{min(n.age_min for n in candidates):g}–{max(n.age_max for n in candidates):g}"
                    why = (
                        "no age declared for the subject (protocol.yaml subjects: age_years)"
                        if age is None
                        else f"no published norm for age {age:g}"
                        + (f" and sex {sex}" if sex else "")
                        + f" (norms cover {ages} years"
                        + (", by sex: declare it" if sex is None and any(n.sex != "any" for n in candidates) else "")
                        + ")"
                    )
                    rows.append(
                        {**base, "kind": "norm", "result": None, "null_reason": why, "source": candidates[0].source}
                    )
            for c in (c for c in cutoffs() if c.measure == measure):
                if c.population not in ("any", r.get("population")):
                    continue
                rows.append(
                    {
                        **base,
                        "kind": "cutoff",
                        "boundary": c.value,
                        "result": (f"{c.op} {c.value:g}: {c.meaning}" if c.met(value) else f"not {c.op} {c.value:g}"),
                        "null_reason": None,
                        "source": c.source,
                    }
                )
    return (
        pl.DataFrame(rows, schema=polars_schema("normative_comparison"))
        if rows
        else pl.DataFrame(schema=polars_schema("normative_comparison"))
    )
