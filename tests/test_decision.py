"""The decision logic on constructed evidence: every verdict branch, without training."""

from __future__ import annotations

from dataclasses import replace

import pytest

from selector.decision import decide, paired_gain
from selector.records import (
    Budgets,
    Cost,
    DataProfile,
    EqualConfigTiming,
    FinalCell,
    FinalComparison,
    LongRange,
    Preferences,
    SeedRun,
)

CONFIG = {"cell": "gru", "hidden_size": 64, "num_layers": 1, "dropout": 0.0,
          "bidirectional": False, "learning_rate": 1e-3, "batch_size": 64,
          "weight_decay": 0.0, "embedding_dim": 64}


def cost(*, params: int, latency: float, epoch_s: float, best_epoch: int = 5,
         memory: int = 1_000_000) -> Cost:
    return Cost(parameters=params, recurrent_parameters=params - 100, size_bytes=4 * params,
                train_seconds_per_epoch=epoch_s, epochs_trained=best_epoch + 5,
                best_epoch=best_epoch, latency_ms_p50=latency, latency_ms_p95=latency * 1.2,
                batch_latency_ms_p50=latency * 8, throughput_per_s=64 / (latency * 8 / 1000),
                throughput_batch_size=64, peak_memory_bytes=memory, device="cpu")


def cell(name: str, scores: list[float], c: Cost, *, best_val: float = 0.9,
         median_val: float = 0.8) -> FinalCell:
    return FinalCell(cell=name, trial=1 if name == "gru" else 2, config={**CONFIG, "cell": name},
                     runs=tuple(SeedRun(seed=i, test_score=s, val_score=s, train_seconds=10.0,
                                        cost=c) for i, s in enumerate(scores)),
                     search_best_val=best_val, search_median_val=median_val)


GRU_COST = cost(params=9_000, latency=1.0, epoch_s=0.30)  # the textbook: GRU lighter and faster
LSTM_COST = cost(params=12_000, latency=1.3, epoch_s=0.40, memory=1_300_000)


def comparison(gru: list[float], lstm: list[float], *, gru_cost: Cost = GRU_COST,
               lstm_cost: Cost = LSTM_COST, direction: str = "maximize",
               step_ms: tuple[float, float] = (3.0, 4.0),
               long_range: LongRange | None = None) -> FinalComparison:
    timing = EqualConfigTiming(config=CONFIG, train_step_ms={"gru": step_ms[0], "lstm": step_ms[1]},
                               latency_ms={"gru": step_ms[0] / 3, "lstm": step_ms[1] / 3},
                               parameters={"gru": 9_000, "lstm": 12_000})
    return FinalComparison(score_name="accuracy" if direction == "maximize" else "rmse",
                           direction=direction, seeds=tuple(range(len(gru))),
                           cells=(cell("gru", gru, gru_cost), cell("lstm", lstm, lstm_cost)),
                           equal_config=(timing,), long_range=long_range, device="cpu")


def profile(*, median: float = 50, n_train: int = 1000) -> DataProfile:
    size = "small" if n_train < 2000 else "large" if n_train >= 50_000 else "medium"
    return DataProfile(source="x", format="arrays", task="classification", n_sequences=n_train,
                       n_train=n_train, n_val=100, n_test=100, split_rule="stratified",
                       length_min=1, length_median=median, length_p95=median,
                       length_max=int(median), n_features=2, feature_names=("a", "b"),
                       target_names=("y",), classes=(), class_balance=1.0,
                       vocabulary_size=None, lookback=None, horizon=None, memory_bytes=1,
                       short_sequences=median < 100, training_size=size)


def by_id(rec, cid: str):
    return next(c for c in rec.criteria if c.id == cid)


def test_clear_lstm_win_is_credible_and_worthwhile() -> None:
    rec = decide(comparison([0.80, 0.81, 0.79], [0.90, 0.91, 0.905]), profile(), Budgets(),
                 Preferences())
    assert (rec.verdict, rec.confidence) == ("lstm", "clear")
    assert rec.comparison.ci_low > 0.05 and rec.comparison.p_value < 0.01
    assert by_id(rec, "L3").borne_out == "yes"
    assert by_id(rec, "G5").applies is False
    assert by_id(rec, "G2").borne_out == "no"  # short sequences, yet LSTM wins
    assert rec.headline.startswith("LSTM (clear)")
    assert {c.id for c in rec.criteria} == {"G1", "G2", "G3", "G4", "G5", "L1", "L2", "L3",
                                             "E1", "E2", "E3"}


def test_gain_below_min_gain_goes_to_the_cheaper_cell() -> None:
    evidence = comparison([0.900, 0.901, 0.899], [0.903, 0.904, 0.902])  # +0.003, credible
    rec = decide(evidence, profile(), Budgets(), Preferences(min_gain=0.01))
    assert rec.verdict == "gru"
    assert by_id(rec, "L3").borne_out == "no" and by_id(rec, "G5").applies
    # the same gain is worth it to a user whose minimum gain is smaller
    assert decide(evidence, profile(), Budgets(), Preferences(min_gain=0.001)).verdict == "lstm"


