"""The gates: what changed since the previous decision, quality, and the exit code."""

from __future__ import annotations

import copy
from typing import Any

from selector.decision.gates import evaluate

CONFIG = {"hidden_size": 64, "num_layers": 1, "bidirectional": False, "learning_rate": 0.01}
COST = {"latency_ms_p50": 1.0, "parameters": 9000, "train_seconds": 10.0,
        "peak_memory_bytes": 1e6}


def document(verdict: str | None = "gru", scores: tuple[float, ...] = (0.90, 0.91, 0.92), *,
             ci: tuple[float, float] = (-0.01, 0.02), **config: Any) -> dict[str, Any]:
    cells = [{"cell": cell, "config": {**CONFIG, **config, "cell": cell},
              "test_scores": list(scores), "test_mean": sum(scores) / len(scores),
              "cost": COST} for cell in ("gru", "lstm")]
    return {"study": "s", "verdict": verdict, "headline": "no cell meets the budgets",
            "score_name": "accuracy", "direction": "maximize", "cells": cells,
            "comparison": {"ci_low": ci[0], "ci_high": ci[1]}}


def test_no_baseline_and_no_gate_failure_passes() -> None:
    gates = evaluate(document(), None, baseline_source=None, min_score=0.8)
    assert gates["status"] == "passed" and gates["comparison"] is None


def test_a_new_learning_rate_is_reported_but_does_not_change_the_decision() -> None:
    gates = evaluate(document(learning_rate=0.002), document(), baseline_source="b",
                     min_score=None)
    assert gates["status"] == "passed"
    assert gates["comparison"]["changes"]["config"]["diff"] == {"learning_rate": [0.01, 0.002]}


def test_another_cell_or_shape_is_a_change_and_credibility_makes_it_significant() -> None:
    cell = evaluate(document("lstm", ci=(0.01, 0.03)), document(), baseline_source="b",
                    min_score=None)
    assert cell["status"] == "changed"
    assert cell["comparison"]["changes"]["cell"] == {"before": "gru", "after": "lstm",
                                                     "changed": True, "significant": True}
    shape = evaluate(document(hidden_size=128), document(), baseline_source="b", min_score=None)
    assert shape["status"] == "changed" and not shape["comparison"]["significant"]


def test_a_score_drop_is_tested_across_seed_runs() -> None:
    worse = evaluate(document(hidden_size=32, scores=(0.80, 0.81, 0.79)), document(),
                     baseline_source="b", min_score=None)
    score = worse["comparison"]["changes"]["score"]
    assert score["delta"] < 0 and score["p_value"] < 0.05 and score["significant"]
    assert worse["comparison"]["significant"]


def test_quality_gates_fail_first_and_follow_the_metric_direction() -> None:
    low = evaluate(document("lstm"), document(), baseline_source="b", min_score=0.95)
    assert low["status"] == "failed" and low["changed"]  # failed wins over changed
    none = evaluate(document(None), None, baseline_source=None, min_score=None)
    assert none["status"] == "failed" and not none["checks"][0]["passed"]
    rmse = copy.deepcopy(document(scores=(0.30, 0.31, 0.29)))
    rmse |= {"score_name": "rmse", "direction": "minimize"}
    assert evaluate(rmse, None, baseline_source=None, min_score=0.35)["passed"]
    assert not evaluate(rmse, None, baseline_source=None, min_score=0.25)["passed"]


def test_a_changed_cell_is_significant_only_when_the_interval_favours_the_new_cell() -> None:
    # Now GRU, before LSTM, but this run's own interval has LSTM credibly ahead: no evidence.
    against = evaluate(document("gru", ci=(0.01, 0.03)), document("lstm"), baseline_source="b",
                       min_score=None)
    assert against["changed"] and not against["comparison"]["changes"]["cell"]["significant"]
    towards = evaluate(document("gru", ci=(-0.03, -0.01)), document("lstm"), baseline_source="b",
                       min_score=None)
    assert towards["comparison"]["changes"]["cell"]["significant"]


def test_scores_of_different_kinds_are_not_compared() -> None:
    panel = copy.deepcopy(document(scores=(0.70, 0.71, 0.69)))
    panel |= {"score_name": "mase", "direction": "minimize"}
    before = copy.deepcopy(document(scores=(0.30, 0.31, 0.29)))
    before |= {"score_name": "rmse", "direction": "minimize"}  # an older run on the same panel
    score = evaluate(panel, before, baseline_source="b", min_score=None)["comparison"][
        "changes"]["score"]
    assert score["delta"] is None and not score["significant"]
    assert score["name"] == "mase" and score["baseline_name"] == "rmse"
