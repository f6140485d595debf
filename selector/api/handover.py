"""The hand-over of a decided study: the model to hand over, its export, the reports, what the
run object logs of them to MLflow (`log_handover`, `log_outcome`), and the result it returns."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from selector.api.requests import RecommendRequest
from selector.choices import Cell, GateStatus, sign
from selector.comparison.runs import (
    FinalModels,
    Step,
    planned_runs,
    refit,
    refit_epochs,
    refit_seconds,
)
from selector.data import SequenceData
from selector.decision.stats import Gain, paired_gain
from selector.errors import first_line, param
from selector.interrupts import INTERRUPTS
from selector.records import (
    DataProfile,
    FinalComparison,
    HandedOverForecast,
    Recommendation,
    Refit,
    SearchSummary,
)
from selector.reports.document import (
    build_document,
    report_paths,
    write_reports,
)
from selector.reports.plots import write_final_plot, write_study_plots
from selector.search.space import SearchSpace
from selector.serving.export import PARITY_TOLERANCE, ExportedModel, export_model, export_repeat
from selector.serving.pyfunc import pyfunc_parts, serving_code
from selector.tracking import (
    ModelHandover,
    Notify,
    log_model,
    log_verdict,
    model_record,
)
from selector.training.baselines import Baseline, Naive, fallback, forecasts
from selector.training.budget import Deadline
from selector.training.fitting import Fitted, outcomes_of
from selector.urls import mask_url


@dataclass(frozen=True)
class RecommendResult:
    """A recommendation, the search behind it, and the JSON report (`versions.RECOMMENDATION`)."""

    summary: SearchSummary
    recommendation: Recommendation
    document: dict[str, Any]  # the JSON report (`versions.RECOMMENDATION`)

    @property
    def gates(self) -> GateStatus | None:
        """The gates' status ("passed", "changed" or "failed"), or None without gates."""
        gates = self.document.get("gates")
        return None if gates is None else gates["status"]


def model_to_hand_over(request: RecommendRequest, final: FinalModels, cell: Cell,
                       data: SequenceData, space: SearchSpace, work_end: Deadline | None,
                       step: Step | None, seeds: int
                       ) -> tuple[Fitted | None, FinalComparison]:
    """The model to hand over: the refit, or the best seed's model (--no-refit, or when a
    refit would not be better, which the comparison's budget notes then say); and the
    comparison with the refit or that note added (for the caller to store)."""
    held = final.best_model(cell)  # None: its runs were trained by other processes
    if held is not None and not request.refit:
        return held, final.comparison
    why = None if held is None else _no_refit(final.comparison, cell, data, work_end)
    if why is not None:
        return held, replace(final.comparison, budget_notes=(*final.comparison.budget_notes,
                                                             why))
    total = planned_runs(data, seeds, refit=True)
    return refit(final, cell, data, space.training, accelerator=request.search.accelerator,
                 deadline=work_end, announce=None if step is None else
                 lambda label: step(f"{cell.upper()} refit on {label}", total))


def _no_refit(final: FinalComparison, cell: Cell, data: SequenceData,
              work_end: Deadline | None) -> str | None:
    """Why the best seed's model is handed over rather than a refit, or None to refit."""
    if refit_epochs(final, cell) is None:
        return (f"no refit: {param('budget')} cut every final {cell.upper()} run before it "
                "converged, so no run says how long to train; the best seed's model is "
                "handed over.")
    needed = refit_seconds(final, cell, data)
    if work_end is not None and needed > work_end.left():
        return (f"no refit: it needs about {needed:.0f} s, the budget left "
                f"{max(0.0, work_end.left()):.0f} s; the best seed's model is handed over.")
    return None


@dataclass(frozen=True)
class Repeat:
    """The forecast handed over instead of a cell's model: the strongest on validation of
    those made from the series' own past (`selector.training.baselines.fallback`), where
    neither cell learned or where it beat the recommended cell on the test split."""

    baseline: Baseline  # its name and validation score
    naive: Naive  # how it is made from the past (and its predictions' column)


