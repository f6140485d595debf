"""Calibration of the verdict's statistics: A/A runs (no real difference) and a constructed gap.

For each dataset, one configuration is trained with a pool of seeds, and a deliberately
crippled copy of it (trained for a quarter of the epochs) with a pool of its own; every
model's outcome on every test sequence is kept. Then many comparisons are drawn from the pools:

  - **A/A**: k seeds against k other seeds of the *same* configuration, scored on a random half
    of the test split (a new test sample each draw). There is no real difference, so an
    interval that excludes zero is a false win; at 95% the rate must stay at or below 5%.
  - **gap**: k seeds of the configuration against k seeds of its crippled copy: a real
    difference, so the rate at which the interval excludes zero is the power.

Both the interval selector uses now (paired by seed and by test example, `selector.decision.stats`)
and the one it used before (a t interval over the k per-seed differences, seed noise only)
are computed on the same draws, side by side. The sequential comparison
(`selector.decision.sequential`) is then drawn the same way: k to the design's most pairs, a
look after each, stopping once the repeated interval decides against the balanced preset's
minimum gain; its false wins and power are read from the interval where it stopped, and its
compute is the mean pairs it ran against the fixed k.

A second table checks small data, where selector cross-validates (`selector.data.crossval`): at
two sizes, models with the same folds (or the same fixed split) and different training seeds
give A/A draws, and their crippled copies gap draws, for three methods: the seeds on the
fixed test split, 5-fold cross-validation over train + validation judged by the corrected
resampled t-test, and the same folds' held-out outcomes paired per sequence. Their interval
widths are what the size threshold `CV_BELOW` was chosen by.

    python -m bench.decision                 # three datasets, 2000 draws each (~5 minutes)
    python -m bench.decision --quick         # small pools, for the smoke test
    python -m bench.decision --seeds 3 --max-seeds 6   # the sequential design's limits
    python -m bench.decision --only panel    # one dataset's rows (here the panel, by MASE)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass

import lightning.pytorch as pl
import numpy as np
import pandas as pd

from bench._common import machine, table
from selector.data import DataOptions, load_dataset
from selector.data.batching import SplitDataset
from selector.data.crossval import FOLDS, Run, plan
from selector.data.dataset import SequenceData
from selector.decision.rules import MIN_GAIN
from selector.decision.sequential import Design, decided
from selector.decision.stats import corrected_resampled, paired_gain, seed_t_interval
from selector.process import flush_denormals
from selector.records import ModelConfig, TrainingSettings
from selector.training.fitting import build_net, compared_score, fit, outcomes, score_of

LEVEL = 0.95
PANEL = "synthetic panel"  # `write_panel`
DATASETS = (  # source, data options, configuration
    ("example:digits", DataOptions(), ModelConfig(cell="gru", hidden_size=24, batch_size=64,
                                                  learning_rate=1e-2)),
    ("example:sine?length=1500", DataOptions(lookback=24, horizon=1),
     ModelConfig(cell="lstm", hidden_size=16, batch_size=64, learning_rate=1e-2)),
    ("example:adding?length=30&n=1500", DataOptions(),
     ModelConfig(cell="gru", hidden_size=24, batch_size=64, learning_rate=1e-2)),
    (PANEL, DataOptions(lookback=14, horizon=7),  # judged by MASE
     ModelConfig(cell="gru", hidden_size=16, batch_size=64, learning_rate=1e-2)),
)


def write_panel(folder: str) -> str:
    """A panel of 16 daily series of 300 days, a weekly wave on a wandering level, at scales
    from 1 to 10^4; its CSV's path."""
    rng = np.random.default_rng(0)
    frames = []
    for i, scale in enumerate(np.logspace(0, 4, 16)):
        t = np.arange(300)
        level = 5 + np.cumsum(rng.normal(0, 0.2, len(t)))
        frames.append(pd.DataFrame({
            "unique_id": f"s{i}", "ds": pd.date_range("2025-01-01", periods=len(t), freq="D"),
            "y": scale * (level + np.sin(2 * np.pi * (t + i) / 7)
                          + 0.3 * rng.standard_normal(len(t)))}))
    path = f"{folder}/panel.csv"
    pd.concat(frames).to_csv(path, index=False)
    return path


def load(source: str, options: DataOptions) -> SequenceData:
    if source != PANEL:
        return load_dataset(source, options)
    with tempfile.TemporaryDirectory() as folder:
        return load_dataset(write_panel(folder), options)


