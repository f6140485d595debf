"""The sequential comparison: repeated confidence intervals that keep their level over looks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from selector.decision.rules import decide
from selector.decision.sequential import Design, decided, settled
from selector.errors import ParameterError
from selector.records import Budgets, Preferences
from tests.helpers.records import comparison, profile


def crossing_rate(design: Design, levels: list[float], paths: int = 100_000) -> float:
    """Share of null paths (independent unit increments, one per pair) whose z statistic
    leaves some look's interval: the false-win rate of the design's looks."""
    rng = np.random.default_rng(99)
    walks = np.cumsum(rng.standard_normal((paths, design.most)), axis=1)
    looks = np.arange(design.least, design.most + 1)
    z = np.abs(walks[:, looks - 1] / np.sqrt(looks))
    bounds = np.array([stats.norm.ppf(0.5 + level / 2) for level in levels])
    return float((z > bounds).any(axis=1).mean())


def test_the_repeated_intervals_keep_the_error_rate_over_every_look() -> None:
    design = Design(3, 6, 0.95)
    levels = [design.level_at(k) for k in range(3, 7)]
    assert levels[:-1] == [levels[0]] * 3 and levels[0] > 0.997  # early looks need
    assert 0.95 < levels[-1] < 0.952  # overwhelming evidence; the last is nearly the fixed one
    assert crossing_rate(design, levels) == pytest.approx(0.05, abs=0.003)
    # A 95% interval at each look would claim a difference that is not there far more often.
    assert crossing_rate(design, [0.95] * 4) > 0.08


def test_longer_designs_keep_the_rate_and_a_fixed_design_is_the_plain_level() -> None:
    for least, most, level in ((2, 3, 0.95), (3, 10, 0.95), (3, 6, 0.999), (3, 30, 0.99)):
        design = Design(least, most, level)  # a strict level, or many looks, too
        levels = [design.level_at(k) for k in range(least, most + 1)]
        assert levels[-1] > level - 0.001  # the last look keeps most of the error
        rate = crossing_rate(design, levels)
        assert rate == pytest.approx(1 - level, rel=0.15), (least, most, level, rate)
    assert Design(3, 3, 0.9).level_at(3) == 0.9  # a fixed number of seeds: the plain level
    with pytest.raises(ParameterError, match="max_seeds"):
        Design(4, 3, 0.95)
    with pytest.raises(ValueError, match="outside"):
        Design(3, 6, 0.95).level_at(7)


def test_a_look_is_decided_when_it_answers_whether_lstm_is_worth_it() -> None:
    assert decided(0.02, 0.05, min_gain=0.01)  # LSTM worth more than the minimum gain
    assert decided(-0.03, 0.005, min_gain=0.01)  # credibly below it: GRU suffices
    assert not decided(-0.01, 0.03, min_gain=0.01)  # could be either: another pair


def test_a_clear_difference_settles_and_a_close_call_does_not() -> None:
    clear = comparison([0.80, 0.81, 0.79], [0.95, 0.96, 0.95])
    rec = decide(replace(clear, least_seeds=3, seeds=tuple(range(6)), stopped="decided"),
                 profile(), Budgets(), Preferences())
    assert settled(rec) and rec.verdict == "lstm"
    assert rec.comparison.most_pairs == 6 and rec.comparison.look_level is not None
    assert rec.comparison.look_level > 0.99  # the first look of six
    assert any("3 of at most 6 seed pairs, stopped as the interval decided" in line
               for line in rec.rationale)
    close = comparison([0.80, 0.83, 0.79], [0.81, 0.80, 0.82])
    assert not settled(decide(replace(close, least_seeds=3, seeds=tuple(range(6))),
                              profile(), Budgets(), Preferences()))


def test_an_undecided_sequential_verdict_names_the_option_that_buys_more_pairs() -> None:
    close = comparison([0.80, 0.83, 0.79], [0.84, 0.80, 0.82])
    for stopped, named in (("maximum", "max_seeds"), ("budget", "time (budget)")):
        rec = decide(replace(close, least_seeds=3, seeds=tuple(range(6)), stopped=stopped),
                     profile(), Budgets(), Preferences())
        assert any(f"more {named}" in line for line in rec.rationale), rec.rationale



def test_a_comparison_the_budget_ended_spends_the_error_left_at_its_last_look() -> None:
    # The budget, not the gains, sets how many pairs are affordable: wherever it cuts the
    # plan, making that look the last keeps the error rate.
    rng = np.random.default_rng(5)
    cut = rng.integers(3, 7, 100_000)  # a look count set independently of the gains
    walks = np.cumsum(rng.standard_normal((100_000, 6)), axis=1)
    crossed = np.zeros(100_000, dtype=bool)
    for most in range(3, 7):
        design = Design(3, most, 0.95)
        looks = np.arange(3, most + 1)
        bounds = np.array([stats.norm.ppf(0.5 + design.level_at(k) / 2) for k in looks])
        z = np.abs(walks[:, looks - 1] / np.sqrt(looks))
        crossed |= (cut == most) & (z > bounds).any(axis=1)
    assert crossed.mean() == pytest.approx(0.05, abs=0.003)
    # So three pairs of a planned six, when the budget paid for no more, decide at 95%
    # what the first of six looks (at 99.73%) would leave open.
    steady = replace(comparison([0.80, 0.81, 0.79], [0.86, 0.88, 0.85]), least_seeds=3,
                     seeds=tuple(range(6)))
    by_budget = decide(replace(steady, stopped="budget"), profile(), Budgets(), Preferences())
    assert by_budget.comparison.look_level == pytest.approx(0.95)
    assert by_budget.verdict == "lstm" and settled(by_budget)
    looking = decide(replace(steady, stopped="decided"), profile(), Budgets(), Preferences())
    assert looking.comparison.look_level is not None and looking.comparison.look_level > 0.997
    assert not settled(looking)
