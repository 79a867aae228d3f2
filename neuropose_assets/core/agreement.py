"""Agreement of detected events with a reference (hand annotation, motion capture, force plates).

Used by ``benchmarks/validate_outcomes.py`` on the development clips and by the tests; useful for any validation
study: one-to-one matching of event times, then count and timing errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
        return float(1000 * np.median(np.abs(self.errors_s))) if self.errors_s else None

    @property
    def max_abs_ms(self) -> float | None:
        return float(1000 * np.max(np.abs(self.errors_s))) if self.errors_s else None

    @property
    def mean_ms(self) -> float | None:
        """Signed mean error (bias), ms: negative = detected early."""
        return float(1000 * np.mean(self.errors_s)) if self.errors_s else None


def match_events(detected: list[float] | np.ndarray, reference: list[float] | np.ndarray,
                 tolerance_s: float = 0.5) -> Agreement:  # fmt: skip
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