@dataclass
class Pool:
    """Per-example test outcomes, one row per seed."""

    outcomes: np.ndarray
    seconds: float


def train_pool(data: SequenceData, config: ModelConfig, settings: TrainingSettings,
               seeds: range) -> Pool:
    start = time.perf_counter()
    fixed = Run(0, None, data.splits.train, data.splits.val, data.splits.test)
    rows = [_outcomes(data, config, settings, fixed, seed) for seed in seeds]
    return Pool(np.array(rows), time.perf_counter() - start)


def small_data(source: str, config: ModelConfig, settings: TrainingSettings,
               weak: TrainingSettings, pairs: int, k: int,
               rng: np.random.Generator) -> list[object]:
    """Small data, three methods on the same models: A/A false-win rate, mean width and power
    on a gap over draws of k of ``pairs`` model triples (training seeds s and s + 1000 of the
    configuration, s + 2000 of its crippled copy; the same split or the same folds).

    - seeds: the fixed split's test sequences, paired by seed and example (`paired_gain`);
    - cv: 5-fold cross-validation's per-fold scores, corrected resampled t-test;
    - cv pooled: the same folds' held-out outcomes gathered per seed into one outcome per
      train + validation sequence (each is held out once per seed), then paired by seed and
      by sequence like the seeds method (`paired_gain`).
    """
    data = load_dataset(source)
    score = compared_score(data)
    fixed = Run(0, None, data.splits.train, data.splits.val, data.splits.test)
    models = (("a", settings, 0), ("b", settings, 1000), ("weak", weak, 2000))
    held: dict[str, list[np.ndarray]] = {m: [] for m, _, _ in models}
    pooled: dict[str, list[np.ndarray]] = {m: [] for m, _, _ in models}
    folds: dict[str, list[list[float]]] = {m: [] for m, _, _ in models}
    for s in range(pairs):
        runs = plan(data, (s,), cross_validate=True)
        order = np.argsort(np.concatenate([r.held for r in runs]))
        for name, trained, offset in models:
            held[name].append(_outcomes(data, config, trained, fixed, s + offset))
            by_fold = [_outcomes(data, config, trained, r, s + offset) for r in runs]
            folds[name].append([score_of(o, score) for o in by_fold])
            pooled[name].append(np.concatenate(by_fold)[order])
    first = plan(data, (0,), cross_validate=True)[0]
    ratio = len(first.held) / len(first.train)
    found: dict[tuple[str, str], list[tuple[bool, float]]] = {}
    for _ in range(300):
        picked = rng.choice(pairs, k, replace=False)
        for kind, other in (("aa", "b"), ("gap", "weak")):
            for method, outcomes_of in (("seeds", held), ("pooled", pooled)):
                gain = paired_gain(np.array([outcomes_of["a"][i] for i in picked]),
                                   np.array([outcomes_of[other][i] for i in picked]),
                                   score=score, level=LEVEL)
                found.setdefault((kind, method), []).append(
                    (gain.low > 0 or gain.high < 0, gain.high - gain.low))
            sign = 1.0 if score == "accuracy" else -1.0
            cv = corrected_resampled([sign * (x - y) for i in picked for x, y in zip(
                folds["a"][i], folds[other][i], strict=True)], ratio, LEVEL)
            found.setdefault((kind, "cv"), []).append((cv.low > 0 or cv.high < 0,
                                                       cv.high - cv.low))
    size = len(data.splits.train) + len(data.splits.val)
    methods = ("seeds", "cv", "pooled")
    return [source, size, len(data.splits.test),
            *(f"{np.mean([w for w, _ in found[('aa', m)]]):.1%}" for m in methods),
            *(f"{np.mean([h for _, h in found[('aa', m)]]):.4f}" for m in methods),
            *(f"{np.mean([w for w, _ in found[('gap', m)]]):.1%}" for m in methods)]


def _outcomes(data: SequenceData, config: ModelConfig, settings: TrainingSettings, run: Run,
              seed: int) -> np.ndarray:
    """Train on ``run``'s sequences with ``seed``; the outcomes on its held-out ones."""
    pl.seed_everything(seed, workers=False, verbose=False)
    fitted = fit(build_net(config, data), data, settings, seed=seed, accelerator="cpu",
                 train_set=SplitDataset(data, run.train), val_set=SplitDataset(data, run.val))
    return outcomes(fitted.system, data, run.held, score=compared_score(data))


