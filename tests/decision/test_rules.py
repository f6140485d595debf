"""The decision logic on constructed evidence: every verdict branch, without training."""

from __future__ import annotations

from dataclasses import replace

import pytest

from selector.decision.rules import decide
from selector.records import (
    Budgets,
    FinalComparison,
    LongRange,
    Preferences,
)
from tests.helpers.records import comparison, cost, profile, ratio


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
    assert "within noise" in e3.evidence


def test_budget_violation_rules_a_cell_out_before_accuracy() -> None:
    evidence = comparison([0.80, 0.81, 0.79], [0.90, 0.91, 0.905])  # LSTM far better...
    rec = decide(evidence, profile(), Budgets(max_latency_ms=1.1), Preferences())
    assert rec.verdict == "gru"  # ...but over the latency budget
    assert rec.cell("lstm").violations and "max_latency_ms=1.1" in rec.cell("lstm").violations[0]
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


def test_g1_weighs_the_latency_of_the_runtime_that_serves() -> None:
    # Eager PyTorch runs GRU inference slower than the LSTM (no fused kernel); ONNX Runtime,
    # which serves the handed-over model, runs it faster: that is the figure G1 weighs.
    evidence = comparison([0.90, 0.91, 0.90], [0.90, 0.91, 0.90], step_ms=(3.0, 4.0))
    eager_slow = replace(evidence.equal_config[0], latency_ratio=ratio(1 / 1.5))
    served_fast = replace(eager_slow, served_latency_ms={"gru": 0.7, "lstm": 1.0},
                          served_latency_ratio=ratio(1 / 0.7))
    g1 = by_id(decide(replace(evidence, equal_config=(served_fast,)), profile(), Budgets(),
                      Preferences(prefer="edge")), "G1")
    assert g1.borne_out == "yes"
    assert "GRU inference 0.70x" in g1.evidence
    assert "in ONNX Runtime" in g1.evidence and "eager PyTorch: GRU 1.50x" in g1.evidence
    # where nothing was timed in ONNX Runtime (a GPU run), the eager figure is the one weighed
    g1 = by_id(decide(replace(evidence, equal_config=(eager_slow,)), profile(), Budgets(),
                      Preferences(prefer="edge")), "G1")
    assert "GRU inference 1.50x" in g1.evidence and "ONNX Runtime" not in g1.evidence


def test_rmse_gain_points_the_right_way() -> None:
    # lower is better: LSTM's smaller RMSE is a positive gain, and is said so
    evidence = comparison([0.50, 0.52, 0.51], [0.20, 0.21, 0.19], direction="minimize")
    rec = decide(evidence, profile(), Budgets(), Preferences())
    assert rec.comparison.pairs == 3 and rec.comparison.gain_mean == pytest.approx(0.31)
    assert rec.comparison.ci_low > 0
    assert rec.verdict == "lstm"
    text = " ".join([*rec.rationale, *(c.evidence for c in rec.criteria)])
    assert "gain of LSTM over GRU +0.31" in text  # not "LSTM - GRU = +0.31" (it is GRU - LSTM)
    assert "LSTM - GRU =" not in text


def test_relative_min_gain_comes_from_validation_never_test() -> None:
    evidence = comparison([0.50, 0.52, 0.51], [0.20, 0.21, 0.19], direction="minimize",
                          gru_val=[0.40, 0.40, 0.40])
    rec = decide(evidence, profile(), Budgets(), Preferences())
    assert rec.comparison.min_gain == pytest.approx(0.005 * 0.40)  # GRU's validation RMSE
    assert "validation" in rec.comparison.min_gain_source


def test_a_panel_is_decided_on_mase_against_a_share_of_the_naive_error() -> None:
    # MASE 0.80 vs 0.70: LSTM errs a tenth of the seasonal naive error less on every series
    evidence = comparison([0.80, 0.81, 0.79], [0.70, 0.71, 0.69], direction="minimize",
                          score_name="mase", gru_val=[5.0, 5.0, 5.0])  # val RMSE: other units
    rec = decide(evidence, profile(), Budgets(), Preferences())
    assert rec.score_name == "mase" and rec.verdict == "lstm"
    assert rec.comparison.gain_mean == pytest.approx(0.10) and rec.comparison.ci_low > 0
    assert rec.comparison.min_gain == pytest.approx(0.005)  # not 0.5% of the RMSE of 5
    assert "seasonal naive forecast's error" in rec.comparison.min_gain_source
    assert "+0.1 mase" in by_id(rec, "G5").evidence
    e3 = by_id(rec, "E3").evidence  # the search scored RMSE: effects compared as shares
    assert "as a share of the median" in e3 and "share of GRU's test MASE = 0.125" in e3


