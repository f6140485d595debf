"""Study-level plots for the dashboard, drawn from the study storage alone.

Optuna's visualization module draws what it has (optimization history, parameter importances,
Pareto front); the per-cell validation curves and the score-vs-latency scatter of a
single-objective study are drawn here. Every plot is a PNG, which the MLflow UI shows inline.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import matplotlib.pyplot as plt  # the caller's backend is kept (the CLI's is agg); every

# figure drawn here is saved to a file and closed, so none is ever shown
import optuna
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from optuna.trial import FrozenTrial, TrialState
from optuna.visualization import matplotlib as optuna_plots

from selector.choices import Direction, sign
from selector.files import write_file
from selector.records import CELLS, FinalComparison
from selector.search.state import trial_attrs
from selector.search.study import cell_of, direction_of

COLOURS = {"gru": "tab:blue", "lstm": "tab:orange"}
BEST_CURVES_PER_CELL = 3
FINAL_COSTS = {"train_seconds_per_epoch": "train s/epoch", "best_epoch": "epochs to best",
               "latency_ms_p50": "latency (batch 1)", "batch_latency_ms_p50": "latency (batch)",
               "parameters": "parameters", "peak_memory_bytes": "training memory"}


def write_study_plots(study: optuna.Study, folder: Path, *, score_name: str) -> list[str]:
    """Write every plot the study has enough trials for; returns the file names written.

    A plot that cannot be drawn yet (too few complete trials, a single value everywhere) is
    skipped: the next refresh tries again.
    """
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    direction = direction_of(study)
    plots: dict[str, Callable[[], Axes]] = {
        "optimization_history.png": lambda: _history(complete, score_name, direction),
        "validation_curves.png": lambda: _curves(complete, score_name, direction),
        "param_importances.png": lambda: _importances(study, complete, score_name),
        "score_vs_latency.png": lambda: _score_vs_latency(study, complete, score_name, direction),
    }
    written = []
    for name, draw in plots.items():
        with _quiet():
            try:
                axes = draw()
            except (ValueError, RuntimeError, ZeroDivisionError, IndexError):
                continue  # not drawable yet
        try:
            save(figure_of(axes), folder / name)
            written.append(name)
        finally:
            plt.close(figure_of(axes))
    return written


def figure_of(axes: Axes) -> Figure:
    """The figure ``axes`` is drawn on (selector draws no subfigures)."""
    figure = axes.get_figure()
    assert isinstance(figure, Figure)
    return figure


def save(figure: Figure, path: Path) -> None:
    """The figure as a PNG at ``path``, written whole (see `selector.files`)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    write_file(path, buffer.getvalue())


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib module experimental
        yield


def _first_value(trial: FrozenTrial) -> float:
    return trial.values[0]


def _history(complete: list[FrozenTrial], score_name: str, direction: Direction) -> Axes:
    """Each cell's scores by trial number, with its best so far as a step line.

    Drawn here because Optuna's history of several studies renumbers each one's trials.
    """
    if not complete:
        raise ValueError("no complete trial yet")
    pick = max if sign(direction) > 0 else min
    _, axes = plt.subplots(figsize=(8, 5))
    for cell in CELLS:
        mine = sorted((t for t in complete if cell_of(t) == cell), key=lambda t: t.number)
        if not mine:
            continue
        numbers = [t.number for t in mine]
        values = [t.values[0] for t in mine]
        best = [pick(values[: i + 1]) for i in range(len(values))]
        axes.scatter(numbers, values, color=COLOURS[cell], alpha=0.6, label=f"{cell.upper()} trial")
        axes.step(numbers, best, where="post", color=COLOURS[cell],
                  label=f"{cell.upper()} best so far")
    axes.set_xlabel("trial number")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel(f"validation {score_name}")
    axes.set_title(f"Optimization history per cell: validation {score_name}")
    axes.legend(fontsize="small")
    axes.grid(alpha=0.3)
    return axes


def _curves(complete: list[FrozenTrial], score_name: str, direction: Direction) -> Axes:
    """Validation curves of the best few trials of each cell, epoch by epoch."""
    _, axes = plt.subplots(figsize=(8, 5))
    drawn = 0
    for cell in CELLS:
        mine = sorted((t for t in complete if cell_of(t) == cell),
                      key=lambda t: -sign(direction) * t.values[0])[:BEST_CURVES_PER_CELL]
        for rank, trial in enumerate(mine):
            curve = trial_attrs(trial).curves
            axes.plot([e["epoch"] for e in curve], [e["val_score"] for e in curve],
                      color=COLOURS[cell], alpha=1.0 - 0.25 * rank, marker="o", markersize=3,
                      linestyle="-" if rank == 0 else "--",
                      label=f"{cell.upper()} trial #{trial.number}")
            drawn += 1
    if not drawn:
        plt.close(figure_of(axes))
        raise ValueError("no complete trial yet")
    axes.set_xlabel("epoch")
    axes.set_ylabel(f"validation {score_name}")
    axes.set_title(f"Validation curves of the best {BEST_CURVES_PER_CELL} trials per cell")
    axes.legend(fontsize="small")
    axes.grid(alpha=0.3)
    return axes


