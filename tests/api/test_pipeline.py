"""The recommend pipeline with a fake comparison step: search bookkeeping, decision, gates,
reports, export and stored state, without training anything."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import create_trial

from selector.api import RecommendRequest, SearchRequest, report_study, run_recommendation
from selector.comparison.runs import FinalModels, refit_epochs
from selector.data import DataOptions, load_dataset
from selector.data.dataset import SequenceData
from selector.errors import DataError, ParameterError
from selector.records import FinalComparison, ModelConfig, Preferences, Refit
from selector.search.state import TrialAttrs, study_state
from selector.serving.predict import predict
from selector.training.baselines import forecasts
from selector.training.fitting import EpochHistory, Fitted, build_net, outcomes_of
from selector.training.system import SequenceSystem
from tests.conftest import long_frame, write
from tests.helpers.panels import panel
from tests.helpers.records import CONFIG, comparison

GRU_WINS = comparison([0.90, 0.91, 0.905], [0.80, 0.81, 0.79])


class FakeComparison:
    """The final comparison step: returns ``result``, with untrained models (the pipeline
    stores it, as it stores what `selector.comparison.runs.compare` returns)."""

    def __init__(self, result: FinalComparison) -> None:
        self.result = result
        self.calls: list[dict[str, Any]] = []

    def __call__(self, study: optuna.Study, data: SequenceData, settings: Any,
                 **options: Any) -> FinalModels:
        self.calls.append({"study": study.study_name, **options})
        models: dict[str, list[Fitted | None]] = {}
        for cell in ("gru", "lstm"):
            net = build_net(ModelConfig(**{**CONFIG, "cell": cell, "hidden_size": 4}), data)
            system = SequenceSystem(net, data.task, learning_rate=1e-3, weight_decay=0.0)
            models[cell] = [Fitted(system, EpochHistory())] * len(self.result.seeds)
        return FinalModels(self.result, models)


def searched(tmp_path: Path, tiny_space: str, frame: pd.DataFrame | None = None,
             options: DataOptions = DataOptions(target="label"),
             direction: str = "maximize") -> SearchRequest:
    """A request whose study already holds its trials: the search step runs none. The data
    is ``frame`` (default: 40 labelled sequences, a long table)."""
    data = str(write(long_frame(40) if frame is None else frame, tmp_path / "seqs.csv"))
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=storage, study_name="p", direction=direction)
    for number, (cell, value) in enumerate([("gru", 0.9), ("lstm", 0.8)]):
        study.add_trial(create_trial(
            value=value, params={"cell": cell},
            distributions={"cell": CategoricalDistribution(["gru", "lstm"])},
            user_attrs=TrialAttrs(cell=cell, config={**CONFIG, "cell": cell},
                                  curves=({"epoch": 1, "train_seconds": 0.1, "val_score": value,
                                           "train_loss": 1.0, "val_loss": 1.0},),
                                  state_reason=f"trial {number}").to_attrs()))
    return SearchRequest(data=data, space=tiny_space, study_name="p", storage=storage,
                         n_trials=2, data_options=options, tracking_uri=None)


def test_the_pipeline_decides_reports_exports_and_stores_what_its_comparison_found(
        tmp_path: Path, tiny_space: str) -> None:
    fake = FakeComparison(GRU_WINS)
    request = RecommendRequest(search=searched(tmp_path, tiny_space), seeds=3, refit=False,
                               output_dir=str(tmp_path / "out"))
    result = run_recommendation(request, comparison=fake)
    # 3 seeds at least, up to twice as many while the verdict is undecided
    assert len(fake.calls) == 1 and fake.calls[0]["seeds"] == (0, 1, 2, 3, 4, 5)
    assert fake.calls[0]["least"] == 3
    assert result.recommendation.verdict == "gru" and result.gates is None
    assert result.summary.n_trials == 2  # the stored trials; none were run
    out = tmp_path / "out"
    written = json.loads((out / "recommendation.json").read_text())
    assert written["verdict"] == "gru" and "Verdict: GRU" in (out / "report.md").read_text()
    assert (out / "model" / "model.onnx").exists()
    state = study_state(optuna.load_study(study_name="p", storage=request.search.storage))
    assert state.profile is not None and state.profile.n_sequences == 40
    assert state.decision is not None and state.decision.preferences == Preferences()
    assert state.final is not None and FinalComparison.from_dict(state.final) == GRU_WINS
    again = report_study("p", storage=request.search.storage, output_dir=str(tmp_path / "r"))
    assert again.recommendation.verdict == "gru"  # re-decided from the stored state alone


def never_learned(final: FinalComparison) -> FinalComparison:
    return replace(final, cells=tuple(replace(c, runs=tuple(
        replace(r, learned=False) for r in c.runs)) for c in final.cells))


def test_a_forecast_neither_cell_learned_hands_over_the_repeating_forecast_instead(
        tmp_path: Path, tiny_space: str, local_tracking_store: str) -> None:
    """No cell is recommended, but a forecasting user still gets a forecaster: the one that
    beat both cells, the seasonal naive here (a weekly wave), exported like a cell's model,
    logged to MLflow but not registered (the registry holds recommended cells), and
    predicting as neighbours name it. Classification keeps handing over nothing."""
    search = replace(searched(tmp_path, tiny_space, panel(),
                              DataOptions(lookback=14, horizon=3, season=7), "minimize"),
                     tracking_uri=local_tracking_store)
    neither = replace(never_learned(comparison([1.3, 1.4], [1.35, 1.5], direction="minimize",
                                               score_name="mase")),
                      baselines={"last value": 1.6, "seasonal naive (season 7)": 0.9})
    result = run_recommendation(RecommendRequest(
        search=search, seeds=2, refit=False, output_dir=str(tmp_path / "out")),
        comparison=FakeComparison(neither))
    assert result.recommendation.verdict is None and result.recommendation.reason == "not-learned"
    artifacts = result.document["artifacts"]
    assert artifacts["fallback"] == "seasonal naive (season 7)" and artifacts["parity"]
    assert artifacts["mlflow"]["model_uri"] and artifacts["mlflow"]["registered_model"] is None
    said = result.recommendation.rationale[-1]
    assert said.startswith("Handed over instead: the seasonal naive (season 7) forecast")
    assert "test mase 0.9" in said and result.document["rationale"][-1] == said
    assert "Handed-over model: the seasonal naive (season 7) forecast" in \
        (tmp_path / "out" / "report.md").read_text()
    forecast = predict(artifacts["model_dir"], panel())
    assert list(forecast.columns) == ["unique_id", "ds", "SeasonalNaive"]
    assert_reported_again(search.storage, tmp_path, "seasonal naive (season 7)", said)

    (tmp_path / "c").mkdir()
    classified = run_recommendation(RecommendRequest(
        search=searched(tmp_path / "c", tiny_space), seeds=2, refit=False,
        output_dir=str(tmp_path / "c" / "out")),
        comparison=FakeComparison(never_learned(comparison([0.5, 0.5], [0.5, 0.5]))))
    assert classified.recommendation.verdict is None
    assert "model_dir" not in classified.document["artifacts"]


def with_test_outcomes(final: FinalComparison, cell: str,
                       runs: list[np.ndarray]) -> FinalComparison:
    """``final`` with ``cell``'s runs scoring ``runs`` (per test window), as the MASE."""
    return replace(final, cells=tuple(c if c.cell != cell else replace(c, runs=tuple(
        replace(r, outcomes=tuple(o), test_score=float(o.mean()))
        for r, o in zip(c.runs, runs, strict=True))) for c in final.cells))


