"""The final comparison's seed pairs under a budget: what it says up front it will drop."""

from __future__ import annotations

import optuna

from selector.comparison.pairs import outlook
from selector.data import load_dataset
from selector.data.crossval import plan
from selector.data.dataset import SequenceData

CELL = {"cell": optuna.distributions.CategoricalDistribution(["gru", "lstm"])}


def trained(seconds: float) -> optuna.Study:
    """A study whose best GRU and LSTM trials each trained for ``seconds``."""
    study = optuna.create_study(direction="maximize")
    for cell in ("gru", "lstm"):
        study.add_trial(optuna.create_trial(
            value=0.9, params={"cell": cell}, distributions=CELL,
            user_attrs={"cell": cell, "curves": [{"train_seconds": seconds / 2}] * 2}))
    return study


def said(data: SequenceData, left: float, *, reused: int = 0, refit: bool = True) -> str | None:
    # 3 to 6 seeds, as the defaults plan; each run takes 10 s
    return outlook(trained(10.0), data, plan(data, tuple(range(6))), 6, 3, left,
                   reused=reused, refit=refit)


def test_nothing_is_said_when_the_whole_comparison_fits() -> None:
    digits = load_dataset("example:digits")
    assert said(digits, 1000.0) is None
    assert outlook(optuna.create_study(), digits, plan(digits, (0, 1, 2)), 3, 3, 5.0,
                   reused=0, refit=True) is None  # no trial to go by yet


def test_it_says_up_front_how_many_seed_pairs_fit_and_that_the_refit_does_not() -> None:
    digits = load_dataset("example:digits")
    # 3 whole pairs of 20 s fit in 70 s; the 10 s left are short of a refit on train + val
    note = said(digits, 70.0)
    assert note is not None
    assert "about 70 s" in note and "3 of its 3-6 seed pairs" in note
    assert "no refit" in note and "best seed run's model is handed over" in note
    assert "L1" not in note  # 8 steps: distant context is not measured anyway
    without = said(digits, 70.0, refit=False)  # --no-refit: nothing to drop there
    assert without is not None and "3 of its 3-6" in without and "refit" not in without


def test_fewer_pairs_than_a_first_look_are_named_as_such() -> None:
    digits = load_dataset("example:digits")
    note = said(digits, 30.0)
    assert note is not None and "1 of its 3-6 seed pairs (fewer than a first look needs" in note
    assert "one seed pair cut short" in (said(digits, 15.0) or "")  # not one fits whole
    # search trials that stand in the first pair leave room for one more
    assert "2 of its 3-6" in (said(digits, 30.0, reused=2) or "")


def test_l1_is_named_when_its_shortened_runs_do_not_fit_after_the_first_look() -> None:
    long = load_dataset("example:adding?length=120&n=2000")
    assert said(long, 400.0) is None  # 6 pairs (120 s), L1 on 3 seeds (56 s), a refit
    note = said(long, 100.0)  # 5 pairs; 40 s after the first look's 3, L1 needs 56
    assert note is not None and "5 of its 3-6 seed pairs" in note
    assert "no L1 (distant context): its shortened runs need about 56 s" in note
    assert "no refit" in note