def _importances(study: optuna.Study, complete: list[FrozenTrial], score_name: str) -> Axes:
    if len(complete) < 2:
        raise ValueError("importances need two complete trials")
    target = _first_value if len(study.directions) > 1 else None
    axes = optuna_plots.plot_param_importances(study, target=target,
                                               target_name=f"validation {score_name}")
    axes.set_title(f"Hyperparameter importances for validation {score_name} (fANOVA)")
    return axes


def _score_vs_latency(study: optuna.Study, complete: list[FrozenTrial], score_name: str,
                      direction: Direction) -> Axes:
    """The Pareto front in multi-objective mode; otherwise score against latency per cell."""
    if len(study.directions) > 1:
        axes = optuna_plots.plot_pareto_front(
            study, target_names=[f"validation {score_name}", "latency p50 (ms, batch 1)"])
        axes.set_title("Pareto front: validation score vs latency")
        return axes
    points = [(latency, t.values[0], cell_of(t)) for t in complete
              if (latency := trial_attrs(t).latency_ms_p50) is not None]
    if not points:
        raise ValueError("no complete trial yet")
    _, axes = plt.subplots(figsize=(8, 5))
    for cell in CELLS:
        mine = [(x, y) for x, y, c in points if c == cell]
        if mine:
            axes.scatter(*zip(*mine, strict=True), color=COLOURS[cell], label=cell.upper(),
                         alpha=0.8)
    front = _front(points, direction)
    axes.step(*zip(*front, strict=True), where="post", color="grey", linestyle=":",
              label="best score for its latency")
    axes.set_xlabel("latency p50 (ms, batch 1, this machine)")
    axes.set_ylabel(f"validation {score_name}")
    axes.set_title("Validation score vs inference latency")
    axes.legend(fontsize="small")
    axes.grid(alpha=0.3)
    return axes


def _front(points: list[tuple[float, float, str | None]],
           direction: Direction) -> list[tuple[float, float]]:
    """Points no faster candidate beats on score, ordered by latency."""
    better = sign(direction)
    front: list[tuple[float, float]] = []
    for x, y, _ in sorted(points, key=lambda p: (p[0], -better * p[1])):
        if not front or better * y > better * front[-1][1]:
            front.append((x, y))
    return front


def write_final_plot(final: FinalComparison, path: Path) -> None:
    """Test score of every seed run per cell, and the LSTM/GRU ratio of each measured cost."""
    figure, (scores, costs) = plt.subplots(1, 2, figsize=(10, 3.8))
    try:
        for k, cell in enumerate(final.cells):
            values = [r.test_score for r in cell.runs]
            scores.scatter([k] * len(values), values, color=COLOURS[cell.cell], zorder=3)
            scores.hlines(sum(values) / len(values), k - 0.2, k + 0.2, color=COLOURS[cell.cell])
        scores.set_xticks(range(len(final.cells)), [c.cell.upper() for c in final.cells])
        scores.set_xlim(-0.6, len(final.cells) - 0.4)
        scores.set_ylabel(f"test {final.score_name}")
        scores.set_title(f"Final runs: {len(final.seeds_run())} seed(s) per cell (bar: mean)")
        if len(final.cells) == 2:
            means = {c.cell: {k: sum(getattr(r.cost, k) for r in c.runs) / len(c.runs)
                              for k in FINAL_COSTS} for c in final.cells}
            ratios = [means["lstm"][k] / means["gru"][k] for k in FINAL_COSTS]
            costs.barh(list(FINAL_COSTS.values()), ratios,
                       color=[COLOURS["lstm"] if r > 1 else COLOURS["gru"] for r in ratios])
            costs.axvline(1.0, color="black", linewidth=0.8)
            costs.set_xlabel("LSTM / GRU (right of 1: LSTM costs more)")
            costs.set_title("Measured cost ratios")
        else:
            costs.set_axis_off()
        save(figure, path)
    finally:
        plt.close(figure)

