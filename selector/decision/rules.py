"""The decision: measured evidence in, a recommendation with every criterion out.

Pure functions of plain records, so every branch can be tested on constructed evidence.
`decide` gathers the evidence (each cell's runs against the hard budgets, the paired gain of
`selector.decision.stats`, the cost index), takes the verdict from `selector.decision.verdict`
(the rules, in order, as a typed outcome), and has `selector.decision.wording` say it.

The cost index is a weighted geometric mean of the LSTM/GRU cost ratios, weighted by the
``prefer`` preset; a measured ratio whose interval includes 1 enters it as 1.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import fields
from typing import Any

import numpy as np

from selector.choices import Cell, sign
from selector.decision import wording
from selector.decision.criteria import criteria as criteria_rows
from selector.decision.sequential import Design
from selector.decision.stats import corrected_resampled, log_ratio_interval, paired_gain
from selector.decision.verdict import verdict_of
from selector.errors import param
from selector.records import (
    Budgets,
    CellEvidence,
    Comparison,
    DataProfile,
    FinalCell,
    FinalComparison,
    Preferences,
    Recommendation,
)

# Preset defaults. Minimum gain: absolute for accuracy, a share of GRU's validation RMSE.
MIN_GAIN = {"edge": 0.01, "balanced": 0.005, "accuracy": 0.0}
CONFIDENCE = {"edge": 0.95, "balanced": 0.95, "accuracy": 0.80}
COST_WEIGHTS = {  # dimension -> weight in the cost index
    "edge": {"latency_ms_p50": 2.0, "parameters": 1.0, "peak_memory_bytes": 1.0,
             "time_to_best_s": 0.0},
    "balanced": {"latency_ms_p50": 1.0, "parameters": 1.0, "peak_memory_bytes": 1.0,
                 "time_to_best_s": 1.0},
    "accuracy": {"latency_ms_p50": 1.0, "parameters": 1.0, "peak_memory_bytes": 1.0,
                 "time_to_best_s": 1.0},
}
MEASURED = ("latency_ms_p50", "time_to_best_s")  # noisy: they count only when credible


def cell_evidence(final: FinalCell, budgets: Budgets) -> CellEvidence:
    """Average a cell's seed runs and check them against the hard budgets."""
    scores = tuple(r.test_score for r in final.runs)
    cost: dict[str, float] = {}
    for f in fields(final.runs[0].cost):
        values = [getattr(r.cost, f.name) for r in final.runs]
        if f.name != "device" and None not in values:
            cost[f.name] = statistics.fmean(values)
    cost["train_seconds"] = statistics.fmean(r.train_seconds for r in final.runs)
    cost["val_score"] = statistics.fmean(r.val_score for r in final.runs)
    violations = []
    if budgets.max_params is not None and cost["parameters"] > budgets.max_params:
        violations.append(f"{cost['parameters']:,.0f} parameters > "
                          f"{param('max_params', budgets.max_params)}")
    if budgets.max_latency_ms is not None and cost["latency_ms_p50"] > budgets.max_latency_ms:
        violations.append(f"latency {cost['latency_ms_p50']:.2f} ms > "
                          f"{param('max_latency_ms', budgets.max_latency_ms)}")
    if budgets.max_train_seconds is not None and cost["train_seconds"] > budgets.max_train_seconds:
        violations.append(f"training {cost['train_seconds']:.1f} s > "
                          f"{param('max_train_seconds', budgets.max_train_seconds)}")
    return CellEvidence(cell=final.cell, trial=final.trial, config=final.config,
                        test_scores=scores, test_mean=statistics.fmean(scores),
                        test_std=statistics.stdev(scores) if len(scores) > 1 else 0.0,
                        cost=cost, violations=tuple(violations))


def look_level(final: FinalComparison, level: float) -> float:
    """The level of the interval at the look where the comparison stopped: ``level`` for a
    fixed number of seeds, the repeated confidence interval's of its sequential design
    otherwise (`selector.decision.sequential`). A comparison the budget ended early made its
    last look there: the time left, not the gains seen, set how many pairs it could afford,
    so that look spends the error left, as error spending allows when the information
    reached falls short of the plan (Lan & DeMets 1983; Jennison & Turnbull 2000, ch. 7)."""
    looks = len({r.pair[0] for r in final.cells[0].runs}) if final.cells else 0
    if not final.least_seeds or looks < 2:
        return level
    most = looks if final.stopped == "budget" else max(len(final.seeds), looks)
    return Design(max(2, min(final.least_seeds, looks)), most, level).level_at(looks)