@pytest.mark.parametrize(("times", "lookback", "refit", "handed_over"), [
    (1.5, 2, None, "repeat"),
    (0.6, 2, None, "gru"),  # GRU beats the seasonal naive
    (1.5, 14, None, "gru"),  # 25 test windows hold one block of 14 + 3 overlapping ones
    (1.5, 2, 0.8, "gru"),  # GRU's refit, the model handed over, beats it
])
def test_a_recommended_cell_that_the_seasonal_naive_beats_on_test_is_not_handed_over(
        tmp_path: Path, tiny_space: str, local_tracking_store: str, times: float,
        lookback: int, refit: float | None, handed_over: str) -> None:
    """GRU wins the comparison, but where a forecast repeating last week beats GRU's final
    runs on the test split by more than their noise, that forecast is the model handed over
    (not registered: the registry holds cells), and the rationale and report say why. Where
    GRU or its refit beats it, or too few test windows tell, GRU's model is handed over."""
    options = DataOptions(lookback=14, horizon=3, season=7)
    search = replace(searched(tmp_path, tiny_space, panel(), options, "minimize"),
                     tracking_uri=local_tracking_store)
    data = load_dataset(search.data, options)
    test = data.splits.test
    naive = outcomes_of(forecasts(data, test)["seasonal naive (season 7)"], data, test, "mase")
    spread = (0.97, 1.0, 1.03)  # three seeds about `times` it; LSTM's, 3 times it
    final = comparison([1.0, 1.0, 1.0], [2.0, 2.1, 2.2], direction="minimize", score_name="mase")
    final = with_test_outcomes(final, "gru", [naive * times * f for f in spread])
    final = with_test_outcomes(final, "lstm", [naive * 3 * f for f in spread])
    final = replace(final, baselines={"seasonal naive (season 7)": float(naive.mean())},
                    cells=tuple(replace(c, config={**c.config, "lookback": lookback})
                                for c in final.cells),
                    refit=None if refit is None else Refit(
                        cell="gru", seed=0, epochs=5, train_seconds=1.0,
                        test_score=refit * float(naive.mean())))
    result = run_recommendation(RecommendRequest(
        search=search, seeds=3, refit=False, output_dir=str(tmp_path / "out")),
        comparison=FakeComparison(final))
    assert result.recommendation.verdict == "gru"  # the verdict between the cells stands
    artifacts = result.document["artifacts"]
    report = (tmp_path / "out" / "report.md").read_text()
    if handed_over == "gru":
        assert "fallback" not in artifacts and artifacts["mlflow"]["registered_model"]
        assert not any(r.startswith("Handed over instead") for r in result.document["rationale"])
        return
    assert artifacts["fallback"] == "seasonal naive (season 7)"
    assert artifacts["mlflow"]["registered_model"] is None
    said = result.recommendation.rationale[-1]
    assert said.startswith("Handed over instead: the seasonal naive (season 7) forecast, "
                           "which beat GRU's 3 final runs on the test split")
    assert "it beat GRU's final runs on the test split" in " ".join(report.split())
    forecast = predict(artifacts["model_dir"], panel())
    assert list(forecast.columns) == ["unique_id", "ds", "SeasonalNaive"]
    assert_reported_again(search.storage, tmp_path, "seasonal naive (season 7)", said)


