"""The decision: measured evidence in, a verdict with every criterion of criteria.md out.

Pure functions of plain records, so every branch can be tested on constructed evidence. The
order of the rules:

1. hard budgets first: a cell that breaks one is out;
2. LSTM only when its gain over GRU exceeds the minimum worthwhile gain *and* the paired
   interval across seeds excludes zero (L3); GRU likewise when it is credibly better;
3. otherwise the cells are on par and the cheaper one, as measured here, wins (G5).

"Cheaper" is a weighted geometric mean of the LSTM/GRU cost ratios, weighted by the
``prefer`` preset, so what is faster or lighter is never assumed.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import fields

from scipy import stats

from selector.records import (
    Budgets,
    CellEvidence,
    Comparison,
    Criterion,
    DataProfile,
    FinalCell,
    FinalComparison,
    Preferences,
    Recommendation,
)

# Preset defaults. Minimum gain: absolute for accuracy, a share of GRU's score for RMSE.
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
TOSS_UP_COST = 1.10  # cost indices closer than this are no reason to prefer either cell
CLEAR_COST = 1.25  # an on-par verdict is clear when the winner is this much cheaper
SPEED_CLAIM = (0.70, 0.80)  # G1: "GRU trains about 20-30% faster"


def cell_evidence(final: FinalCell, budgets: Budgets) -> CellEvidence:
    """Average a cell's seed runs and check them against the hard budgets."""
    scores = tuple(r.test_score for r in final.runs)
    cost: dict[str, float] = {}
    for f in fields(final.runs[0].cost):
        if f.name != "device":
            cost[f.name] = statistics.fmean(getattr(r.cost, f.name) for r in final.runs)
    cost["train_seconds"] = statistics.fmean(r.train_seconds for r in final.runs)
    cost["time_to_best_s"] = statistics.fmean(
        r.cost.train_seconds_per_epoch * r.cost.best_epoch for r in final.runs)
    violations = []
    if budgets.max_params is not None and cost["parameters"] > budgets.max_params:
        violations.append(f"{cost['parameters']:,.0f} parameters > --max-params "
                          f"{budgets.max_params:,}")
    if budgets.max_latency_ms is not None and cost["latency_ms_p50"] > budgets.max_latency_ms:
        violations.append(f"latency {cost['latency_ms_p50']:.2f} ms > --max-latency-ms "
                          f"{budgets.max_latency_ms:g}")
    if budgets.max_train_seconds is not None and cost["train_seconds"] > budgets.max_train_seconds:
        violations.append(f"training {cost['train_seconds']:.1f} s > --max-train-time "
                          f"{budgets.max_train_seconds:g}")
    return CellEvidence(cell=final.cell, trial=final.trial, config=final.config,
                        test_scores=scores, test_mean=statistics.fmean(scores),
                        test_std=statistics.stdev(scores) if len(scores) > 1 else 0.0,
                        cost=cost, violations=tuple(violations))


def paired_gain(final: FinalComparison, level: float) -> tuple[float | None, float | None,
                                                               float | None, float | None, int]:
    """Mean LSTM - GRU gain over seeds (positive: LSTM better), its t interval and p-value."""
    by_cell = {c.cell: {r.seed: r.test_score for r in c.runs} for c in final.cells}
    if set(by_cell) != {"gru", "lstm"}:
        return None, None, None, None, 0
    sign = 1.0 if final.direction == "maximize" else -1.0
    seeds = sorted(set(by_cell["gru"]) & set(by_cell["lstm"]))
    gains = [sign * (by_cell["lstm"][s] - by_cell["gru"][s]) for s in seeds]
    mean = statistics.fmean(gains)
    if len(gains) < 2:
        return mean, None, None, None, len(gains)
    sd = statistics.stdev(gains)
    if sd == 0.0:
        return mean, mean, mean, (0.0 if mean else 1.0), len(gains)
    half = float(stats.t.ppf(0.5 + level / 2, len(gains) - 1)) * sd / math.sqrt(len(gains))
    p = float(2 * stats.t.sf(abs(mean) / (sd / math.sqrt(len(gains))), len(gains) - 1))
    return mean, mean - half, mean + half, p, len(gains)