def test_toss_up_when_scores_and_costs_are_within_noise() -> None:
    same = cost(params=10_000, latency=1.0, epoch_s=0.3)
    rec = decide(comparison([0.90, 0.92, 0.88], [0.91, 0.89, 0.90], gru_cost=same,
                            lstm_cost=replace(same, parameters=10_200)),
                 profile(), Budgets(), Preferences())
    assert rec.confidence == "toss-up"
    assert "toss-up" in " ".join(rec.rationale)
    assert by_id(rec, "E3").applies and by_id(rec, "E3").borne_out == "yes"


def test_e3_never_calls_a_large_noisy_cell_effect_smaller_than_the_hyperparameters() -> None:
    # Hyperparameter effect 0.1 (best - median validation); |LSTM - GRU| = 0.133, CI over 0.
    rec = decide(comparison([0.9, 0.3, 0.6], [0.3, 0.9, 0.2]), profile(), Budgets(),
                 Preferences())
    e3 = by_id(rec, "E3")
    assert e3.applies and "matters less than the hyperparameters" not in e3.evidence
    assert "within seed noise" in e3.evidence


def test_budget_violation_rules_a_cell_out_before_accuracy() -> None:
    evidence = comparison([0.80, 0.81, 0.79], [0.90, 0.91, 0.905])  # LSTM far better...
    rec = decide(evidence, profile(), Budgets(max_latency_ms=1.1), Preferences())
    assert rec.verdict == "gru"  # ...but over the latency budget
    assert rec.cell("lstm").violations and "--max-latency-ms 1.1" in rec.cell("lstm").violations[0]
    assert by_id(rec, "L3").borne_out == "no"
    rec = decide(evidence, profile(), Budgets(max_params=100), Preferences())
    assert (rec.verdict, rec.confidence) == (None, "none")
    assert rec.headline.startswith("No recommendation")


def test_g1_contradicted_when_gru_is_measured_slower() -> None:
    # The CPU case: PyTorch's fused LSTM kernel makes the LSTM faster than the GRU.
    rec = decide(comparison([0.90, 0.91, 0.90], [0.90, 0.91, 0.90],
                            gru_cost=cost(params=9_000, latency=1.5, epoch_s=0.5),
                            lstm_cost=cost(params=12_000, latency=1.0, epoch_s=0.3),
                            step_ms=(6.0, 3.0)),
                 profile(), Budgets(), Preferences(prefer="edge"))
    g1 = by_id(rec, "G1")
    assert g1.applies and g1.borne_out == "no"
    assert "claim not borne out here" in g1.evidence and "fused" in g1.evidence
    # on par in accuracy, LSTM measured cheaper on latency: the edge preset picks it
    assert rec.verdict == "lstm"


def test_rmse_gain_points_the_right_way() -> None:
    # lower is better: LSTM's smaller RMSE is a positive gain
    evidence = comparison([0.50, 0.52, 0.51], [0.20, 0.21, 0.19], direction="minimize")
    gain, low, _high, _p, pairs = paired_gain(evidence, 0.95)
    assert pairs == 3 and gain == pytest.approx(0.31) and low > 0
    rec = decide(evidence, profile(), Budgets(), Preferences())
    assert rec.verdict == "lstm" and rec.comparison.min_gain == pytest.approx(0.005 * 0.51)


def test_long_range_dependence_with_lstm_win_bears_l1_out() -> None:
    lr = LongRange(cell="lstm", seed=0, median_steps=400, context_steps=100, full_score=0.95,
                   context_score=0.55)
    rec = decide(comparison([0.6, 0.62, 0.61], [0.95, 0.94, 0.96], long_range=lr),
                 profile(median=400), Budgets(), Preferences())
    l1 = by_id(rec, "L1")
    assert l1.applies and l1.borne_out == "yes" and "Distant context matters" in l1.evidence
    assert by_id(rec, "G2").applies is False


def test_one_seed_gives_no_interval_and_no_credible_gain() -> None:
    rec = decide(comparison([0.80], [0.90]), profile(), Budgets(), Preferences())
    assert rec.comparison.ci_low is None
    assert rec.verdict == "gru" and rec.confidence != "clear"  # a 0.1 gain, but unproven


def test_a_large_but_noisy_gain_for_the_costlier_cell_is_a_toss_up() -> None:
    # GRU far better on average, but one GRU seed failed: not credible; LSTM is cheaper here.
    rec = decide(comparison([0.97, 0.98, 0.60], [0.80, 0.81, 0.79],
                            gru_cost=cost(params=9_000, latency=2.0, epoch_s=0.9),
                            lstm_cost=cost(params=9_500, latency=1.0, epoch_s=0.3)),
                 profile(), Budgets(), Preferences())
    assert rec.verdict == "lstm" and rec.confidence == "toss-up"
    assert "Inconclusive: GRU scored better" in " ".join(rec.rationale)
