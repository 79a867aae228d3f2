"""Agreement of detected events and outcomes with a reference (hand annotation, motion capture, force plates) —
the numbers a methods section reports.

* **events** (:func:`event_agreement`): detected and reference times of one event type and side are matched
  one-to-one, closest pairs first, within a tolerance (:func:`match_events`); per type: counts (matched, missed,
  extra), median / max |error| (ms) and the Bland–Altman bias and 95 % limits of agreement of the timing error
  (mean ± 1.96 SD; Bland & Altman, Lancet 1986).
* **outcomes** (:func:`outcome_agreement`): the same measure from two sources of one session (e.g. video and
  markers), difference and percent difference.
* **across sessions** (:func:`outcome_icc`): for several session pairs, the intraclass correlation ICC(A,1)
  (two-way random effects, absolute agreement, single measurement: Shrout & Fleiss 1979 ICC(2,1); McGraw & Wong
  1996) with its 95 % CI, computed by ``pingouin.intraclass_corr`` (Vallat, JOSS 2018), and the Bland–Altman bias
  and limits — null with the reason when there are too few pairs.

Used by ``neuropose-assets agreement``, ``benchmarks/validate_outcomes.py`` and ``benchmarks/validate_mocap.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl


@dataclass
class Agreement:
    """Matched pairs of one event type: ``errors_s`` detected − reference (s) per matched reference event,
    ``missed`` reference events without a detection within the tolerance, ``extra`` detections without a reference
    event."""

    errors_s: list[float] = field(default_factory=list)
    missed: int = 0
    extra: int = 0

    def __add__(self, other: Agreement) -> Agreement:
        return Agreement(self.errors_s + other.errors_s, self.missed + other.missed, self.extra + other.extra)

    @property
    def median_abs_ms(self) -> float | None:
        """Median absolute timing error of the matched pairs, ms; ``None`` without a matched pair."""
        return float(1000 * np.median(np.abs(self.errors_s))) if self.errors_s else None

    @property
    def max_abs_ms(self) -> float | None:
        """Largest absolute timing error of the matched pairs, ms; ``None`` without a matched pair."""
        return float(1000 * np.max(np.abs(self.errors_s))) if self.errors_s else None

    @property
    def mean_ms(self) -> float | None:
        """Signed mean error (bias), ms: negative = detected early."""
        return float(1000 * np.mean(self.errors_s)) if self.errors_s else None


def match_events(
    detected: list[float] | np.ndarray, reference: list[float] | np.ndarray, tolerance_s: float = 0.5
) -> Agreement:
    """Match detected to reference event times one-to-one, closest pairs first, pairs further apart than
    ``tolerance_s`` left unmatched.

    Args:
        detected, reference: event times, s (any order).
    """
    d = np.asarray(detected, dtype=float)
    r = np.asarray(reference, dtype=float)
    pairs = sorted(((abs(x - y), i, j) for i, x in enumerate(d) for j, y in enumerate(r)), key=lambda p: p[0])
    used_d, used_r, errors = set(), set(), {}
    for gap, i, j in pairs:
        if gap > tolerance_s:
            break
        if i in used_d or j in used_r:
            continue
        used_d.add(i)
        used_r.add(j)
        errors[j] = float(d[i] - r[j])
    return Agreement([errors[j] for j in sorted(errors)], len(r) - len(used_r), len(d) - len(used_d))


#: z of the 95 % limits of agreement (Bland & Altman 1986)
LOA_Z = 1.96
#: fewest session pairs for an ICC (fewer: null with the reason)
MIN_ICC_PAIRS = 3
#: outcomes compared by default (:mod:`..analysis.outcomes` names)
DEFAULT_MEASURES = (
    "cadence_steps_min",
    "stride_time_s",
    "left_stride_time_s",
    "right_stride_time_s",
    "step_time_s",
    "left_stance_pct",
    "right_stance_pct",
    "double_support_pct",
    "gait_speed_m_s",
    "five_sts_time_s",
    "tug_time_s",
)

EVENT_AGREEMENT_SCHEMA = {
    "reference": pl.Utf8,
    "event": pl.Utf8,
    "side": pl.Utf8,
    "n_reference": pl.Int64,
    "n_detected": pl.Int64,
    "matched": pl.Int64,
    "missed": pl.Int64,
    "extra": pl.Int64,
    "median_abs_ms": pl.Float64,
    "max_abs_ms": pl.Float64,
    "bias_ms": pl.Float64,
    "loa_low_ms": pl.Float64,
    "loa_high_ms": pl.Float64,
}


def _bland_altman(d: np.ndarray) -> tuple[float | None, float | None, float | None]:
    """Bias and 95 % limits of agreement of differences ``d``; limits need ≥ 2 differences."""
    if len(d) == 0:
        return None, None, None
    bias = float(np.mean(d))
    if len(d) < 2:
        return bias, None, None
    sd = float(np.std(d, ddof=1))
    return bias, bias - LOA_Z * sd, bias + LOA_Z * sd


#: a foot contact (heel strike → toe-off of the same side) outside this range, s, is not a walking stance phase: the
#: reference lost a contact, merged two, or assigned a side wrongly (the stride-time bounds of Mobilise-D, 0.2–3.0 s,
#: bound the stance from above; a stance is at least the shortest double-support-free step)
STANCE_RANGE_S = (0.2, 2.0)


def reference_problems(reference: pl.DataFrame) -> list[str]:
    """Why a reference (``event``, ``side``, ``time_s``, ``source``: a ``reference_events`` table) may itself be
    wrong, per source: heel strikes or toe-offs without a side, a side with no heel strike while the other has
    several, contacts (heel strike → the next toe-off of that side) of implausible duration (:data:`STANCE_RANGE_S`).
    Empty when nothing is suspicious.  An agreement against an inconsistent reference measures the reference."""
    out = []
    for (source,), ref in reference.group_by("source", maintain_order=True):
        hs = ref.filter(pl.col("event") == "heel_strike")
        unsided = ref.filter(pl.col("side").is_null() & pl.col("event").is_in(["heel_strike", "toe_off"])).height
        if unsided:
            out.append(f"{source}: {unsided} contact event(s) without a side (no foot near the centre of pressure)")
        counts = {s: hs.filter(pl.col("side") == s).height for s in ("left", "right")}
        for side, other in (("left", "right"), ("right", "left")):
            if counts[side] == 0 and counts[other] >= 2:
                out.append(f"{source}: no {side} heel strike while the {other} foot has {counts[other]}")
        bad = []
        lo, hi = STANCE_RANGE_S
        for side in ("left", "right"):
            strikes = np.sort(hs.filter(pl.col("side") == side)["time_s"].to_numpy())
            offs = np.sort(ref.filter((pl.col("event") == "toe_off") & (pl.col("side") == side))["time_s"].to_numpy())
            for t in strikes:
                later = offs[offs > t]
                if len(later) and not lo <= later[0] - t <= hi:
                    bad.append(f"{side} {later[0] - t:.2f} s at {t:.2f} s")
        if bad:
            out.append(
                f"{source}: {len(bad)} contact(s) of implausible duration (stance outside {lo:g}–{hi:g} s): "
                + ", ".join(bad[:5])
                + (" …" if len(bad) > 5 else "")
            )
    return out


def event_agreement(
    detected: pl.DataFrame, reference: pl.DataFrame, *, tolerance_s: float = 0.25, offset_s: float = 0.0
) -> pl.DataFrame:
    """Per reference source, event type and side: counts and timing errors of ``detected`` against ``reference``.

    Args:
        detected: ``event``, ``side``, ``time_s`` (an ``events`` table).
        reference: ``event``, ``side``, ``time_s`` and ``source`` (a ``reference_events`` table, or another
            partition's ``events`` with a ``source`` column added).
        tolerance_s: a detection further than this from every reference event is extra (and the event missed), s.
        offset_s: added to the reference times (synchronisation of two recordings), s.
    Returns:
        :data:`EVENT_AGREEMENT_SCHEMA`: errors = detected − reference in ms (negative: detected early); one row per
        (source, event, side) that the reference has, plus ``side = "both"`` per (source, event).
    """
    rows = []
    for (source, event), ref in reference.group_by("source", "event", maintain_order=True):
        per_side = []
        for side in ref["side"].unique(maintain_order=True).to_list():
            r = ref.filter(pl.col("side").is_null() if side is None else pl.col("side") == side)
            d = detected.filter(
                (pl.col("event") == event) & (pl.col("side").is_null() if side is None else pl.col("side") == side)
            )
            a = match_events(d["time_s"].to_list(), [t + offset_s for t in r["time_s"].to_list()], tolerance_s)
            per_side.append(a)
            rows.append(_agreement_row(source, event, side, r.height, d.height, a))
        if len(per_side) > 1:
            total = sum(per_side[1:], per_side[0])
            n_det = detected.filter(pl.col("event") == event).height
            rows.append(_agreement_row(source, event, "both", ref.height, n_det, total))
    return pl.DataFrame(rows, schema=EVENT_AGREEMENT_SCHEMA)


def _agreement_row(source, event, side, n_ref: int, n_det: int, a: Agreement) -> dict:
    bias, low, high = _bland_altman(1000.0 * np.asarray(a.errors_s))
    return {
        "reference": source,
        "event": event,
        "side": side,
        "n_reference": n_ref,
        "n_detected": n_det,
        "matched": len(a.errors_s),
        "missed": a.missed,
        "extra": a.extra,
        "median_abs_ms": a.median_abs_ms,
        "max_abs_ms": a.max_abs_ms,
        "bias_ms": bias,
        "loa_low_ms": low,
        "loa_high_ms": high,
    }


def outcome_agreement(a: pl.DataFrame, b: pl.DataFrame, measures: tuple[str, ...] = DEFAULT_MEASURES) -> pl.DataFrame:
    """The same outcomes of two ``outcomes`` tables (``a`` = the method under test, ``b`` = the reference): ``measure``,
    ``unit``, ``value_a``, ``value_b``, ``difference`` (a − b), ``percent`` (of b); a measure missing or null on
    either side keeps its row with null differences and the reason."""
    rows = []
    for m in measures:
        ra, rb = a.filter(pl.col("measure") == m), b.filter(pl.col("measure") == m)
        if ra.height == 0 and rb.height == 0:
            continue
        va = ra["value"][0] if ra.height else None
        vb = rb["value"][0] if rb.height else None
        unit = ra["unit"][0] if ra.height else rb["unit"][0]
        reason = None
        if va is None or vb is None:
            reason = "; ".join(
                f"{who}: {(r['null_reason'][0] if r.height else 'not computed for this task')}"
                for who, r, v in (("a", ra, va), ("b", rb, vb))
                if v is None
            )
        diff = va - vb if reason is None else None
        pct = 100.0 * diff / vb if diff is not None and vb else None
        rows.append(
            {
                "measure": m,
                "unit": unit,
                "value_a": va,
                "value_b": vb,
                "difference": diff,
                "percent": pct,
                "null_reason": reason,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "measure": pl.Utf8,
            "unit": pl.Utf8,
            "value_a": pl.Float64,
            "value_b": pl.Float64,
            "difference": pl.Float64,
            "percent": pl.Float64,
            "null_reason": pl.Utf8,
        },
    )


def outcome_icc(pairs: pl.DataFrame) -> pl.DataFrame:
    """Agreement across sessions from the rows of several :func:`outcome_agreement` tables with a ``pair`` column:
    per measure ``n_pairs``, ``icc`` (ICC(A,1), pingouin's ``ICC(A,1)``), ``icc_ci_low`` / ``icc_ci_high`` (95 %),
    ``bias`` and ``loa_low`` / ``loa_high`` (Bland–Altman, in the measure's unit) — null with ``null_reason`` when
    fewer than :data:`MIN_ICC_PAIRS` pairs have both values, or the values do not vary between sessions."""
    import pingouin

    rows = []
    for (measure,), g in pairs.group_by("measure", maintain_order=True):
        g = g.drop_nulls(["value_a", "value_b"])
        n = g.height
        row = {
            "measure": measure,
            "unit": g["unit"][0] if n else None,
            "n_pairs": n,
            "icc": None,
            "icc_ci_low": None,
            "icc_ci_high": None,
            "bias": None,
            "loa_low": None,
            "loa_high": None,
            "null_reason": None,
        }
        if n:
            row["bias"], row["loa_low"], row["loa_high"] = _bland_altman(g["difference"].to_numpy())
        if n < MIN_ICC_PAIRS:
            row["null_reason"] = f"{n} session pair(s) with both values; an ICC needs at least {MIN_ICC_PAIRS}"
        else:
            long = pl.concat(
                [
                    g.select(pl.col("pair"), pl.lit("a").alias("method"), pl.col("value_a").alias("value")),
                    g.select(pl.col("pair"), pl.lit("b").alias("method"), pl.col("value_b").alias("value")),
                ]
            )
            if long["value"].std() == 0:
                row["null_reason"] = "the values do not vary between sessions"
            else:
                res = pingouin.intraclass_corr(long.to_pandas(), targets="pair", raters="method", ratings="value")
                table = res.set_index("Type")
                icc = table.loc["ICC(A,1)" if "ICC(A,1)" in table.index else "ICC2"]  # pingouin ≥ 0.6 / older names
                row["icc"] = float(icc["ICC"])
                row["icc_ci_low"], row["icc_ci_high"] = (float(v) for v in icc["CI95" if "CI95" in icc else "CI95%"])
        rows.append(row)
    return pl.DataFrame(
        rows,
        schema={
            "measure": pl.Utf8,
            "unit": pl.Utf8,
            "n_pairs": pl.Int64,
            "icc": pl.Float64,
            "icc_ci_low": pl.Float64,
            "icc_ci_high": pl.Float64,
            "bias": pl.Float64,
            "loa_low": pl.Float64,
            "loa_high": pl.Float64,
            "null_reason": pl.Utf8,
        },
    )