def decide(final: FinalComparison, profile: DataProfile, budgets: Budgets,
           preferences: Preferences) -> Recommendation:
    """Apply the criteria to the measured evidence."""
    prefer = preferences.prefer
    level = preferences.confidence_level or CONFIDENCE[prefer]
    cells = {c.cell: cell_evidence(c, budgets) for c in final.cells}
    maximize = final.direction == "maximize"
    if preferences.min_gain is not None:
        min_gain, source = preferences.min_gain, "--min-gain"
    elif maximize or "gru" not in cells:
        min_gain, source = MIN_GAIN[prefer], f"preset {prefer}"
    else:
        min_gain = MIN_GAIN[prefer] * cells["gru"].test_mean
        source = f"preset {prefer}: {MIN_GAIN[prefer]:.1%} of GRU's {final.score_name}"
    gain, low, high, p, pairs = paired_gain(final, level)
    ratios, index = _cost_ratios(cells, COST_WEIGHTS[prefer])
    comparison = Comparison(gain_mean=gain, ci_low=low, ci_high=high, level=level, p_value=p,
                            pairs=pairs, min_gain=min_gain, min_gain_source=source,
                            cost_ratios=ratios, cost_index=index)
    verdict, confidence, rationale = _verdict(cells, comparison, final.score_name)
    criteria = _criteria(final, profile, budgets, prefer, cells, comparison)
    return Recommendation(
        verdict=verdict, confidence=confidence, headline=_headline(verdict, confidence, cells),
        rationale=tuple(rationale), score_name=final.score_name, direction=final.direction,
        prefer=prefer, budgets=budgets, cells=tuple(cells.values()), comparison=comparison,
        criteria=criteria)


def _cost_ratios(cells: dict[str, CellEvidence],
                 weights: dict[str, float]) -> tuple[dict[str, float], float | None]:
    if set(cells) != {"gru", "lstm"}:
        return {}, None
    keys = ("train_seconds_per_epoch", "time_to_best_s", "train_seconds", "latency_ms_p50",
            "latency_ms_p95", "batch_latency_ms_p50", "parameters", "peak_memory_bytes",
            "best_epoch")
    ratios = {k: cells["lstm"].cost[k] / cells["gru"].cost[k] for k in keys
              if cells["gru"].cost[k] > 0}
    total = sum(weights.values())
    index = math.exp(sum(w * math.log(ratios[k]) for k, w in weights.items()
                         if w and k in ratios) / total)
    return ratios, index