def long_range(drops: dict[str, float], *, full: float = 0.95) -> tuple[LongRange, ...]:
    return tuple(LongRange(cell=c, seed=s, share=share, median_steps=400,
                           context_steps=int(400 * share), full_score=full - 0.02 * s,
                           context_score=full - 0.02 * s - drops[c] * (1.5 if share == 0.25
                                                                      else 1.0) - 0.005 * s)
                 for share in (0.25, 0.5) for c in ("gru", "lstm") for s in range(3))


def test_l1_compares_both_cells_drops_seed_by_seed() -> None:
    # Without distant context GRU falls by 0.4, LSTM by 0.1: LSTM retains it better.
    rec = decide(comparison([0.6, 0.62, 0.61], [0.95, 0.94, 0.96],
                            long_range=long_range({"gru": 0.4, "lstm": 0.1})),
                 profile(median=400), Budgets(), Preferences())
    l1 = by_id(rec, "L1")
    assert l1.applies and l1.borne_out == "yes" and "Distant context matters" in l1.evidence
    assert "LSTM loses credibly less than GRU" in l1.evidence
    assert by_id(rec, "G2").applies is False
    # Both lose as much: context matters, but LSTM does not retain it better.
    same = decide(comparison([0.95, 0.94, 0.96], [0.95, 0.94, 0.96],
                             long_range=long_range({"gru": 0.3, "lstm": 0.3})),
                  profile(median=400), Budgets(), Preferences())
    assert by_id(same, "L1").applies and by_id(same, "L1").borne_out == "no"
    # Neither loses anything: measured, so not "untested", and no long-range dependence.
    none = decide(comparison([0.95, 0.94, 0.96], [0.95, 0.94, 0.96],
                             long_range=long_range({"gru": 0.0, "lstm": 0.0})),
                  profile(median=400), Budgets(), Preferences())
    assert (by_id(none, "L1").applies, by_id(none, "L1").borne_out) == (False, "no")


def test_identical_seeds_are_not_certainty() -> None:
    # Every seed scores the same: the seed spread is zero, but the test sample still varies.
    rec = decide(comparison([0.90, 0.90, 0.90], [0.91, 0.91, 0.91]), profile(), Budgets(),
                 Preferences())
    c = rec.comparison
    assert c.seed_sd == 0.0 and c.example_sd > 0
    assert c.ci_high - c.ci_low > 0.005 and c.p_value > 0.0


def test_a_toss_up_is_settled_by_size_when_measured_costs_are_noise() -> None:
    # On par; LSTM's latency looks 20% lower, but its interval includes 1; LSTM is larger.
    rec = decide(comparison([0.90, 0.91, 0.90], [0.90, 0.91, 0.90],
                            gru_cost=cost(params=9_000, latency=1.2, epoch_s=0.3),
                            lstm_cost=cost(params=9_900, latency=1.0, epoch_s=0.3, memory=1_000_000),
                            latency_noise=0.5),
                 profile(), Budgets(), Preferences())
    assert "latency_ms_p50" not in rec.comparison.credible_costs
    assert (rec.verdict, rec.confidence) == ("gru", "toss-up")
    assert "smaller network" in " ".join(rec.rationale)
    # The same latency gap, measured credibly, does count.
    sure = decide(comparison([0.90, 0.91, 0.90], [0.90, 0.91, 0.90],
                             gru_cost=cost(params=9_000, latency=1.6, epoch_s=0.3),
                             lstm_cost=cost(params=9_900, latency=1.0, epoch_s=0.3)),
                  profile(), Budgets(), Preferences(prefer="edge"))
    assert "latency_ms_p50" in sure.comparison.credible_costs and sure.verdict == "lstm"


