"""Adding seed pairs until the verdict is decided, without losing the error rate.

Looking at the gain after every pair and stopping once it is decided would, with a fixed
95% interval at each look, claim differences that are not there far more often than 5% of
the time. A group-sequential design keeps the rate: the comparison looks after each pair
from ``least`` to ``most`` pairs, and the interval at look k is a *repeated confidence
interval* (Jennison & Turnbull 2000, ch. 9) whose level comes from an error-spending
function (Lan & DeMets 1983): the O'Brien-Fleming-type spending 2 - 2 Phi(z / sqrt(t)) of
the information fraction t = k / most. It spends almost nothing at the early looks (a
stop there needs an overwhelming difference) and leaves the last look's level close to
the fixed design's, so running to ``most`` pairs costs little power. The two-sided
boundaries are computed on the canonical joint distribution of the looks' z statistics
(independent increments, Jennison & Turnbull ch. 3), by a seeded simulation, once per design.

Whatever rule stops the comparison, the interval at the look where it stopped covers the
true gain with at least the design's level: the verdict stops as soon as that interval
answers its question ("is LSTM worth more than the minimum gain?": its lower end above
the minimum gain; "is LSTM's gain credibly below the minimum gain?": its upper end below).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import stats

from selector.errors import ParameterError
from selector.records import Recommendation

FINAL = ("over-budget", "untested", "only-one-fits", "not-learned")  # no pair changes these
PATHS = 200_000  # simulated paths per design: boundary levels to about 1e-4


@dataclass(frozen=True)
class Design:
    """Looks after each pair from ``least`` to ``most``; ``level``: the overall confidence."""

    least: int
    most: int
    level: float

    def __post_init__(self) -> None:
        if not 2 <= self.least <= self.most:
            raise ParameterError("max_seeds", f"must be at least the minimum seeds "
                                 f"({self.least}, itself at least 2)", self.most)
        if not 0.0 < self.level < 1.0:
            raise ParameterError("confidence_level", "must be between 0 and 1", self.level)

    def level_at(self, pairs: int) -> float:
        """The confidence level of the repeated interval after ``pairs`` pairs (a fixed
        design's ``level`` when ``least == most``)."""
        if self.least == self.most:
            return self.level
        if not self.least <= pairs <= self.most:
            raise ValueError(f"look after {pairs} pairs is outside the design's "
                             f"{self.least}..{self.most}")
        bounds = _boundaries(self.least, self.most, round(self.level, 12))
        return float(2 * stats.norm.cdf(bounds[pairs - self.least]) - 1)


def spent(t: float, level: float) -> float:
    """The O'Brien-Fleming-type error spent by information fraction ``t`` (Lan-DeMets)."""
    z = float(stats.norm.ppf(0.5 + level / 2))
    return float(2 - 2 * stats.norm.cdf(z / np.sqrt(t)))


@functools.lru_cache(maxsize=32)
def _boundaries(least: int, most: int, level: float) -> tuple[float, ...]:
    """Two-sided z boundaries of the looks ``least..most``: at each, the paths not stopped
    before and crossing it there make up the error the spending function adds there."""
    rng = np.random.default_rng(20_250_101)
    looks = np.arange(least, most + 1)
    increments = rng.standard_normal((PATHS, most))  # one unit of information per pair
    walks = np.cumsum(increments, axis=1)[:, looks - 1]
    z = np.abs(walks / np.sqrt(looks))
    alive = np.ones(PATHS, dtype=bool)
    bounds, before = [], 0.0
    for i, k in enumerate(looks):
        target = spent(k / most, level) - before  # this look's share of the error
        candidates = np.sort(z[alive, i])[::-1]
        count = round(target * PATHS)
        bound = float(candidates[count]) if count < len(candidates) else 0.0  # count cross
        bounds.append(bound)
        crossed = alive & (z[:, i] > bound)
        before += crossed.sum() / PATHS
        alive &= ~crossed
    return tuple(bounds)


def decided(low: float, high: float, min_gain: float) -> bool:
    """Whether an interval for LSTM's gain answers the verdict's question: worth more than
    the minimum gain (``low`` above it), or credibly below it (``high`` below it)."""
    return low > min_gain or high < min_gain


def settled(rec: Recommendation) -> bool:
    """Whether another seed pair could not change the recommendation: its interval has
    decided, or a rule no pair can change did (a hard budget, a cell never trained, neither
    cell learning)."""
    if rec.reason in FINAL:
        return True
    c = rec.comparison
    return c.ci_low is not None and c.ci_high is not None and decided(c.ci_low, c.ci_high,
                                                                      c.min_gain)