def _verdict(cells: dict[str, CellEvidence], c: Comparison,
             score: str) -> tuple[str | None, str, list[str]]:
    feasible = [name for name, e in cells.items() if not e.violations]
    why = [f"{name.upper()} breaks the hard budget: {'; '.join(e.violations)}."
           for name, e in cells.items() if e.violations]
    missing = {"gru", "lstm"} - set(cells)
    why += [f"{name.upper()} has no complete search trial to retrain." for name in sorted(missing)]
    if not feasible:
        return None, "none", [*why, "No cell meets the hard budgets: loosen them or search a "
                                    "smaller space (e.g. --space edge)."]
    if len(feasible) == 1:
        return feasible[0], "clear", [*why, f"{feasible[0].upper()} is the only cell that fits."]
    assert c.gain_mean is not None and c.cost_index is not None
    gain, worth = c.gain_mean, c.min_gain
    interval = _interval(c, score)
    winner = _worthwhile_win(c)
    if winner is not None:
        assert c.ci_low is not None and c.ci_high is not None
        lstm = winner == "lstm"
        margin = c.ci_low if lstm else -c.ci_high  # the interval's end nearest to zero
        cheaper_too = c.cost_index <= 1 if lstm else c.cost_index >= 1
        sure = "clear" if margin >= worth or cheaper_too else "lean"
        return winner, sure, [
            *why,
            f"{'L3: ' if lstm else ''}{winner.upper()} is better by "
            f"{(gain if lstm else -gain):+.4g} {score} ({interval}), more than the minimum "
            f"worthwhile gain {worth:.4g}, and the gain is credible.",
            _cost_line(c.cost_index)]
    cheaper = "gru" if c.cost_index >= 1 else "lstm"
    gap = max(c.cost_index, 1 / c.cost_index)
    on_par = (f"G5: the cells are on par: LSTM - GRU = {gain:+.4g} {score} ({interval}); "
              f"minimum worthwhile gain {worth:.4g}.")
    equivalent = (c.ci_low is not None and c.ci_high is not None and c.ci_low > -worth
                  and c.ci_high < worth)
    leader = "lstm" if gain > 0 else "gru"
    inconclusive = abs(gain) > worth and not equivalent and leader != cheaper
    if inconclusive:
        sure = "toss-up"
        tail = (f"Inconclusive: {leader.upper()} scored better on average by {abs(gain):.4g}, "
                f"but the seeds disagree too much for that to be credible, and "
                f"{cheaper.upper()} is cheaper ({_cost_line(c.cost_index)}). Re-run with more "
                "--seeds before relying on this (E1).")
    elif gap < TOSS_UP_COST:
        sure = "toss-up"
        tail = (f"Their costs are within {TOSS_UP_COST - 1:.0%} too: a toss-up. Either cell is "
                f"fine; {cheaper.upper()} is named for being marginally cheaper (E1, E3).")
    else:
        sure = "clear" if equivalent and gap >= CLEAR_COST else "lean"
        tail = f"{cheaper.upper()} is cheaper as measured here ({_cost_line(c.cost_index)})."
        if not equivalent:
            tail += (" The interval is too wide to rule out a worthwhile difference: more "
                     "--seeds would sharpen it.")
    return cheaper, sure, [*why, on_par, tail]


def _interval(c: Comparison, score: str) -> str:
    if c.ci_low is None or c.ci_high is None:
        return f"{c.pairs} seed pair(s): too few for an interval"
    p = f", p = {c.p_value:.3g}" if c.p_value is not None else ""
    return f"{c.level:.0%} CI [{c.ci_low:+.4g}, {c.ci_high:+.4g}] over {c.pairs} seeds{p}"


def _cost_line(index: float) -> str:
    if index >= 1:
        return f"cost index LSTM/GRU {index:.2f}: GRU is {1 - 1 / index:.0%} cheaper"
    return f"cost index LSTM/GRU {index:.2f}: LSTM is {1 - index:.0%} cheaper"


def _headline(verdict: str | None, confidence: str, cells: dict[str, CellEvidence]) -> str:
    if verdict is None:
        return "No recommendation: no cell meets the hard budgets."
    config = cells[verdict].config
    shape = f"{config['hidden_size']} x {config['num_layers']}" + (
        " bidirectional" if config.get("bidirectional") else "")
    return f"{verdict.upper()} ({confidence}): {shape}, learning rate {config['learning_rate']:.2g}"


def _criteria(final: FinalComparison, profile: DataProfile, budgets: Budgets, prefer: str,
              cells: dict[str, CellEvidence], c: Comparison) -> tuple[Criterion, ...]:
    both = {"gru", "lstm"} <= set(cells)
    rows = [_g1(final, budgets, prefer, cells) if both else _untested("G1"),
            _g2(profile, c) if both else _untested("G2"),
            _g3(profile, cells, c) if both else _untested("G3"),
            _g4(prefer, cells) if both else _untested("G4"),
            _g5(c, final.score_name) if both else _untested("G5"),
            _l1(final, profile, c) if both else _untested("L1"),
            _l2(profile, c) if both else _untested("L2"),
            _l3(cells, c, final.score_name) if both else _untested("L3"),
            _e1(final, cells), _e2(final), _e3(final, cells, c)]
    return tuple(rows)