def repeat_to_hand_over(rec: Recommendation, final: FinalComparison, data: SequenceData
                        ) -> tuple[Recommendation, FinalComparison, Repeat | None]:
    """The forecast made from the series' past to hand over instead of a cell's model, with
    the recommendation given a sentence that says why and the comparison a record of it (for
    the caller to store); ``rec``, ``final`` and None to hand over the recommended cell (or
    nothing). It is handed over where neither cell learned a forecast, and where it beats
    the recommended cell on the test split (`beats_the_cell`): a model that a forecast
    repeating last week beats is no model to deploy. The verdict between the cells stands
    either way."""
    found = fallback(data) if rec.reason == "not-learned" or rec.verdict is not None else None
    if found is None:
        return rec, final, None
    repeat = Repeat(*found)
    test = final.baselines.get(repeat.baseline.name)
    if rec.verdict is None:
        why = (f"the strongest on validation of those made from each series' past ("
               f"{final.score_name} {repeat.baseline.score:.4g}), as neither cell learned"
               + ("" if test is None else f"; test {final.score_name} {test:.4g}"))
    else:
        gain = beats_the_cell(final, rec.verdict, data, repeat, rec.comparison.level)
        if gain is None:
            return rec, final, None
        cell = rec.verdict.upper()
        why = (f"which beat {cell}'s {gain.pairs} final runs on the test split ("
               f"{final.score_name} {test:.4g}; {cell} worse by {gain.mean:.3g}, "
               f"{rec.comparison.level:.0%} CI [{gain.low:.3g}, {gain.high:.3g}])"
               + ("" if final.refit is None else
                  f" and its refit ({final.refit.test_score:.4g})"))
    said = (f"Handed over instead: the {repeat.baseline.name} forecast, {why}. "
            f"selector predict gives it as the {repeat.naive.column} column.")
    return (replace(rec, rationale=(*rec.rationale, said)),
            replace(final, fallback=HandedOverForecast(repeat.baseline.name, said,
                                                       rec.verdict)), repeat)


def beats_the_cell(final: FinalComparison, cell: Cell, data: SequenceData, repeat: Repeat,
                   level: float) -> Gain | None:
    """How much better ``repeat`` scores on the test split than ``cell``'s final runs, where
    that is credible: the paired interval (`selector.decision.stats.paired_gain`, by test
    window, with the runs' seed spread) lies above zero, over at least two whole blocks of
    overlapping windows (the cell's lookback + horizon), and ``cell``'s refit, where there
    is one, scored no better than ``repeat`` either. None otherwise, and without two runs
    scored on the test split (cross-validation scores folds)."""
    chosen = next(c for c in final.cells if c.cell == cell)
    runs = [r for r in chosen.runs if r.outcomes]
    predicted = forecasts(data, data.splits.test).get(repeat.baseline.name)
    test = final.baselines.get(repeat.baseline.name)
    block = int(chosen.config.get("lookback") or data.lookback or 0) + (data.horizon or 0)
    if (final.method != "seeds" or len(runs) < 2 or predicted is None or test is None
            or len(data.splits.test) < 2 * block):
        return None
    if final.refit is not None and sign(final.direction) * (final.refit.test_score - test) >= 0:
        return None
    own = outcomes_of(predicted, data, data.splits.test, final.score_name)
    gain = paired_gain(np.tile(own, (len(runs), 1)), np.array([r.outcomes for r in runs]),
                       score=final.score_name, level=level, block=block)  # "lstm": the repeat
    return gain if gain.low > 0 else None


@dataclass(frozen=True)
class Outputs:
    """What the hand-over wrote to the output folder: the plots and, with a verdict, the
    exported model; ``artifacts`` lists them as the JSON report does."""

    folder: Path
    artifacts: dict[str, Any]
    exported: ExportedModel | None


def write_outputs(request: RecommendRequest, study: optuna.Study, data: SequenceData,
                  final: FinalComparison, rec: Recommendation, chosen: Fitted | Repeat | None,
                  notify: Notify) -> Outputs:
    """The plots, and the model ``chosen`` (the refit, the best seed's, or where neither
    cell learned a forecast, the repeating one) exported to the model folder. Interrupts
    stop it between the two."""
    folder = request.folder()
    artifacts: dict[str, Any] = {"folder": str(folder), **report_paths(folder),
                                 "plots": write_plots(study, final, folder)}
    INTERRUPTS.checkpoint()
    if isinstance(chosen, Repeat):
        exported = export_repeat(data, chosen.naive, request.search.data_options,
                                 folder / "model", meta={
                                     "cell": None, "baseline": chosen.baseline.name,
                                     "column": chosen.naive.column, "study": study.study_name,
                                     "score_name": rec.score_name,
                                     "test_score": final.baselines.get(chosen.baseline.name),
                                     "trained_on": "nothing: it is made from the input",
                                     "verdict": rec.headline, "rationale": list(rec.rationale)})
        return Outputs(folder, artifacts | _model_files(exported)
                       | {"fallback": chosen.baseline.name}, exported)
    if rec.verdict is None:
        return Outputs(folder, artifacts, None)
    evidence = rec.cell(rec.verdict)
    assert evidence is not None and chosen is not None
    refitted = final.refit
    exported = export_model(chosen.system, data, request.search.data_options, folder / "model",
                            meta={"cell": rec.verdict, "config": evidence.config,
                                  "search_trial": evidence.trial, "study": study.study_name,
                                  "score_name": rec.score_name,
                                  "test_score": refitted.test_score if refitted
                                  else evidence.test_mean,
                                  "trained_on": _trained_on(refitted),
                                  "verdict": rec.headline, "rationale": list(rec.rationale)})
    if not exported.parity_ok:
        notify(f"the exported model differs from PyTorch by up to "
               f"{max(exported.parity.values()):.2g} (tolerance {PARITY_TOLERANCE:g}).")
    return Outputs(folder, artifacts | _model_files(exported), exported)


