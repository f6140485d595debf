"""Gates for scheduled re-selection: did the decision change since last time, and is it good
enough to ship?

Pure: it compares two recommendation documents (`selector.recommendation/2`), or rather their
decision part, and returns what changed, whether the change is significant, the quality
gate, and a status ("passed", "changed" or "failed"); the CLI turns it into its exit code.
The architecture is the cell and the network's shape
(hidden size, layers, direction); training hyperparameters such as the learning rate move from
run to run and are reported, but do not by themselves change the decision.
"""

from __future__ import annotations

from typing import Any

from scipy import stats

from selector.choices import GateStatus

ARCHITECTURE = ("hidden_size", "num_layers", "bidirectional")
COSTS = ("latency_ms_p50", "parameters", "train_seconds", "peak_memory_bytes")
SIGNIFICANCE = 0.05


def chosen_cell(document: dict[str, Any]) -> dict[str, Any] | None:
    """The recommended cell's evidence (scores, config, cost), or None without a verdict."""
    return next((c for c in document["cells"] if c["cell"] == document.get("verdict")), None)


def compare(new: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """What changed from ``baseline`` to ``new``: the cell, its hyperparameters, its test
    score (Welch's t-test over the seed runs) and its costs."""
    before, after = chosen_cell(baseline), chosen_cell(new)
    cell_changed = baseline.get("verdict") != new.get("verdict")
    changes: dict[str, Any] = {"cell": {
        "before": baseline.get("verdict"), "after": new.get("verdict"), "changed": cell_changed,
        # a new cell counts when this run's own LSTM - GRU interval puts the new cell ahead
        "significant": cell_changed and _credibly_ahead(new["comparison"], new.get("verdict"))}}
    old_config = before["config"] if before else {}
    new_config = after["config"] if after else {}
    diff = {k: [old_config.get(k), new_config.get(k)]
            for k in sorted(set(old_config) | set(new_config))
            if k != "cell" and old_config.get(k) != new_config.get(k)}
    changes["config"] = {"changed": bool(diff), "architecture_changed": any(
        k in diff for k in ARCHITECTURE) and not cell_changed, "diff": diff}
    changes["score"] = _score_change(before, after, new["score_name"],
                                     baseline.get("score_name", new["score_name"]))
    changes["cost"] = {key: _ratio(before["cost"].get(key), after["cost"].get(key))
                       for key in COSTS} if before and after else {}
    changed = cell_changed or changes["config"]["architecture_changed"]
    return {"baseline_study": baseline.get("study"), "changed": changed,
            "significant": changed and (changes["cell"]["significant"]
                                        or changes["score"]["significant"]),
            "changes": changes}


def _credibly_ahead(comparison: dict[str, Any], cell: str | None) -> bool:
    """The interval of the gain of LSTM over GRU excludes zero on ``cell``'s side."""
    low, high = comparison["ci_low"], comparison["ci_high"]
    if low is None or high is None:
        return False
    return low > 0 if cell == "lstm" else high < 0 if cell == "gru" else False


def _score_change(before: dict[str, Any] | None, after: dict[str, Any] | None,
                  name: str, baseline_name: str) -> dict[str, Any]:
    """The chosen cell's test score before and after; not compared when either run has no
    verdict, or when they were scored differently (a panel's MASE against RMSE)."""
    if not before or not after or baseline_name != name:
        return {"name": name, "before": None, "after": None, "delta": None, "p_value": None,
                "significant": False, **({"baseline_name": baseline_name}
                                         if baseline_name != name else {})}
    old, new = before["test_scores"], after["test_scores"]
    p_value = None
    if len(old) > 1 and len(new) > 1 and (max(old) > min(old) or max(new) > min(new)):
        p_value = float(stats.ttest_ind(new, old, equal_var=False).pvalue)
    return {"name": name, "before": before["test_mean"], "after": after["test_mean"],
            "delta": after["test_mean"] - before["test_mean"], "p_value": p_value,
            "significant": p_value is not None and p_value < SIGNIFICANCE}


def _ratio(before: float | None, after: float | None) -> dict[str, float | None]:
    ratio = after / before if before and after is not None else None
    return {"before": before, "after": after, "ratio": ratio}


def quality(new: dict[str, Any], min_score: float | None) -> list[dict[str, Any]]:
    """The quality gates: a verdict exists, and its test score reaches ``min_score`` (at most
    it, for error metrics such as RMSE)."""
    chosen = chosen_cell(new)
    checks = [{"name": "verdict", "passed": chosen is not None,
               "detail": "a cell meets the budgets" if chosen else new["headline"]}]
    if min_score is not None:
        score = chosen["test_mean"] if chosen else None
        higher = new["direction"] == "maximize"
        passed = score is not None and (score >= min_score if higher else score <= min_score)
        shown = "none" if score is None else f"{score:.4g}"
        checks.append({"name": "min-score", "passed": passed, "detail":
                       f"test {new['score_name']} {shown} {'>=' if higher else '<='} "
                       f"{min_score:g} required"})
    return checks


def evaluate(new: dict[str, Any], baseline: dict[str, Any] | None, *, baseline_source: str | None,
             min_score: float | None) -> dict[str, Any]:
    """The gates section of the document. Its status is "failed" when a quality gate failed,
    else "changed" when the decision changed since the baseline, else "passed"."""
    checks = quality(new, min_score)
    passed = all(c["passed"] for c in checks)
    change = compare(new, baseline) if baseline is not None else None
    changed = bool(change and change["changed"])
    status: GateStatus = "failed" if not passed else "changed" if changed else "passed"
    return {"baseline": baseline_source, "comparison": change, "checks": checks,
            "passed": passed, "changed": changed, "status": status, "promoted": False}