def test_e3_never_calls_no_cell_effect_larger_than_no_hyperparameter_effect() -> None:
    rec = decide(comparison([0.90, 0.90, 0.90], [0.90, 0.90, 0.90], effects=(0.9, 0.9)),
                 profile(), Budgets(), Preferences())
    e3 = by_id(rec, "E3")
    assert "larger than" not in e3.evidence and "as much as" in e3.evidence


def test_e3_says_plainly_when_a_small_validation_split_could_not_rank_the_candidates() -> None:
    # 100 validation sequences: every trial at 1.0, or 0.9 against 0.88 (within two standard
    # errors of a difference, 0.085), leaves the search blind; 0.95 against 0.70 does not.
    for effects, shown in (((1.0, 1.0), "GRU (saturated) and LSTM (saturated)"),
                           ((0.9, 0.88), "GRU and LSTM")):
        rec = decide(comparison([0.90, 0.91, 0.90], [0.90, 0.90, 0.91], effects=effects),
                     profile(), Budgets(), Preferences())
        evidence = by_id(rec, "E3").evidence
        assert f"could not separate its candidates for {shown}: on 100 validation" in evidence
    rec = decide(comparison([0.90, 0.91, 0.90], [0.90, 0.90, 0.91], effects=(0.95, 0.70)),
                 profile(), Budgets(), Preferences())
    assert "could not separate" not in by_id(rec, "E3").evidence


def test_a_large_but_noisy_gain_for_the_costlier_cell_is_a_toss_up() -> None:
    # GRU far better on average, but one GRU seed failed: not credible; LSTM is cheaper here.
    rec = decide(comparison([0.97, 0.98, 0.60], [0.80, 0.81, 0.79],
                            gru_cost=cost(params=9_000, latency=2.0, epoch_s=0.9),
                            lstm_cost=cost(params=9_500, latency=1.0, epoch_s=0.3)),
                 profile(), Budgets(), Preferences())
    assert rec.verdict == "lstm" and rec.confidence == "toss-up"
    assert "Inconclusive: GRU scored better" in " ".join(rec.rationale)


def unlearned(evidence: FinalComparison, name: str, runs: tuple[int, ...], *,
              cut: bool = False) -> FinalComparison:
    """The comparison with ``name``'s runs ``runs`` marked as never beating the baseline."""
    cells = tuple(replace(c, runs=tuple(replace(r, learned=False, cut=cut) if i in runs else r
                                        for i, r in enumerate(c.runs)))
                  if c.cell == name else c for c in evidence.cells)
    return replace(evidence, cells=cells)


def test_a_run_that_stayed_at_chance_loses_its_pair_unless_the_budget_cut_it() -> None:
    # LSTM's third run sat at the plateau (the mean predictor's RMSE); the others learned.
    evidence = comparison([0.05, 0.06, 0.05], [0.04, 0.05, 0.41], direction="minimize")
    rec = decide(unlearned(evidence, "lstm", (2,)), profile(median=400), Budgets(),
                 Preferences())
    assert rec.comparison.pairs == 3  # it trained to its end: a failure to learn is a loss
    assert rec.comparison.gain_mean == pytest.approx((0.01 + 0.01 - 0.36) / 3)
    assert rec.comparison.learned == {"gru": 3, "lstm": 2}
    # Cut short by the budget, it did not have its chance: the pair is left out.
    rec = decide(unlearned(evidence, "lstm", (2,), cut=True), profile(median=400), Budgets(),
                 Preferences())
    assert rec.comparison.pairs == 2 and rec.comparison.gain_mean == pytest.approx(0.01)