CLAIMS = {
    "G1": ("compute budget / real time / edge", "gru",
           "GRU trains about 20-30% faster than an equivalent LSTM, and infers faster."),
    "G2": ("short sequences", "gru",
           "Below about 100 steps, GRU does as well as LSTM with less compute."),
    "G3": ("small data", "gru",
           "With few training examples, GRU has fewer parameters and converges in fewer epochs."),
    "G4": ("fast iteration", "gru", "GRU's shorter training turns experiments around faster."),
    "G5": ("comparable accuracy: the lighter model wins", "gru",
           "The two are usually on par, and then the lighter model should be chosen."),
    "L1": ("long-range dependencies", "lstm",
           "Where distant context matters, LSTM's cell state retains it better."),
    "L2": ("large data", "lstm", "With plenty of data, LSTM's extra capacity is used."),
    "L3": ("the gain justifies the cost", "lstm",
           "LSTM is worth it when it is better by more than the minimum worthwhile gain, "
           "credibly, within budget."),
    "E1": ("it depends on the data: train both and compare", "either",
           "No rule of thumb replaces a fair measurement on the user's data."),
    "E2": ("claims need evidence", "either",
           "Every performance claim is backed by measured speed, size and accuracy with spread."),
    "E3": ("architecture is not the only lever", "either",
           "When the cells are within noise, hyperparameters and data matter more than the cell."),
}


def _criterion(cid: str, applies: bool, borne_out: str, evidence: str) -> Criterion:
    title, favours, claim = CLAIMS[cid]
    return Criterion(id=cid, title=title, favours=favours, claim=claim, applies=applies,
                     borne_out=borne_out, evidence=evidence)


def _untested(cid: str) -> Criterion:
    return _criterion(cid, False, "untested", "Needs both cells; one has no complete trial.")


def _ratio_word(ratio: float) -> str:
    return f"{abs(1 - ratio):.0%} {'faster' if ratio < 1 else 'slower'}"


def _g1(final: FinalComparison, budgets: Budgets, prefer: str,
        cells: dict[str, CellEvidence]) -> Criterion:
    applies = prefer == "edge" or budgets.max_latency_ms is not None or \
        budgets.max_train_seconds is not None
    if final.equal_config:
        train = statistics.fmean(t.train_step_ms["gru"] / t.train_step_ms["lstm"]
                                 for t in final.equal_config)
        infer = statistics.fmean(t.latency_ms["gru"] / t.latency_ms["lstm"]
                                 for t in final.equal_config)
        basis = f"at equal configuration ({len(final.equal_config)} config(s))"
    else:
        train = cells["gru"].cost["train_seconds_per_epoch"] / cells["lstm"].cost[
            "train_seconds_per_epoch"]
        infer = cells["gru"].cost["latency_ms_p50"] / cells["lstm"].cost["latency_ms_p50"]
        basis = "between the best configurations"
    evidence = (f"On {final.device}, {basis}: a GRU training step takes {train:.2f}x the LSTM's "
                f"time ({_ratio_word(train)}; the claim is 0.70-0.80x) and GRU inference "
                f"{infer:.2f}x ({_ratio_word(infer)}).")
    if train >= 1.0 and final.device.startswith("cpu"):
        evidence += (" On CPU, PyTorch's LSTM runs a fused oneDNN kernel and its GRU does not, "
                     "the reverse of the usual claim.")
    if train < 1.0 and infer < 1.0:
        verdict = "yes" if train <= SPEED_CLAIM[1] else "partly"
    elif train >= 1.0 and infer >= 1.0:
        verdict = "no"
        evidence += " G1: claim not borne out here."
    else:
        verdict = "partly"
    return _criterion("G1", applies, verdict, evidence)


def _credible(c: Comparison, cell: str) -> bool:
    """The paired interval puts ``cell`` ahead: it excludes zero on that cell's side."""
    if cell == "lstm":
        return c.ci_low is not None and c.ci_low > 0
    return c.ci_high is not None and c.ci_high < 0