def _paired(final: FinalComparison, level: float, block: int) -> dict[str, Any]:
    """The paired gain's fields of `Comparison` over the pairs of runs that had their chance
    to learn; the mean alone from one pair, nothing without both cells learning somewhere or
    without any such pair. A run the budget cut before it beat the trivial baseline is not
    evidence either way; one that trained to its own end without beating it counts at what it
    scored: a cell that stays at chance on some seeds, or on all of them, is worse on this
    data. A sequential comparison's interval is the repeated one at the look where it
    stopped."""
    runs = {c.cell: {r.pair: r for r in c.runs if r.learned or not r.cut} for c in final.cells}
    design: dict[str, Any] = {} if not final.least_seeds else {
        "most_pairs": len(final.seeds), "stopped": final.stopped,
        "look_level": look_level(final, level)}
    level = design.get("look_level", level)
    nothing: dict[str, Any] = {"gain_mean": None, "ci_low": None, "ci_high": None,
                               "p_value": None, "pairs": 0, **design}
    if set(runs) != {"gru", "lstm"}:
        return nothing
    keys = sorted(set(runs["gru"]) & set(runs["lstm"]))
    better = sign(final.direction)
    if len(keys) < 2:
        if not keys:
            return nothing
        lstm, gru = runs["lstm"][keys[0]].test_score, runs["gru"][keys[0]].test_score
        return {**nothing, "gain_mean": better * (lstm - gru), "pairs": 1}
    if final.method == "cv":  # k-fold over train + val: each fold's held-out score, paired
        gain = corrected_resampled(
            [better * (runs["lstm"][k].test_score - runs["gru"][k].test_score) for k in keys],
            final.test_train_ratio, level,
            examples=sum(len(runs["gru"][k].outcomes) for k in keys if k[0] == keys[0][0]))
    else:
        gain = paired_gain(np.array([runs["lstm"][k].outcomes for k in keys]),
                           np.array([runs["gru"][k].outcomes for k in keys]),
                           score=final.score_name, level=level, block=block)
    return {**nothing, "gain_mean": gain.mean, "ci_low": gain.low, "ci_high": gain.high,
            "p_value": gain.p_value, "pairs": gain.pairs, "examples": gain.examples,
            "seed_sd": gain.seed_sd, "example_sd": gain.example_sd}


def decide(final: FinalComparison, profile: DataProfile, budgets: Budgets,
           preferences: Preferences) -> Recommendation:
    """Apply the criteria to the measured evidence."""
    prefer = preferences.prefer
    level = preferences.confidence_level or CONFIDENCE[prefer]
    cells = {c.cell: cell_evidence(c, budgets) for c in final.cells}
    min_gain, source = _min_gain(final, cells, preferences)
    ratios, index, sure_costs = _cost_ratios(final, cells, COST_WEIGHTS[prefer], level)
    size = (cells["lstm"].cost["macs_per_step"] / cells["gru"].cost["macs_per_step"]
            if {"gru", "lstm"} <= set(cells) else None)
    window = (profile.lookback or 0) + (profile.horizon or 0)  # overlapping test windows
    comparison = Comparison(**_paired(final, level, max(1, window)), level=level,
                            min_gain=min_gain,
                            min_gain_source=source, cost_ratios=ratios, cost_index=index,
                            credible_costs=sure_costs, size_ratio=size, method=final.method,
                            learned={c.cell: sum(r.learned for r in c.runs) for c in final.cells},
                            runs={c.cell: len(c.runs) for c in final.cells},
                            cut={c.cell: sum(r.cut for r in c.runs) for c in final.cells})
    verdict = verdict_of(cells, comparison)
    rationale = [*wording.rationale(verdict, cells, comparison, final.score_name),
                 *(f"Budget: {note}" for note in final.budget_notes)]
    criteria = criteria_rows(final, profile, budgets, prefer, cells, comparison)
    return Recommendation(
        verdict=verdict.winner, confidence=verdict.confidence, reason=verdict.reason,
        headline=wording.headline(verdict, cells),
        rationale=tuple(rationale), score_name=final.score_name, direction=final.direction,
        prefer=prefer, budgets=budgets, cells=tuple(cells.values()), comparison=comparison,
        criteria=criteria)


def _min_gain(final: FinalComparison, cells: dict[Cell, CellEvidence],
              preferences: Preferences) -> tuple[float, str]:
    """The smallest gain worth its cost, in the verdict's score, and where it came from."""
    prefer = preferences.prefer
    if preferences.min_gain is not None:
        return preferences.min_gain, param("min_gain")
    if final.direction == "maximize" or "gru" not in cells:
        return MIN_GAIN[prefer], f"preset {prefer}"
    if final.score_name == "mase":  # already a share: of the seasonal naive forecast's error
        return MIN_GAIN[prefer], (f"preset {prefer}: {MIN_GAIN[prefer]:.1%} of the seasonal "
                                  "naive forecast's error")
    # relative to a score the decision may look at: validation, never test
    return (MIN_GAIN[prefer] * cells["gru"].cost["val_score"],
            f"preset {prefer}: {MIN_GAIN[prefer]:.1%} of GRU's validation {final.score_name}")


def _cost_ratios(final: FinalComparison, cells: dict[Cell, CellEvidence],
                 weights: dict[str, float], level: float
                 ) -> tuple[dict[str, float], float | None, tuple[str, ...]]:
    """LSTM/GRU ratios, the cost index over the credible ones, and which measured ones are."""
    if set(cells) != {"gru", "lstm"}:
        return {}, None, ()
    keys = ("train_seconds_per_epoch", "time_to_best_s", "train_seconds", "latency_ms_p50",
            "latency_ms_p95", "batch_latency_ms_p50", "parameters", "macs_per_step",
            "peak_memory_bytes", "best_epoch")
    gru, lstm = cells["gru"].cost, cells["lstm"].cost
    ratios = {k: lstm[k] / gru[k] for k in keys if k in gru and k in lstm and gru[k] > 0}
    sure = []
    deployed = next((t for t in reversed(final.latency)), None)  # ONNX where measured
    if deployed is not None:
        ratios["latency_ms_p50"] = deployed.ratio.value
        if deployed.ratio.credible:
            sure.append("latency_ms_p50")
    by_cell = {c.cell: [r.cost.time_to_best_s for r in c.runs] for c in final.cells}
    times = log_ratio_interval(by_cell["lstm"], by_cell["gru"], level)
    if times is not None and (times[1] > 1 or times[2] < 1):
        sure.append("time_to_best_s")
    used = {k: w for k, w in weights.items() if w and k in ratios}
    logs = [w * (math.log(ratios[k]) if k not in MEASURED or k in sure else 0.0)
            for k, w in used.items()]
    return ratios, math.exp(sum(logs) / sum(used.values())), tuple(sure)
