"""Study plots: drawn from the storage alone, skipped until there is something to draw."""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import create_trial

from selector.reports.plots import _front, write_study_plots

SPACE = {"cell": CategoricalDistribution(["gru", "lstm"]), "hidden_size": IntDistribution(4, 64)}


def finished_study(directions: list[str], n: int = 8) -> optuna.Study:
    study = optuna.create_study(directions=directions)
    for i in range(n):
        cell = "gru" if i % 2 else "lstm"
        score = 0.5 + i / 40
        curves = [{"epoch": e, "val_score": score * e / 3} for e in (1, 2, 3)]
        values = [score, 0.1 + i / 100] if len(directions) > 1 else [score]
        study.add_trial(create_trial(
            values=values, params={"cell": cell, "hidden_size": 4 + 7 * i}, distributions=SPACE,
            user_attrs={"cell": cell, "curves": curves, "latency_ms_p50": 0.1 + i / 100}))
    return study


def is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_plot_is_written_as_a_png(tmp_path: Path) -> None:
    written = write_study_plots(finished_study(["maximize"]), tmp_path, score_name="accuracy")
    assert written == ["optimization_history.png", "validation_curves.png",
                       "param_importances.png", "score_vs_latency.png"]
    assert all(is_png(tmp_path / name) for name in written)


def test_multi_objective_studies_get_optunas_pareto_front(tmp_path: Path) -> None:
    study = finished_study(["maximize", "minimize"])
    assert "score_vs_latency.png" in write_study_plots(study, tmp_path, score_name="accuracy")


def test_an_empty_study_draws_nothing_yet(tmp_path: Path) -> None:
    assert write_study_plots(optuna.create_study(), tmp_path, score_name="rmse") == []
    assert list(tmp_path.iterdir()) == []


def test_the_front_keeps_only_candidates_no_faster_one_beats() -> None:
    points = [(1.0, 0.8, "gru"), (2.0, 0.7, "lstm"), (3.0, 0.9, "gru"), (0.5, 0.6, "lstm")]
    assert _front(points, "maximize") == [(0.5, 0.6), (1.0, 0.8), (3.0, 0.9)]
    assert _front(points, "minimize") == [(0.5, 0.6)]