def draw(a: Pool, b: Pool, *, same: bool, k: int, block: int,
         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One comparison's outcomes: k seeds of ``a`` against k others of ``a`` (``same``: A/A)
    or k of ``b``, on a random half of the test split (for windows of one series, another
    test period, in time order)."""
    if same:
        picked = rng.choice(len(a.outcomes), 2 * k, replace=False)
        left, right = a.outcomes[picked[:k]], a.outcomes[picked[k:]]
    else:
        left = a.outcomes[rng.choice(len(a.outcomes), k, replace=False)]
        right = b.outcomes[rng.choice(len(b.outcomes), k, replace=False)]
    n = a.outcomes.shape[1]
    if block > 1:
        start = int(rng.integers(0, n - n // 2 + 1))
        sample = np.arange(start, start + n // 2)
    else:
        sample = rng.choice(n, n // 2, replace=False)
    return left[:, sample], right[:, sample]


def rates(a: Pool, b: Pool, *, same: bool, draws: int, k: int, score: str, block: int,
          rng: np.random.Generator) -> dict[str, float]:
    """Share of draws whose interval excludes zero, and mean interval width, old and new."""
    wins = {"new": 0, "old": 0}
    widths: dict[str, list[float]] = {"new": [], "old": []}
    for _ in range(draws):
        left, right = draw(a, b, same=same, k=k, block=block, rng=rng)
        gain = paired_gain(left, right, score=score, level=LEVEL, block=block)
        per_seed = (1.0 if score == "accuracy" else -1.0) * (
            seed_scores(left, score) - seed_scores(right, score))
        old = seed_t_interval(per_seed.tolist(), LEVEL)
        assert old is not None
        for name, (low, high) in (("new", (gain.low, gain.high)), ("old", old[1:])):
            wins[name] += low > 0 or high < 0
            widths[name].append(high - low)
    return {**{f"{name} rate": wins[name] / draws for name in wins},
            **{f"{name} width": float(np.mean(widths[name])) for name in widths}}


def seed_scores(outcomes: np.ndarray, score: str) -> np.ndarray:
    """Each seed's (row's) score from its per-example outcomes."""
    return np.array([score_of(row, score) for row in outcomes])


def sequential_rates(a: Pool, b: Pool, *, same: bool, draws: int, design: Design,
                     score: str, block: int, min_gain: float,
                     rng: np.random.Generator) -> dict[str, float]:
    """The sequential comparison on the same kind of draws: pairs from ``design.least`` to
    ``design.most``, stopping at the first look whose repeated interval decides (`decided`,
    against ``min_gain``). The share of draws whose interval at the stop excludes zero, and
    the mean pairs run."""
    wins, pairs = 0, []
    for _ in range(draws):
        left, right = draw(a, b, same=same, k=design.most, block=block, rng=rng)
        for look in range(design.least, design.most + 1):
            gain = paired_gain(left[:look], right[:look], score=score,
                               level=design.level_at(look), block=block)
            if decided(gain.low, gain.high, min_gain) or look == design.most:
                wins += gain.low > 0 or gain.high < 0
                pairs.append(look)
                break
    return {"rate": wins / draws, "pairs": float(np.mean(pairs))}


def main() -> None:
    flush_denormals()  # as the selector command does, before torch's threads start
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small pools and few draws")
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=3, help="k: seeds per side, as --seeds")
    parser.add_argument("--max-seeds", type=int, default=None,
                        help="the sequential design's most pairs, as --max-seeds (default 2k)")
    parser.add_argument("--only", default=None, help="only the datasets whose name holds this "
                        "text (e.g. 'panel'); the small-data table is then left out")
    args = parser.parse_args()
    design = Design(2, 3, LEVEL) if args.quick else \
        Design(args.seeds, args.max_seeds or 2 * args.seeds, LEVEL)  # (quick: small pools)
    pool_size, draws, epochs = (7, 100, 2) if args.quick else (40, args.draws, 16)
    settings = TrainingSettings(max_epochs=epochs, patience=4)
    crippled_settings = TrainingSettings(max_epochs=max(1, epochs // 4), patience=4)
    rng = np.random.default_rng(0)
    rows: list[list[object]] = []
    sequential_rows: list[list[object]] = []
    for source, options, config in DATASETS:
        if args.only and args.only not in source:
            continue
        data = load(source, options)
        score = compared_score(data)
        block = (data.lookback or 0) + (data.horizon or 0) or 1
        normal = train_pool(data, config, settings, range(pool_size))
        weak = train_pool(data, config, crippled_settings,
                          range(100, 100 + max(args.seeds, design.most, pool_size // 2)))
        scores = [seed_scores(p.outcomes, score) for p in (normal, weak)]
        aa = rates(normal, normal, same=True, draws=draws, k=args.seeds, score=score,
                   block=block, rng=rng)
        gap = rates(normal, weak, same=False, draws=draws, k=args.seeds, score=score,
                    block=block, rng=rng)
        # the balanced preset's minimum gain: a share of the score for RMSE (`rules._min_gain`)
        min_gain = MIN_GAIN["balanced"] * (float(np.mean(scores[0])) if score == "rmse" else 1.0)
        sequential = [sequential_rates(normal, other, same=same, draws=draws, design=design,
                                       score=score, block=block, min_gain=min_gain,
                                       rng=rng)
                      for other, same in ((normal, True), (weak, False))]
        rows.append([source, f"{data.task} ({score})", normal.outcomes.shape[1] // 2,
                     f"{np.mean(scores[0]):.4f} vs {np.mean(scores[1]):.4f}",
                     f"{aa['old rate']:.1%}", f"{aa['new rate']:.1%}",
                     f"{aa['old width']:.4f}", f"{aa['new width']:.4f}",
                     f"{gap['old rate']:.1%}", f"{gap['new rate']:.1%}",
                     f"{normal.seconds + weak.seconds:.0f}"])
        ceiling = rates(normal, weak, same=False, draws=draws, k=design.most,
                        score=score, block=block, rng=rng)  # no design of <= most beats it
        sequential_rows.append([
            source, f"{sequential[0]['rate']:.1%}", f"{sequential[1]['rate']:.1%}",
            f"{gap['new rate']:.1%}", f"{ceiling['new rate']:.1%}", f"{sequential[0]['pairs']:.2f}",
            f"{sequential[1]['pairs']:.2f}",
            f"{max(sequential[0]['pairs'], sequential[1]['pairs']) / args.seeds:.2f}x"])
        print(f"{source}: done", flush=True)
    print(f"\nMeasured on {machine()}; {LEVEL:.0%} intervals, k = {args.seeds} seeds per side, "
          f"{draws} draws per row, pools of {pool_size} seeds.\n")
    print(table(["data", "task", "test sequences per draw", "score: config vs crippled",
                 "A/A false wins, before", "A/A false wins, now", "A/A width, before",
                 "A/A width, now", "gap power, before", "gap power, now", "training s"], rows))
    print(f"\nSequential: {design.least} to {design.most} seed pairs, a look after each from "
          f"{design.least}, stopping once the repeated {LEVEL:.0%} interval decides against the "
          "balanced preset's minimum gain (selector.decision.sequential); the same draws' kind "
          f"as above, {draws} each.\n")
    print(table(["data", "A/A false wins", "gap power", f"gap power, fixed {args.seeds}",
                 f"gap power, fixed {design.most}", "mean pairs, A/A", "mean pairs, gap",
                 f"compute vs fixed {args.seeds} (worse case)"], sequential_rows))
    if args.only:
        return
    pairs = 4 if args.quick else 12
    small_settings = TrainingSettings(max_epochs=epochs, patience=4)
    config = ModelConfig(cell="gru", hidden_size=16, batch_size=32, learning_rate=1e-2)
    small = [small_data(source, config, small_settings, crippled_settings, pairs, args.seeds,
                        rng)
             for source in ("example:adding?length=20&n=300", "example:adding?length=20&n=1200")]
    print(f"\nSmall data: {pairs} model triples (training seeds s and s + 1000, and s + 2000 "
          f"of the crippled copy; the same split or the same {FOLDS} folds), 300 draws of "
          f"{args.seeds}, {LEVEL:.0%}. seeds: the fixed test split; CV: {FOLDS}-fold over train "
          "+ validation, corrected resampled t; pooled: the same folds' held-out outcomes "
          "paired per sequence.\n")
    print(table(["data", "train + val", "test", "A/A false wins, seeds", "A/A false wins, CV",
                 "A/A false wins, pooled", "width, seeds", "width, CV", "width, pooled",
                 "gap power, seeds", "gap power, CV", "gap power, pooled"], small))


if __name__ == "__main__":
    main()