def assert_reported_again(storage: str, tmp_path: Path, name: str, said: str) -> None:
    """`selector report` re-renders from the study alone, and says what `recommend` handed
    over: the forecast made from the series' past, not the cell's model."""
    again = report_study("p", storage=storage, output_dir=str(tmp_path / "again"))
    assert again.document["artifacts"]["fallback"] == name
    assert again.recommendation.rationale[-1] == said
    assert f"Handed-over model: the {name} forecast" in \
        (tmp_path / "again" / "report.md").read_text()



def test_gates_say_what_changed_and_what_failed(tmp_path: Path, tiny_space: str) -> None:
    baseline = tmp_path / "before.json"
    search = searched(tmp_path, tiny_space)
    first = run_recommendation(RecommendRequest(
        search=search, refit=False, output_dir=str(tmp_path / "a")),
        comparison=FakeComparison(comparison([0.80, 0.81, 0.79], [0.90, 0.91, 0.905])))
    baseline.write_text(json.dumps(first.document))  # LSTM was chosen last time
    changed = run_recommendation(RecommendRequest(
        search=search, refit=False, output_dir=str(tmp_path / "b"), baseline=str(baseline)),
        comparison=FakeComparison(GRU_WINS))
    assert changed.gates == "changed" and changed.document["gates"]["status"] == "changed"
    failed = run_recommendation(RecommendRequest(
        search=search, refit=False, output_dir=str(tmp_path / "c"), min_score=0.99),
        comparison=FakeComparison(GRU_WINS))
    assert failed.gates == "failed"
    checks = {c["name"]: c["passed"] for c in failed.document["gates"]["checks"]}
    assert checks["min-score"] is False


