"""Each decision criterion (G1-G5, L1-L3, E1-E3; selector/docs/criteria.md) checked against
the measured evidence: does it apply to this data, and is its claim borne out here."""

from __future__ import annotations

import math
import statistics

from selector.choices import Cell, sign
from selector.data.crossval import FOLDS
from selector.decision.stats import seed_t_interval
from selector.errors import param
from selector.records import (
    Budgets,
    CellEvidence,
    Comparison,
    Criterion,
    DataProfile,
    EqualConfigTiming,
    FinalComparison,
    LongRange,
)

SPEED_CLAIM = (0.70, 0.80)  # G1: "GRU trains about 20-30% faster"
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


def credible(c: Comparison, cell: str) -> bool:
    """The paired interval puts ``cell`` ahead: it excludes zero on that cell's side."""
    if cell == "lstm":
        return c.ci_low is not None and c.ci_low > 0
    return c.ci_high is not None and c.ci_high < 0


def worthwhile_win(c: Comparison) -> Cell | None:
    """The cell that is credibly better by more than the minimum worthwhile gain, if any."""
    if c.gain_mean is None:
        return None
    sides: tuple[tuple[Cell, float], ...] = (("lstm", c.gain_mean), ("gru", -c.gain_mean))
    for cell, gain in sides:
        if gain > c.min_gain and credible(c, cell):
            return cell
    return None


def interval_text(c: Comparison) -> str:
    if c.ci_low is None or c.ci_high is None:
        return f"{c.pairs} seed pair(s): too few for an interval"
    p = f", p = {c.p_value:.3g}" if c.p_value is not None else ""
    over = (f"over {c.pairs} folds of cross-validation on train + validation (corrected "
            f"resampled t-test)" if c.method == "cv" else
            f"over {c.pairs} seeds and {c.examples:,} test sequences")
    return f"{c.level:.0%} CI [{c.ci_low:+.4g}, {c.ci_high:+.4g}] {over}{p}{sequential_text(c)}"


def sequential_text(c: Comparison) -> str:
    """How many seed pairs a sequential comparison ran, why it stopped, and the level its
    interval had at that look ("" for a fixed number of seeds)."""
    if not c.most_pairs or c.look_level is None:
        return ""
    looks = max(c.runs.values(), default=0) // (FOLDS if c.method == "cv" else 1)
    why = {"decided": "the interval decided", "budget": f"{param('budget')} paid for no more",
           "maximum": "the most pairs ran"}.get(c.stopped, c.stopped)
    return (f"; {looks} of at most {c.most_pairs} seed pairs, stopped as {why} (a repeated "
            f"confidence interval, at {c.look_level:.2%} at this look, keeps {c.level:.0%} over "
            "every look)")


def cost_line(c: Comparison) -> str:
    index = c.cost_index
    assert index is not None
    noisy = ", ".join(sorted({"latency_ms_p50", "time_to_best_s"} - set(c.credible_costs)))
    within = f"; within noise, counted as equal: {noisy}" if noisy else ""
    if index >= 1:
        return f"cost index LSTM/GRU {index:.2f}: GRU is {1 - 1 / index:.0%} cheaper{within}"
    return f"cost index LSTM/GRU {index:.2f}: LSTM is {1 - index:.0%} cheaper{within}"


def size_line(c: Comparison) -> str:
    assert c.size_ratio is not None
    return f"multiply-adds per step LSTM/GRU {c.size_ratio:.2f}"


