"""Search efficiency: compute until the recommendation, selector versus a naive TPE search.

selector: `selector recommend` as a user runs it (Python API, same work): the search with
pruning, early stopping and per-cell fairness, then the final comparison (each cell's best
retrained with several seeds), the decision, the reports and the exported model.

Naive baseline: Optuna's TPE on the same search space, no pruning, every trial trained for the
space's full `max_epochs`, no fairness balancing; its verdict is the cell of its best trial.
It runs until it reaches selector's verdict with a best validation score within 1% of
selector's (or gives up after ``--max-naive`` trials). Compute is wall time on this machine.

    python -m bench.search                              # example:digits, 12 trials
    python -m bench.search --data "example:adding?length=50&n=2000" --trials 16
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import optuna

from bench._common import machine, table
from selector.api import RecommendRequest, SearchRequest, run_recommendation
from selector.data.load import load_dataset
from selector.process import flush_denormals
from selector.records import TrainingSettings
from selector.search.space import load_space
from selector.training.fitting import build_net, fit
from selector.training.system import score_direction


def run_selector(data: str, trials: int, seeds: int, folder: Path) -> tuple[float, str, float]:
    """(wall seconds, verdict, best validation score) of one `recommend`."""
    request = RecommendRequest(
        search=SearchRequest(data=data, n_trials=trials, storage=f"sqlite:///{folder}/o.db",
                             tracking_uri=f"sqlite:///{folder}/mlflow.db", accelerator="cpu",
                             study_name="bench-selector"),
        seeds=seeds, output_dir=str(folder / "out"))
    start = time.perf_counter()
    result = run_recommendation(request)
    wall = time.perf_counter() - start
    study = optuna.load_study(study_name="bench-selector", storage=request.search.storage)
    best = study.best_value
    return wall, str(result.recommendation.verdict), best


def run_naive(data_source: str, space_name: str, target: float, verdict: str,
              max_trials: int, seed: int) -> tuple[float, int, str, float, bool, float | None]:
    """(seconds, trials, its verdict, its best score, reached, seconds until its best score
    alone was within 1%) until it matches selector."""
    data = load_dataset(data_source)
    space = load_space(space_name)
    direction = score_direction(data.task)
    settings = TrainingSettings(max_epochs=space.training.max_epochs,
                                patience=space.training.max_epochs,
                                gradient_clip=space.training.gradient_clip)
    study = optuna.create_study(direction=direction,
                                sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=optuna.pruners.NopPruner())

    def objective(trial: optuna.Trial) -> float:
        config = space.suggest(trial, text=data.is_text)
        fitted = fit(build_net(config, data), data, settings, seed=seed + trial.number,
                     accelerator="cpu")
        return fitted.history.best(direction)["val_score"]

    def close_enough(best: float) -> bool:
        return best >= target * 0.99 if direction == "maximize" else best <= target * 1.01

    start = time.perf_counter()
    reached, score_reached_at = False, None
    while len(study.trials) < max_trials and not reached:
        study.optimize(objective, n_trials=1)
        best = study.best_trial
        if score_reached_at is None and close_enough(best.value):
            score_reached_at = time.perf_counter() - start
        reached = best.params["cell"] == verdict and close_enough(best.value)
    best = study.best_trial
    return (time.perf_counter() - start, len(study.trials), best.params["cell"], best.value,
            reached, score_reached_at)


def main() -> None:
    flush_denormals()  # as the selector command does, before torch's threads start
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="example:digits")
    parser.add_argument("--trials", type=int, default=12, help="selector's search budget")
    parser.add_argument("--seeds", type=int, default=3, help="selector's final comparison")
    parser.add_argument("--max-naive", type=int, default=36)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wall, verdict, best = run_selector(args.data, args.trials, args.seeds, Path(tmp))
    seconds, trials, naive_verdict, naive_best, reached, score_at = run_naive(
        args.data, "default", best, verdict, args.max_naive, args.seed)
    print(f"Search efficiency: {args.data}, default space\n{machine()}\n")
    print(table(["search", "trials", "verdict", "best val score", "compute (s)"], [
        [f"selector ({args.trials} trials + {args.seeds}-seed comparison)", args.trials,
         verdict.upper(), f"{best:.4f}", wall],
        ["naive TPE (no pruning, full epochs, no fairness)", trials, naive_verdict.upper(),
         f"{naive_best:.4f}", seconds]]))
    outcome = ("reached selector's verdict and a best score within 1%" if reached else
               f"did NOT reach selector's verdict within 1% in {trials} trials: ratio is a floor")
    print(f"\nNaive / selector compute: {seconds / wall:.2f}x (naive {outcome})")
    if score_at is not None:
        print(f"Naive / selector compute to a best score within 1% alone (any cell): "
              f"{score_at / wall:.2f}x")


if __name__ == "__main__":
    main()