def _worthwhile_win(c: Comparison) -> str | None:
    """The cell that is credibly better by more than the minimum worthwhile gain, if any."""
    if c.gain_mean is None:
        return None
    for cell, gain in (("lstm", c.gain_mean), ("gru", -c.gain_mean)):
        if gain > c.min_gain and _credible(c, cell):
            return cell
    return None


def _g2(profile: DataProfile, c: Comparison) -> Criterion:
    evidence = f"Median length {profile.length_median:g} steps (threshold 100)."
    if not profile.short_sequences:
        return _criterion("G2", False, "untested", evidence + " Sequences are not short.")
    if _worthwhile_win(c) == "lstm":
        return _criterion("G2", True, "no", evidence + f" Yet LSTM is credibly better by "
                          f"{c.gain_mean:+.4g}.")
    return _criterion("G2", True, "yes", evidence + f" GRU is on par or better (LSTM - GRU = "
                      f"{c.gain_mean:+.4g}).")


def _g3(profile: DataProfile, cells: dict[str, CellEvidence], c: Comparison) -> Criterion:
    gru, lstm = cells["gru"].cost, cells["lstm"].cost
    evidence = (f"{profile.n_train:,} training sequences ({profile.training_size}; small below "
                f"2,000). Parameters GRU {gru['parameters']:,.0f} vs LSTM {lstm['parameters']:,.0f}"
                f"; epochs to best GRU {gru['best_epoch']:.1f} vs LSTM {lstm['best_epoch']:.1f}.")
    if profile.training_size != "small":
        return _criterion("G3", False, "untested", evidence)
    checks = [gru["parameters"] < lstm["parameters"], gru["best_epoch"] <= lstm["best_epoch"],
              _worthwhile_win(c) != "lstm"]
    verdict = "yes" if all(checks) else "no" if not any(checks) else "partly"
    return _criterion("G3", True, verdict, evidence)


def _g4(prefer: str, cells: dict[str, CellEvidence]) -> Criterion:
    gru, lstm = cells["gru"].cost["time_to_best_s"], cells["lstm"].cost["time_to_best_s"]
    ratio = gru / lstm if lstm else math.inf
    evidence = (f"Time to the best epoch: GRU {gru:.1f} s vs LSTM {lstm:.1f} s (GRU "
                f"{_ratio_word(ratio)}).")
    verdict = "yes" if ratio < 0.95 else "no" if ratio > 1.05 else "partly"
    return _criterion("G4", prefer != "accuracy", verdict, evidence)


def _g5(c: Comparison, score: str) -> Criterion:
    on_par = _worthwhile_win(c) is None
    evidence = (f"LSTM - GRU = {c.gain_mean:+.4g} {score} ({_interval(c, score)}); minimum "
                f"worthwhile gain {c.min_gain:.4g} ({c.min_gain_source}).")
    if c.cost_index is not None:
        evidence += f" {_cost_line(c.cost_index)}."
    return _criterion("G5", on_par, "yes" if on_par else "no", evidence)


def _l1(final: FinalComparison, profile: DataProfile, c: Comparison) -> Criterion:
    lr = final.long_range
    if lr is None:
        return _criterion("L1", False, "untested", f"Median length {profile.length_median:g} "
                          "steps: sequences are short (G2), so long-range dependence was not "
                          "measured.")
    sign = 1 if final.direction == "maximize" else -1
    drop = sign * (lr.full_score - lr.context_score)
    runs = next(cell.runs for cell in final.cells if cell.cell == lr.cell)
    noise = statistics.stdev([r.test_score for r in runs]) if len(runs) > 1 else 0.0
    threshold = max(2 * noise, c.min_gain, 1e-9)
    depends = drop > threshold
    evidence = (f"{lr.cell.upper()} sees only the last {lr.context_steps} of ~{lr.median_steps} "
                f"steps: test {final.score_name} {lr.full_score:.4g} -> {lr.context_score:.4g} "
                f"(drop {drop:+.4g}; twice its seed spread: {2 * noise:.4g}).")
    if not depends:
        return _criterion("L1", False, "untested", evidence + " No evidence that distant "
                          "context matters here: the trained models do not use it. If the task "
                          "needs it, they did not learn it within this budget (train longer, "
                          "e.g. --space long_sequences).")
    evidence += " Distant context matters."
    if _credible(c, "lstm"):
        return _criterion("L1", True, "yes", evidence + f" LSTM is credibly better "
                          f"({c.gain_mean:+.4g}).")
    return _criterion("L1", True, "no", evidence + f" Yet LSTM is not credibly better "
                      f"(LSTM - GRU = {c.gain_mean:+.4g}): claim not borne out here.")


