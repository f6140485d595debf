"""Adding seed pairs until the verdict is decided, without losing the error rate.

Looking at the gain after every pair and stopping once it is decided would, with a fixed
95% interval at each look, claim differences that are not there far more often than 5% of
the time. A group-sequential design keeps the rate: the comparison looks after each pair
from ``least`` to ``most`` pairs, and the interval at look k is a *repeated confidence
interval* (Jennison & Turnbull 2000, ch. 2 and 9). The boundaries are Haybittle-Peto's
(Haybittle 1971; Peto et al. 1976): every look before the last is at z = 3 (99.73%; higher
where the looks together could otherwise spend over half the error), so
only an overwhelming difference stops early, and the last look takes the error left over,
which leaves it within a hair of the fixed design's level (95.08% for 3 to 6 pairs). With
3 to 6 seeds the seed noise is estimated from 2 to 5 degrees of freedom, so the early looks
decide only large differences under any boundaries; O'Brien-Fleming-type spending, which
lowers the middle looks' levels, lost up to 17 points of power at the last look and saved
almost no pairs there (bench/README.md, section 12). The last look's boundary is computed
on the canonical joint distribution of the looks' z statistics (independent increments,
Jennison & Turnbull ch. 3), by a seeded simulation, once per design.

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
INTERIM_Z = 3.0  # Haybittle-Peto: every look before the last (stricter where needed)


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
        interim = self.most - self.least
        bound = interim_z(self.level, interim) if pairs < self.most else \
            _last_boundary(interim, self.most, round(self.level, 12))
        return float(2 * stats.norm.cdf(bound) - 1)


def interim_z(level: float, interim: int) -> float:
    """The z boundary of the ``interim`` looks before the last: Haybittle-Peto's 3, or one
    strict enough that together they spend at most half the error (Bonferroni), so that the
    last look keeps the rest (a 99.9% comparison, or one of many looks)."""
    per_look = (1.0 - level) / 2 / max(interim, 1)  # two-sided error of one look
    return max(INTERIM_Z, float(stats.norm.ppf(1 - per_look / 2)))


@functools.lru_cache(maxsize=32)
def _last_boundary(interim: int, most: int, level: float) -> float:
    """The last look's two-sided z boundary: with ``interim`` looks before it at
    `interim_z`, the null paths that cross it (and none before) make up the error left."""
    rng = np.random.default_rng(20_250_101)
    looks = np.arange(most - interim, most + 1)
    walks = np.cumsum(rng.standard_normal((PATHS, most)), axis=1)[:, looks - 1]
    z = np.abs(walks / np.sqrt(looks))  # one unit of information per pair
    alive = ~(z[:, :-1] > interim_z(level, interim)).any(axis=1)
    left = (1.0 - level) - (1.0 - alive.mean())  # the error the last look may spend
    candidates = np.sort(z[alive, -1])[::-1]
    return float(candidates[min(round(left * PATHS), len(candidates) - 1)])


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