def criteria(final: FinalComparison, profile: DataProfile, budgets: Budgets, prefer: str,
             cells: dict[Cell, CellEvidence], c: Comparison) -> tuple[Criterion, ...]:
    both = {"gru", "lstm"} <= set(cells)
    gained = both and c.gain_mean is not None  # a pair of runs that had their chance to learn
    why = ("Needs both cells; one has no complete trial." if not both else
           "Needs a pair of runs that each learned (beat the trivial baseline) or trained to "
           "their end without the budget cutting them short.")
    rows = [_g1(final, budgets, prefer, cells) if both else _untested("G1", why),
            _g2(profile, c) if gained else _untested("G2", why),
            _g3(profile, cells, c) if both else _untested("G3", why),
            _g4(prefer, cells, c) if both else _untested("G4", why),
            _g5(c, final.score_name) if gained else _untested("G5", why),
            _l1(final, profile, c) if both else _untested("L1", why),
            _l2(profile, c) if gained else _untested("L2", why),
            _l3(cells, c, final.score_name) if gained else _untested("L3", why),
            _e1(final, cells), _e2(final), _e3(final, c, profile)]
    return tuple(rows)


def _criterion(cid: str, applies: bool, borne_out: str, evidence: str) -> Criterion:
    title, favours, claim = CLAIMS[cid]
    return Criterion(id=cid, title=title, favours=favours, claim=claim, applies=applies,
                     borne_out=borne_out, evidence=evidence)


def _untested(cid: str, why: str) -> Criterion:
    return _criterion(cid, False, "untested", why)


def _ratio_word(ratio: float) -> str:
    return f"{abs(1 - ratio):.0%} {'faster' if ratio < 1 else 'slower'}"


def _g1(final: FinalComparison, budgets: Budgets, prefer: str,
        cells: dict[Cell, CellEvidence]) -> Criterion:
    applies = prefer == "edge" or budgets.max_latency_ms is not None or \
        budgets.max_train_seconds is not None
    if final.equal_config:
        train, infer, sure_train, sure_infer, basis = _equal_config_speed(final.equal_config)
    else:
        train = cells["gru"].cost["train_seconds_per_epoch"] / cells["lstm"].cost[
            "train_seconds_per_epoch"]
        infer = cells["gru"].cost["latency_ms_p50"] / cells["lstm"].cost["latency_ms_p50"]
        sure_train = sure_infer = True
        basis = "between the best configurations: "
    evidence = (f"On {final.device}, {basis}a GRU training step takes {train:.2f}x the LSTM's "
                f"time ({_ratio_word(train)}; the claim is 0.70-0.80x) and GRU inference "
                f"{infer:.2f}x ({_ratio_word(infer)}).")
    if not (sure_train and sure_infer):
        evidence += " Intervals that include 1 are no difference at all."
    if train >= 1.0 and final.device.startswith("cpu"):
        evidence += (" On CPU, PyTorch's LSTM runs a fused oneDNN kernel and its GRU does not, "
                     "the reverse of the usual claim.")
    faster_train, faster_infer = train < 1.0 and sure_train, infer < 1.0 and sure_infer
    slower_train, slower_infer = train >= 1.0 and sure_train, infer >= 1.0 and sure_infer
    if faster_train and faster_infer:
        verdict = "yes" if train <= SPEED_CLAIM[1] else "partly"
    elif (slower_train or not sure_train) and (slower_infer or not sure_infer):
        verdict = "no"
        evidence += " G1: claim not borne out here."
    else:
        verdict = "partly"
    return _criterion("G1", applies, verdict, evidence)


def _equal_config_speed(timed: tuple[EqualConfigTiming, ...]
                        ) -> tuple[float, float, bool, bool, str]:
    """GRU/LSTM training step and inference time at equal configurations (1 / LSTM/GRU, its
    interval flipped), whether each is credible, and what they were measured on: inference
    in ONNX Runtime, which serves the handed-over model, where it was timed (CPU), the eager
    figure beside it."""
    served = all(t.served_latency_ratio is not None for t in timed)
    latency = [t.served_latency_ratio if served and t.served_latency_ratio else
               t.latency_ratio for t in timed]
    train = statistics.fmean(1 / t.train_step_ratio.value for t in timed)
    infer = statistics.fmean(1 / r.value for r in latency)
    spread = "; ".join(
        f"train step GRU/LSTM [{1 / t.train_step_ratio.high:.2f}, "
        f"{1 / t.train_step_ratio.low:.2f}], latency [{1 / r.high:.2f}, {1 / r.low:.2f}]"
        for t, r in zip(timed, latency, strict=True))
    runtime = ""
    if served:
        eager = statistics.fmean(1 / t.latency_ratio.value for t in timed)
        runtime = (f"; inference in ONNX Runtime, which serves the handed-over model (eager "
                   f"PyTorch: GRU {eager:.2f}x the LSTM's time)")
    basis = (f"at equal configuration ({len(timed)} config(s), interleaved timings; "
             f"{timed[0].latency_ratio.level:.0%} intervals: {spread}{runtime}): ")
    return (train, infer, all(t.train_step_ratio.credible for t in timed),
            all(r.credible for r in latency), basis)


