"""The paired LSTM - GRU interval: seed noise and test-sample noise, calibrated on A/A draws."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from selector.decision.stats import log_ratio_interval, paired_gain, seed_t_interval


def test_identical_seed_scores_still_leave_test_sample_noise() -> None:
    # Each cell is right on the same 900 of 1000 examples for every seed, but not the same ones.
    gru = np.zeros((3, 1000))
    lstm = np.zeros((3, 1000))
    gru[:, :900] = 1
    lstm[:, 50:950] = 1
    gain = paired_gain(lstm, gru, score="accuracy", level=0.95)
    assert gain.mean == 0.0 and gain.seed_sd == 0.0
    assert gain.example_sd > 0 and gain.low < 0 < gain.high and gain.p_value == pytest.approx(1.0)
    old = seed_t_interval([0.0, 0.0, 0.0], 0.95)  # the seed-only interval: zero width
    assert old is not None and old[1] == old[2] == 0.0


def test_rmse_gain_is_positive_when_lstm_errs_less() -> None:
    rng = np.random.default_rng(0)
    gru = rng.exponential(1.0, (3, 500))
    lstm = gru * 0.5
    gain = paired_gain(lstm, gru, score="rmse", level=0.95)
    expected = np.mean(np.sqrt(gru.mean(axis=1)) - np.sqrt(lstm.mean(axis=1)))
    assert gain.mean == pytest.approx(expected) and gain.low > 0


@pytest.mark.parametrize("score", ["accuracy", "rmse", "mase"])
def test_a_and_a_false_win_rate_stays_at_the_nominal_level(score: str) -> None:
    """Both sides drawn alike: per-example difficulty shared, seed effects and per-example
    noise independent. At 95%, no more than about 5% of the intervals may exclude zero."""
    rng = np.random.default_rng(1)
    wins, repeats, n, k = 0, 600, 300, 3
    for _ in range(repeats):
        difficulty = rng.uniform(0.3, 1.0, n)  # a new test sample each time

        def side(difficulty: np.ndarray = difficulty) -> np.ndarray:
            seed_effect = rng.normal(0, 0.03, (k, 1))
            p = np.clip(difficulty + seed_effect, 0, 1)
            if score == "accuracy":
                return (rng.random((k, n)) < p).astype(float)
            error = 1 - p + rng.normal(0, 0.1, (k, n))
            return error ** 2 if score == "rmse" else np.abs(error)

        gain = paired_gain(side(), side(), score=score, level=0.95)
        wins += gain.low > 0 or gain.high < 0
    assert wins / repeats <= 0.07


def test_the_seed_by_example_interaction_is_counted_once() -> None:
    """Each seed errs on its own examples (no example is harder than another): the spread
    between seeds already holds that noise, so the example part adds none of it again."""
    rng = np.random.default_rng(4)
    k, n = 4, 2000
    lstm = (rng.random((k, n)) < 0.8).astype(float)
    gru = (rng.random((k, n)) < 0.8).astype(float)
    gain = paired_gain(lstm, gru, score="accuracy", level=0.95)
    per_seed = lstm.mean(axis=1) - gru.mean(axis=1)
    assert gain.seed_sd == pytest.approx(per_seed.std(ddof=1) / np.sqrt(k))
    # counted twice, the example part would be about sqrt(2 x 0.16 / (k n)) = 0.0063
    assert gain.example_sd < 0.003


def test_dependent_windows_count_every_stretch_of_a_block() -> None:
    """Windows of one series in time order, 4 whole blocks of 10: the example part is the
    variance of the mean from every 10-window stretch (overlapping batch means), with
    1.5 x (4 - 1) = 4.5 degrees of freedom. Non-overlapping batches alone gave 3, and a
    wider interval, from the same windows."""
    gain_by_window = np.sin(np.arange(40) / 3.0)  # a smooth, dependent difference
    gru = np.tile(1.5 + gain_by_window, (3, 1))  # MASE shares; the same on every seed
    lstm = np.ones((3, 40))
    gain = paired_gain(lstm, gru, score="mase", level=0.95, block=10)
    stretches = np.array([gain_by_window[i:i + 10].mean() for i in range(31)])
    by_hand = 10 * ((stretches - gain_by_window.mean()) ** 2).sum() / (31 * 30)
    assert gain.seed_sd == 0.0 and gain.example_sd == pytest.approx(np.sqrt(by_hand))
    half = stats.t.ppf(0.975, 4.5) * np.sqrt(by_hand)
    assert (gain.low, gain.high) == pytest.approx((gain.mean - half, gain.mean + half))


def test_a_real_gap_is_detected() -> None:
    rng = np.random.default_rng(2)
    difficulty = rng.uniform(0.3, 1.0, 400)
    gru = (rng.random((3, 400)) < difficulty).astype(float)
    lstm = (rng.random((3, 400)) < np.clip(difficulty + 0.1, 0, 1)).astype(float)
    assert paired_gain(lstm, gru, score="accuracy", level=0.95).low > 0


def test_paired_gain_needs_two_seeds_and_equal_shapes() -> None:
    with pytest.raises(ValueError, match="seeds >= 2"):
        paired_gain(np.ones((1, 5)), np.ones((1, 5)), score="accuracy", level=0.95)


def test_log_ratio_interval_is_credible_only_beyond_the_spread() -> None:
    sure = log_ratio_interval([2.0, 2.1, 1.9], [1.0, 1.05, 0.95], 0.95)
    assert sure is not None and sure[1] > 1
    noisy = log_ratio_interval([2.0, 0.5, 1.2], [1.0, 1.5, 0.9], 0.95)
    assert noisy is not None and noisy[1] < 1 < noisy[2]
    assert log_ratio_interval([1.0], [1.0, 2.0], 0.95) is None


def test_the_p_value_agrees_with_the_interval() -> None:
    rng = np.random.default_rng(3)
    for shift in (0.0, 0.02, 0.05, 0.1):
        gru = (rng.random((3, 300)) < 0.8).astype(float)
        lstm = (rng.random((3, 300)) < 0.8 + shift).astype(float)
        gain = paired_gain(lstm, gru, score="accuracy", level=0.95)
        assert (gain.p_value < 0.05) == (gain.low > 0 or gain.high < 0)


def test_mase_gain_is_the_drop_in_mean_scaled_error() -> None:
    rng = np.random.default_rng(4)
    gru = rng.exponential(1.0, (3, 400))
    lstm = gru - 0.1  # LSTM's scaled errors a tenth of the naive error lower everywhere
    gain = paired_gain(lstm, gru, score="mase", level=0.95)
    assert gain.mean == pytest.approx(0.1) and gain.low > 0
    flipped = paired_gain(gru, lstm, score="mase", level=0.95)
    assert flipped.mean == pytest.approx(-0.1) and flipped.high < 0


def test_paired_gain_names_the_scores_it_knows() -> None:
    with pytest.raises(ValueError, match="score must be one of accuracy, rmse, mase; got 'mae'"):
        paired_gain(np.ones((2, 5)), np.ones((2, 5)), score="mae", level=0.95)