def _l2(profile: DataProfile, c: Comparison) -> Criterion:
    evidence = f"{profile.n_train:,} training sequences ({profile.training_size}; large from 50,000)."
    if profile.training_size != "large":
        return _criterion("L2", False, "untested", evidence)
    return _criterion("L2", True, "yes" if _credible(c, "lstm") else "no",
                      evidence + f" LSTM - GRU = {c.gain_mean:+.4g}.")


def _l3(cells: dict[str, CellEvidence], c: Comparison, score: str) -> Criterion:
    fits = not cells["lstm"].violations
    extra = ", ".join(f"{k} x{c.cost_ratios[k]:.2f}" for k in
                      ("time_to_best_s", "latency_ms_p50", "parameters") if k in c.cost_ratios)
    evidence = (f"LSTM - GRU = {c.gain_mean:+.4g} {score} ({_interval(c, score)}) against a "
                f"minimum worthwhile gain of {c.min_gain:.4g}; LSTM's cost relative to GRU: "
                f"{extra}.")
    if not fits:
        evidence += f" LSTM breaks the budget: {'; '.join(cells['lstm'].violations)}."
    return _criterion("L3", True, "yes" if _worthwhile_win(c) == "lstm" and fits else "no",
                      evidence)


def _e1(final: FinalComparison, cells: dict[str, CellEvidence]) -> Criterion:
    parts = [f"{e.cell.upper()} {e.test_mean:.4g} ± {e.test_std:.2g}" for e in cells.values()]
    return _criterion("E1", True, "yes", f"Both cells' best configurations retrained with seeds "
                      f"{', '.join(map(str, final.seeds))} on the same splits; test "
                      f"{final.score_name}: {'; '.join(parts)}.")


def _e2(final: FinalComparison) -> Criterion:
    return _criterion("E2", True, "yes", f"Speed, size, memory and accuracy of both cells are "
                      f"measured on {final.device} with {len(final.seeds)} seed(s) each; the "
                      "spread is reported with every mean.")


def _e3(final: FinalComparison, cells: dict[str, CellEvidence], c: Comparison) -> Criterion:
    sign = 1 if final.direction == "maximize" else -1
    effects = {f.cell: sign * (f.search_best_val - f.search_median_val) for f in final.cells}
    lever = max(effects.values())
    gain = abs(c.gain_mean) if c.gain_mean is not None else None
    within_noise = c.ci_low is not None and c.ci_high is not None and c.ci_low <= 0 <= c.ci_high
    evidence = ("Hyperparameter effect (best - median validation score of the search): "
                + ", ".join(f"{k.upper()} {v:.4g}" for k, v in effects.items()) + ".")
    if gain is None:
        return _criterion("E3", False, "untested", evidence)
    evidence += f" Cell effect |LSTM - GRU| = {gain:.4g}."
    applies = within_noise or gain < lever
    if gain < lever:
        evidence += (" The cell choice matters less than the hyperparameters"
                     + (", and is within seed noise." if within_noise else "."))
    elif within_noise:
        evidence += (" The cell difference is larger than the hyperparameters' effect, but "
                     "within seed noise: not a credible difference.")
    return _criterion("E3", applies, "yes" if applies else "no", evidence)