def _g2(profile: DataProfile, c: Comparison) -> Criterion:
    evidence = f"Median length {profile.length_median:g} steps (threshold 100)."
    if not profile.short_sequences:
        return _criterion("G2", False, "untested", evidence + " Sequences are not short.")
    if worthwhile_win(c) == "lstm":
        return _criterion("G2", True, "no", evidence + f" Yet LSTM is credibly better (gain "
                          f"{c.gain_mean:+.4g}).")
    return _criterion("G2", True, "yes", evidence + f" GRU is on par or better (gain of LSTM "
                      f"over GRU {c.gain_mean:+.4g}).")


def _g3(profile: DataProfile, cells: dict[Cell, CellEvidence], c: Comparison) -> Criterion:
    gru, lstm = cells["gru"].cost, cells["lstm"].cost
    evidence = (f"{profile.n_train:,} training sequences ({profile.training_size}; small below "
                f"2,000). Parameters GRU {gru['parameters']:,.0f} vs LSTM {lstm['parameters']:,.0f}"
                f"; epochs to best GRU {gru['best_epoch']:.1f} vs LSTM {lstm['best_epoch']:.1f}.")
    if profile.training_size != "small":
        return _criterion("G3", False, "untested", evidence)
    checks = [gru["parameters"] < lstm["parameters"], gru["best_epoch"] <= lstm["best_epoch"],
              worthwhile_win(c) != "lstm"]
    verdict = "yes" if all(checks) else "no" if not any(checks) else "partly"
    return _criterion("G3", True, verdict, evidence)


def _g4(prefer: str, cells: dict[Cell, CellEvidence], c: Comparison) -> Criterion:
    gru, lstm = cells["gru"].cost["time_to_best_s"], cells["lstm"].cost["time_to_best_s"]
    ratio = gru / lstm if lstm else math.inf
    evidence = (f"Time to the best epoch (whole epochs, validation included; one-time set-up "
                f"left out): GRU {gru:.2f} s vs LSTM {lstm:.2f} s (GRU {_ratio_word(ratio)}).")
    if "time_to_best_s" not in c.credible_costs:
        return _criterion("G4", prefer != "accuracy", "partly", evidence + " The difference "
                          "is within the spread between seeds.")
    verdict = "yes" if ratio < 1 else "no"
    return _criterion("G4", prefer != "accuracy", verdict, evidence)


def _g5(c: Comparison, score: str) -> Criterion:
    on_par = worthwhile_win(c) is None
    evidence = (f"Gain of LSTM over GRU {c.gain_mean:+.4g} {score} ({interval_text(c)}); "
                f"minimum worthwhile gain {c.min_gain:.4g} ({c.min_gain_source}).")
    if c.cost_index is not None:
        evidence += f" {cost_line(c)}; {size_line(c)}."
    return _criterion("G5", on_par, "yes" if on_par else "no", evidence)