def _model_files(exported: ExportedModel) -> dict[str, Any]:
    return {"model_dir": str(exported.folder), "torchscript": str(exported.torchscript),
            "onnx": str(exported.onnx), "parity": exported.parity}


def _trained_on(refitted: Refit | None) -> str:
    if refitted is None:
        return "train"
    return "train+val" if refitted.whole_history_seconds is None else "train+val+test"


def write_document(rec: Recommendation, final: FinalComparison, profile: DataProfile,
                   summary: SearchSummary, outputs: Outputs, gates: dict[str, Any] | None,
                   logged: dict[str, Any] | None) -> tuple[dict[str, Any], list[Path]]:
    """The JSON report (with ``logged``, where MLflow took the model) and the reports written
    from it; returns the report and every file to log with the verdict."""
    artifacts = outputs.artifacts | ({} if logged is None else {"mlflow": logged})
    if gates is not None:
        gates = {**gates, "promoted": bool((logged or {}).get("registered_model"))}
    document = build_document(rec, final, profile, summary, artifacts, gates)
    written = write_reports(document, outputs.folder)
    return document, [outputs.folder / p for p in outputs.artifacts["plots"]] + written


def write_plots(study: optuna.Study, final: FinalComparison, folder: Path) -> list[str]:
    plots = folder / "plots"
    names = write_study_plots(study, plots, score_name=final.score_name)
    write_final_plot(final, plots / "final_comparison.png")
    return [f"plots/{n}" for n in ["final_comparison.png", *names]]


def log_handover(request: RecommendRequest, rec: Recommendation, outputs: Outputs,
                 data: SequenceData, run_id: str, gates: dict[str, Any] | None,
                 notify: Notify) -> dict[str, Any]:
    """Log the exported model on the study's MLflow run and register it (unless gates hold it
    back); returns where it went. Preparing it is for MLflow alone, so a failure in either is
    a notice and loses neither the report nor the model folder."""
    uri, exported = request.search.tracking_uri, outputs.exported
    if exported is None or uri is None:
        return model_record(run_id)
    register = request.register and rec.verdict is not None and (
        "fallback" not in outputs.artifacts) and (
        gates is None or (request.promote and gates["passed"]))  # a cell's model only
    try:
        python_model, signature, example, requirements = pyfunc_parts(
            exported.folder, data, request.search.data)
        with tempfile.TemporaryDirectory(prefix="selector-code-") as code:
            return log_model(uri, run_id, ModelHandover(
                folder=exported.folder, python_model=python_model, signature=signature,
                input_example=example, requirements=requirements,
                code=serving_code(Path(code)),
                description=f"{rec.headline}\n\n" + "\n".join(f"- {r}" for r in rec.rationale),
                register_as=request.registered_name() if register else None))
    except Exception as exc:  # the model is on disk either way; MLflow is a view
        notify(f"MLflow: could not log or register the model in {mask_url(uri)}: "
               f"{first_line(exc)}. It is saved in {exported.folder}.")
        return {**model_record(run_id), "error": first_line(exc)}


def log_outcome(request: RecommendRequest, run_id: str, rec: Recommendation, outputs: Outputs,
                files: list[Path], notify: Notify, gates: dict[str, Any] | None,
                refit: Refit | None) -> None:
    """The verdict, its numbers and ``files`` (reports, plots) on the study's MLflow run."""
    uri = request.search.tracking_uri
    if uri is None:
        return
    tags = {"selector.verdict": rec.verdict or "none", "selector.confidence": rec.confidence,
            "selector.headline": rec.headline}
    if gates is not None:
        tags["selector.gates"] = gates["status"]
    metrics = {f"final/{c.cell}/test_{rec.score_name}": c.test_mean for c in rec.cells}
    if rec.comparison.gain_mean is not None:
        metrics["final/lstm_gain"] = rec.comparison.gain_mean  # positive: LSTM better
    if refit is not None:
        metrics[f"final/refit/test_{rec.score_name}"] = refit.test_score
        if refit.scale_free is not None:  # forecasts: what neighbours report
            metrics["final/refit/test_smape"] = refit.scale_free.smape
            if refit.scale_free.mase is not None:
                metrics["final/refit/test_mase"] = refit.scale_free.mase
    try:
        log_verdict(uri, run_id, tags=tags, metrics=metrics, files=files)
    except Exception as exc:
        notify(f"MLflow: could not log the report to {mask_url(uri)}: "
               f"{first_line(exc)}. It is in {outputs.folder}.")
