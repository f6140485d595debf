"""The statistics behind the verdict: the paired LSTM - GRU gain and cost-ratio intervals.

The gain is paired twice: by seed (both cells trained with the same seeds on the same splits)
and by test example (both scored on the same sequences). Its interval adds the two sources of
noise a user's next run would meet: another set of seeds (the spread of the per-seed gains)
and another test sample (the spread of the per-example gains, as in McNemar's test for
classification). Zero spread between seeds therefore never means certainty while the cells
disagree on any example. Calibrated by the A/A runs of `bench/decision.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

SCORES = ("accuracy", "rmse", "mase")


@dataclass(frozen=True)
class Gain:
    """Mean LSTM - GRU gain (positive: LSTM better), its interval, and where its noise is."""

    mean: float
    low: float
    high: float
    p_value: float
    pairs: int  # seeds
    examples: int
    seed_sd: float  # standard error of the mean gain from the spread between seeds
    example_sd: float  # standard error of the mean gain from the spread between test examples


def paired_gain(lstm: np.ndarray, gru: np.ndarray, *, score: str, level: float,
                block: int = 1) -> Gain:
    """``lstm`` and ``gru``: per-example outcomes, shape (seeds, examples), seed i of one
    paired with seed i of the other, of the score named ``score``
    (`selector.training.fitting.outcomes`): 1/0 (right/wrong) for accuracy, squared errors
    for RMSE, each window's share of the MASE for MASE.

    The per-example influence of each cell's score is the outcome itself for accuracy and
    MASE (their means), and e / (2 RMSE) for RMSE (its linearisation); the gain is signed so
    that positive favours LSTM (lower is better for RMSE and MASE). The two standard errors
    are the between-seed spread of the per-seed gains over k seeds, and the between-example
    spread of the seed-averaged influence differences over n examples less the seed x example
    interaction, which the first already holds. In a two-way random-effects table the mean's
    variance is s2_seed/k + s2_example/n + s2_both/(kn); the per-seed gains' variance / k
    estimates s2_seed/k + s2_both/(kn), the per-example means' variance / n estimates
    s2_example/n + s2_both/(kn), so the interaction's mean square / (kn) is taken off the
    second once (floored at zero). The interval's half-width adds each one's own t
    half-width (k - 1 and n - 1 degrees of freedom) in quadrature. With k = 3 the
    seed variance is estimated from 2 degrees of freedom: pooling the two (Welch-Satterthwaite)
    was measured 5.5% false wins at 95% in A/A runs, this way stays under 5% (`bench/decision.py`).
    Examples that are not independent
    (overlapping windows of one series, in time order) are averaged over stretches of
    ``block``, so that their variance is not understated: every stretch for the example part
    (overlapping batch means, 1.5 (b - 1) degrees of freedom for b = n // block whole
    batches), consecutive non-overlapping batches for the interaction. With 4 batches, as a
    sine's half test split has, that is 4.5 degrees of freedom instead of 3: on the bench's
    pools the sequential design's power rose from 65% to 82% with 4.1% A/A false wins.
    """
    if score not in SCORES:
        raise ValueError(f"score must be one of {', '.join(SCORES)}; got {score!r}")
    if lstm.shape != gru.shape or lstm.ndim != 2 or lstm.shape[0] < 2 or lstm.shape[1] < 2:
        raise ValueError(f"paired outcomes must be two equal (seeds >= 2, examples >= 2) arrays; "
                         f"got {lstm.shape} and {gru.shape}")
    seeds, examples = lstm.shape
    if score == "rmse":
        rmse_l, rmse_g = np.sqrt(lstm.mean(axis=1)), np.sqrt(gru.mean(axis=1))
        per_seed = rmse_g - rmse_l
        influence = (gru / (2 * np.maximum(rmse_g, 1e-300))[:, None]
                     - lstm / (2 * np.maximum(rmse_l, 1e-300))[:, None])
    else:
        better = 1.0 if score == "accuracy" else -1.0
        per_seed = better * (lstm.mean(axis=1) - gru.mean(axis=1))
        influence = better * (lstm - gru)
    mean = float(per_seed.mean())
    seed_var = float(per_seed.var(ddof=1)) / seeds
    if block > 1 and examples // block >= 2:
        blocks = examples // block
        mean_var = _overlapping_batch_means(influence.mean(axis=0), block)
        example_df = 1.5 * (blocks - 1)
        influence = influence[:, :blocks * block].reshape(seeds, blocks, block).mean(axis=2)
    else:
        blocks = examples
        mean_var = float(influence.mean(axis=0).var(ddof=1)) / blocks
        example_df = blocks - 1
    example_var = max(mean_var - _interaction(influence) / (seeds * blocks), 0.0)
    total = seed_var + example_var
    if total <= 0.0:  # identical outcomes on every example and seed
        p = 1.0 if mean == 0.0 else 0.0
        return Gain(mean, mean, mean, p, seeds, examples, 0.0, 0.0)
    quantile = 0.5 + level / 2
    half = math.hypot(float(stats.t.ppf(quantile, seeds - 1)) * math.sqrt(seed_var),
                      float(stats.t.ppf(quantile, example_df)) * math.sqrt(example_var))
    p = _p_value(mean, seed_var, example_var, seeds - 1, example_df)
    return Gain(mean, mean - half, mean + half, p, seeds, examples, math.sqrt(seed_var),
                math.sqrt(example_var))


def _interaction(influence: np.ndarray) -> float:
    """The seed x example interaction's mean square in a (seeds, examples) table: what is left
    of each entry after its row's and its column's means."""
    residual = (influence - influence.mean(axis=1, keepdims=True)
                - influence.mean(axis=0, keepdims=True) + influence.mean())
    return float((residual ** 2).sum()) / ((residual.shape[0] - 1) * (residual.shape[1] - 1))


def _overlapping_batch_means(series: np.ndarray, size: int) -> float:
    """The variance of a dependent series' mean from the means of all its ``size``-long
    stretches (overlapping batch means, Meketon & Schmeiser 1984): as unbiased as
    non-overlapping batches of that size, with 2/3 of their variance, so about 1.5 times their
    degrees of freedom."""
    n = len(series)
    stretches = np.convolve(series, np.ones(size) / size, mode="valid")
    return size * float(((stretches - series.mean()) ** 2).sum()) / ((n - size + 1) * (n - size))


def _p_value(mean: float, a: float, b: float, df_a: float, df_b: float) -> float:
    """The smallest 1 - level whose quadrature interval (see `paired_gain`) excludes zero."""
    if mean == 0.0:
        return 1.0

    def excludes(alpha: float) -> float:
        q = 1 - alpha / 2
        half = math.hypot(float(stats.t.ppf(q, df_a)) * math.sqrt(a),
                          float(stats.t.ppf(q, df_b)) * math.sqrt(b))
        return abs(mean) - half

    if excludes(1.0 - 1e-12) <= 0:
        return 1.0
    if excludes(1e-300) > 0:
        return 0.0
    # excludes() grows with alpha: its root, on the log scale
    return math.exp(optimize.brentq(lambda log_alpha: excludes(math.exp(log_alpha)),
                                    math.log(1e-300), math.log(1.0 - 1e-12), xtol=1e-6))


def corrected_resampled(gains: list[float], test_train_ratio: float, level: float,
                        examples: int = 0) -> Gain:
    """Nadeau and Bengio's corrected resampled t-test over the per-fold gains of repeated
    k-fold cross-validation: the variance of the mean is (1/n + n_test/n_train) s^2, not
    s^2/n, since the folds' training sets overlap; t with n - 1 degrees of freedom."""
    n = len(gains)
    if n < 2:
        raise ValueError(f"the corrected resampled t-test needs at least 2 folds; got {n}")
    mean, var = float(np.mean(gains)), float(np.var(gains, ddof=1))
    sd = math.sqrt((1 / n + test_train_ratio) * var)
    if sd == 0.0:
        return Gain(mean, mean, mean, 1.0 if mean == 0.0 else 0.0, n, examples, 0.0, 0.0)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd
    p = float(2 * stats.t.sf(abs(mean) / sd, n - 1))
    return Gain(mean, mean - half, mean + half, p, n, examples, sd, 0.0)


def seed_t_interval(gains: list[float], level: float) -> tuple[float, float, float] | None:
    """Mean of per-seed gains and its t interval: seed noise only (the method before per-example
    pairing, kept for `bench/decision.py`'s before/after table). None below 2 seeds."""
    if len(gains) < 2:
        return None
    mean, sd = float(np.mean(gains)), float(np.std(gains, ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, len(gains) - 1)) * sd / math.sqrt(len(gains))
    return mean, mean - half, mean + half


def log_ratio_interval(numerator: list[float], denominator: list[float],
                       level: float) -> tuple[float, float, float] | None:
    """Ratio of geometric means of two independent samples (e.g. each cell's time to converge
    over its seeds) with a Welch t interval on the log scale. None when either has < 2 values
    or a value <= 0."""
    if min(len(numerator), len(denominator)) < 2 or min(*numerator, *denominator) <= 0:
        return None
    a, b = np.log(numerator), np.log(denominator)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff = float(a.mean() - b.mean())
    if va + vb == 0.0:
        return math.exp(diff), math.exp(diff), math.exp(diff)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + level / 2, df)) * math.sqrt(va + vb)
    return math.exp(diff), math.exp(diff - half), math.exp(diff + half)