def _l1(final: FinalComparison, profile: DataProfile, c: Comparison) -> Criterion:
    """Per seed, how much each cell loses when it sees only the last quarter of each sequence;
    distant context matters when a cell's loss exceeds its own seed spread; LSTM retains it
    better when its loss is credibly smaller than GRU's, seed by seed."""
    if not final.long_range:
        why = ("sequences are short (G2), so long-range dependence was not measured." if
               profile.short_sequences else "the budget left no time for its shortened runs.")
        return _criterion("L1", False, "untested", f"Median length {profile.length_median:g} "
                          f"steps: {why}")
    better = sign(final.direction)
    share = min(r.share for r in final.long_range)
    drops: dict[str, dict[int, float]] = {"gru": {}, "lstm": {}}
    for r in final.long_range:
        if r.share == share:
            drops[r.cell][r.seed] = better * (r.full_score - r.context_score)
    parts, matters = [], []
    for cell in ("gru", "lstm"):
        full = [r.full_score for r in final.long_range if r.cell == cell and r.share == share]
        noise = statistics.stdev(full) if len(full) > 1 else 0.0
        mean = statistics.fmean(drops[cell].values())
        matters.append(mean > max(2 * noise, c.min_gain, 1e-9))
        parts.append(f"{cell.upper()} drops {mean:+.4g} (twice its seed spread {2 * noise:.4g})")
    context = _first(final.long_range, share)
    evidence = (f"Retrained on only the last {context.context_steps} of ~{context.median_steps} "
                f"steps with the same seeds, test {final.score_name}: {'; '.join(parts)}.")
    if not any(matters):
        return _criterion("L1", False, "no", evidence + " No evidence that distant context "
                          "matters here: neither cell's models use it. If the task needs it, "
                          f"they did not learn it within this budget (e.g. "
                          f"{param('space', 'long_sequences')}.")
    seeds = sorted(set(drops["gru"]) & set(drops["lstm"]))
    diff = seed_t_interval([drops["gru"][s] - drops["lstm"][s] for s in seeds], c.level)
    evidence += " Distant context matters."
    if diff is not None and diff[1] > 0:
        return _criterion("L1", True, "yes", evidence + f" LSTM loses credibly less than GRU "
                          f"without it (by {diff[0]:.4g}, {c.level:.0%} CI [{diff[1]:.4g}, "
                          f"{diff[2]:.4g}] over {len(seeds)} seeds).")
    shown = "" if diff is None else f" (GRU's drop - LSTM's {diff[0]:+.4g}, CI [{diff[1]:+.4g}, " \
        f"{diff[2]:+.4g}])"
    return _criterion("L1", True, "no", evidence + f" Yet LSTM does not retain it credibly "
                      f"better than GRU{shown}: claim not borne out here.")


def _first(ranges: tuple[LongRange, ...], share: float) -> LongRange:
    return next(r for r in ranges if r.share == share)


def _l2(profile: DataProfile, c: Comparison) -> Criterion:
    evidence = f"{profile.n_train:,} training sequences ({profile.training_size}; large from 50,000)."
    if profile.training_size != "large":
        return _criterion("L2", False, "untested", evidence)
    return _criterion("L2", True, "yes" if credible(c, "lstm") else "no",
                      evidence + f" Gain of LSTM over GRU {c.gain_mean:+.4g}.")


def _l3(cells: dict[Cell, CellEvidence], c: Comparison, score: str) -> Criterion:
    fits = not cells["lstm"].violations
    extra = ", ".join(f"{k} x{c.cost_ratios[k]:.2f}" for k in
                      ("time_to_best_s", "latency_ms_p50", "parameters") if k in c.cost_ratios)
    evidence = (f"Gain of LSTM over GRU {c.gain_mean:+.4g} {score} ({interval_text(c)}) against "
                f"a minimum worthwhile gain of {c.min_gain:.4g}; LSTM's cost relative to GRU: "
                f"{extra}.")
    if not fits:
        evidence += f" LSTM breaks the budget: {'; '.join(cells['lstm'].violations)}."
    return _criterion("L3", True, "yes" if worthwhile_win(c) == "lstm" and fits else "no",
                      evidence)