def test_a_bad_baseline_fails_before_any_comparison(tmp_path: Path, tiny_space: str) -> None:
    fake = FakeComparison(GRU_WINS)
    (tmp_path / "other.json").write_text('{"schema": "someone-else/1"}')
    request = RecommendRequest(search=searched(tmp_path, tiny_space), refit=False,
                               baseline=str(tmp_path / "other.json"))
    with pytest.raises(ParameterError, match=r"baseline must be a recommendation\.json") as bad:
        run_recommendation(request, comparison=fake)
    assert bad.value.parameter == "baseline" and fake.calls == []


def test_a_model_mlflow_cannot_take_loses_neither_report_nor_model(
        tmp_path: Path, tiny_space: str, local_tracking_store: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Preparing the registered model (its input example, its signature) is for MLflow alone:
    when it fails, the user is told, and the report and the model folder are still written."""
    def refuse(*args: Any) -> Any:
        raise DataError("inputs.parquet", "the model was trained on feature column(s) 'y', "
                        "which are not in the file.")

    monkeypatch.setattr("selector.api.handover.pyfunc_parts", refuse)
    search = replace(searched(tmp_path, tiny_space), tracking_uri=local_tracking_store)
    notes: list[str] = []
    result = run_recommendation(
        RecommendRequest(search=search, seeds=3, refit=False, output_dir=str(tmp_path / "out")),
        comparison=FakeComparison(GRU_WINS), notify=notes.append)
    assert result.recommendation.verdict == "gru"
    assert (tmp_path / "out" / "report.html").exists()
    assert (tmp_path / "out" / "model" / "model.onnx").exists()
    assert any("could not log or register the model" in n and "feature column(s) 'y'" in n
               for n in notes), notes


def test_the_data_is_profiled_once_per_recommendation(
        tmp_path: Path, tiny_space: str, local_tracking_store: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The profile picks the space's preset, goes to MLflow and into the decision: made once."""
    import selector.data.profile as profiling

    made: list[int] = []
    sizing = profiling.training_size
    monkeypatch.setattr(profiling, "training_size", lambda n: made.append(n) or sizing(n))
    search = replace(searched(tmp_path, tiny_space), tracking_uri=local_tracking_store)
    result = run_recommendation(
        RecommendRequest(search=search, refit=False, output_dir=str(tmp_path / "out")),
        comparison=FakeComparison(GRU_WINS), notify=lambda _: None)
    assert result.recommendation.verdict == "gru" and len(made) == 1


def cut_short(final: FinalComparison, cell: str, runs: set[int]) -> FinalComparison:
    """``final`` with ``cell``'s runs numbered ``runs`` cut by the budget at epoch 2."""
    return replace(final, cells=tuple(c if c.cell != cell else replace(c, runs=tuple(
        replace(r, cut=True, cost=replace(r.cost, best_epoch=2)) if i in runs else r
        for i, r in enumerate(c.runs))) for c in final.cells))


def test_runs_the_budget_cut_hand_over_the_best_run_not_a_shorter_refit(
        tmp_path: Path, tiny_space: str) -> None:
    """A refit for the epochs at which the budget cut the runs would be a less-trained model
    than the runs themselves: the best run's model is handed over, and the report says why."""
    request = RecommendRequest(search=searched(tmp_path, tiny_space), seeds=3, refit=True,
                               output_dir=str(tmp_path / "out"))
    result = run_recommendation(request,
                                comparison=FakeComparison(cut_short(GRU_WINS, "gru", {0, 1, 2})))
    final = result.document["final"]
    assert result.recommendation.verdict == "gru" and final["refit"] is None
    assert any("cut every final GRU run" in note for note in final["budget_notes"])
    assert (tmp_path / "out" / "model" / "model.onnx").exists()
    assert "Handed-over model: GRU's final run with the best validation score" in \
        (tmp_path / "out" / "report.md").read_text()


def test_a_refit_trains_as_long_as_the_runs_the_budget_did_not_cut() -> None:
    final = comparison([0.90, 0.91, 0.905], [0.80, 0.81, 0.79])  # every best epoch is 5
    assert refit_epochs(final, "gru") == 5
    assert refit_epochs(cut_short(final, "gru", {0, 2}), "gru") == 5  # not the cut runs' 2
    assert refit_epochs(cut_short(final, "gru", {0, 1, 2}), "gru") is None