def test_a_cell_that_never_learned_counts_at_what_it_scored_unless_cut() -> None:
    """LSTM trained to its end at the plateau on every seed: its runs count at what they
    scored, so a GRU that learned every time wins clearly."""
    evidence = unlearned(comparison([0.05, 0.06, 0.05], [0.41, 0.41, 0.41], direction="minimize"),
                         "lstm", (0, 1, 2))
    rec = decide(evidence, profile(median=400), Budgets(), Preferences())
    assert (rec.verdict, rec.confidence, rec.reason) == ("gru", "clear", "learned-alone")
    assert any("LSTM did not learn" in r for r in rec.rationale)
    assert rec.comparison.gain_mean == pytest.approx(-0.3567, abs=1e-4)
    assert any("counted at what it scored: gain of LSTM over GRU -0.3567" in r
               for r in rec.rationale)
    # The learner learned once in three: its gain is no credible win, so only a lean.
    once = unlearned(comparison([0.05, 0.40, 0.38], [0.41, 0.41, 0.41], direction="minimize"),
                     "lstm", (0, 1, 2))
    rec = decide(unlearned(once, "gru", (1, 2)), profile(median=400), Budgets(), Preferences())
    assert (rec.verdict, rec.confidence) == ("gru", "lean")
    # Cut short by the budget, it might have learned with more time: only a toss-up, and its
    # runs are no evidence.
    cut = unlearned(evidence, "lstm", (0, 1, 2), cut=True)
    rec = decide(cut, profile(median=400), Budgets(), Preferences())
    assert (rec.verdict, rec.confidence) == ("gru", "toss-up")
    assert any("cut short by budget" in r for r in rec.rationale)
    assert rec.comparison.gain_mean is None
    assert by_id(rec, "L3").borne_out == "untested" and by_id(rec, "G5").borne_out == "untested"


def test_no_recommendation_when_neither_cell_learned() -> None:
    evidence = comparison([0.41, 0.41], [0.41, 0.41], direction="minimize")
    evidence = unlearned(unlearned(evidence, "lstm", (0, 1)), "gru", (0, 1))
    rec = decide(evidence, profile(median=400), Budgets(), Preferences())
    assert rec.verdict is None and rec.headline.endswith("neither cell learned the task.")


def test_one_pair_left_by_the_budget_is_a_toss_up_that_says_why() -> None:
    evidence = comparison([0.80], [0.90])
    evidence = replace(evidence, budget_notes=("budget exhausted after 1 of 3 seed runs per "
                                               "cell",))
    rec = decide(evidence, profile(), Budgets(), Preferences())
    assert rec.confidence == "toss-up" and rec.comparison.ci_low is None
    assert rec.comparison.gain_mean == pytest.approx(0.10)
    assert any("budget exhausted after 1 seed pair" in r for r in rec.rationale)
    assert rec.rationale[-1].startswith("Budget: budget exhausted after 1 of 3")


def test_every_verdict_names_the_rule_that_decided() -> None:
    """The verdict is a typed outcome (winner, confidence, reason code); the English is
    rendered from it, so a caller can act on the reason without parsing sentences."""
    win = comparison([0.80, 0.81, 0.79], [0.90, 0.91, 0.905])
    same = cost(params=10_000, latency=1.0, epoch_s=0.3)
    noisy = comparison([0.97, 0.98, 0.60], [0.80, 0.81, 0.79],
                       gru_cost=cost(params=9_000, latency=2.0, epoch_s=0.9),
                       lstm_cost=cost(params=9_500, latency=1.0, epoch_s=0.3))
    never = unlearned(comparison([0.05, 0.06], [0.41, 0.41], direction="minimize"), "lstm", (0, 1))
    cases = [
        (win, Budgets(), Preferences(), ("lstm", "credible-win")),
        (win, Budgets(), Preferences(min_gain=0.2), ("gru", "on-par-cheaper")),
        (comparison([0.90, 0.92, 0.88], [0.91, 0.89, 0.90], gru_cost=same,
                    lstm_cost=replace(same, parameters=10_200)), Budgets(), Preferences(),
         ("gru", "no-cost-difference")),
        (noisy, Budgets(), Preferences(), ("lstm", "inconclusive")),
        (comparison([0.80], [0.90]), Budgets(), Preferences(), ("gru", "too-few-pairs")),
        (never, Budgets(), Preferences(), ("gru", "learned-alone")),
        (unlearned(never, "gru", (0, 1)), Budgets(), Preferences(), (None, "not-learned")),
        (win, Budgets(max_params=100), Preferences(), (None, "over-budget")),
        (win, Budgets(max_latency_ms=1.1), Preferences(), ("gru", "only-one-fits")),
        (replace(win, cells=win.cells[:1]), Budgets(), Preferences(), ("gru", "untested")),
    ]
    for evidence, budgets, preferences, expected in cases:
        rec = decide(evidence, profile(), budgets, preferences)
        assert (rec.verdict, rec.reason) == expected, rec.rationale