def _e1(final: FinalComparison, cells: dict[Cell, CellEvidence]) -> Criterion:
    parts = [f"{e.cell.upper()} {e.test_mean:.4g} ± {e.test_std:.2g}" for e in cells.values()]
    seeds = ", ".join(map(str, final.seeds_run()))
    how = (f"cross-validated on train + validation with seeds {seeds} (the same folds for both); "
           f"held-out" if final.method == "cv" else
           f"retrained with seeds {seeds} on the same splits; test")
    return _criterion("E1", True, "yes", f"Both cells' best configurations {how} "
                      f"{final.score_name}: {'; '.join(parts)}.")


def _e2(final: FinalComparison) -> Criterion:
    return _criterion("E2", True, "yes", f"Speed, size, memory and accuracy of both cells are "
                      f"measured on {final.device} with {min(len(c.runs) for c in final.cells)} "
                      "run(s) each; the "
                      "spread is reported with every mean, and timings of the two cells are "
                      "interleaved.")


def _e3(final: FinalComparison, c: Comparison, profile: DataProfile) -> Criterion:
    better = sign(final.direction)
    shares = final.score_name == "mase"  # the search scored RMSE: compare shares, not units
    effects = {f.cell: better * (f.search_best_val - f.search_median_val)
               / (max(abs(f.search_median_val), 1e-12) if shares else 1.0) + 0.0  # never -0
               for f in final.cells}
    lever = max(effects.values())
    evidence = ("Hyperparameter effect (best - median validation score of the search"
                + (", as a share of the median" if shares else "") + "): "
                + ", ".join(f"{k.upper()} {v:.4g}" for k, v in effects.items()) + "."
                + blind_search(final, profile))
    if c.gain_mean is None:
        return _criterion("E3", False, "untested", evidence)
    gru = next((f for f in final.cells if f.cell == "gru"), None)
    gain = abs(c.gain_mean) / (max(abs(statistics.mean(r.test_score for r in gru.runs)), 1e-12)
                               if shares and gru and gru.runs else 1.0)
    within_noise = c.ci_low is not None and c.ci_high is not None and c.ci_low <= 0 <= c.ci_high
    of_gru = " as a share of GRU's test MASE" if shares else ""
    evidence += f" Cell effect |gain of LSTM over GRU|{of_gru} = {gain:.4g}."
    applies = within_noise or gain < lever
    noise = ", and is within noise." if within_noise else "."
    if gain < lever:
        evidence += " The cell choice matters less than the hyperparameters" + noise
    elif gain == lever:
        evidence += " The cell choice matters as much as the hyperparameters" + noise
    elif within_noise:
        evidence += (" The cell difference is larger than the hyperparameters' effect, but "
                     "within noise: not a credible difference.")
    return _criterion("E3", applies, "yes" if applies else "no", evidence)


def blind_search(final: FinalComparison, profile: DataProfile) -> str:
    """A sentence when the search's validation split was too small to rank its candidates:
    for accuracy, each cell's best and median trial within two standard errors of a
    difference between two models on ``profile.n_val`` sequences (or saturated at 1); else ""."""
    n = profile.n_val
    if final.direction != "maximize" or n < 1 or not final.cells:
        return ""
    blind = []
    for f in final.cells:
        p = min(max(f.search_median_val, 0.0), 1.0)
        noise = 2 * math.sqrt(2 * p * (1 - p) / n)
        if f.search_best_val - f.search_median_val <= max(noise, 0.5 / n):
            saturated = " (saturated)" if f.search_best_val >= 1.0 else ""
            blind.append(f"{f.cell.upper()}{saturated}")
    if not blind:
        return ""
    return (f" The search could not separate its candidates for {' and '.join(blind)}: on "
            f"{n:,} validation sequences, its best and median trials are within the noise of "
            f"the validation split, so which configuration it kept is close to arbitrary. "
            f"A larger validation share ({param('val_fraction')}) or more data lets it rank them.")

