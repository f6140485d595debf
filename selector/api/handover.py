"""The hand-over of a decided study: the model to hand over, its export, MLflow, reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna

from selector.api.requests import RecommendRequest
from selector.choices import Cell
from selector.comparison.runs import (
    FinalModels,
    Step,
    planned_runs,
    refit,
    refit_seconds,
)
from selector.data import SequenceData
from selector.errors import first_line
from selector.interrupts import INTERRUPTS
from selector.records import (
    DataProfile,
    FinalComparison,
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
from selector.serving.export import PARITY_TOLERANCE, ExportedModel, export_model
from selector.serving.pyfunc import pyfunc_parts
from selector.tracking import (
    ModelHandover,
    Notify,
    log_model,
    log_verdict,
    model_record,
)
from selector.training.budget import Deadline
from selector.training.fitting import Fitted
from selector.urls import mask_url


def model_to_hand_over(request: RecommendRequest, final: FinalModels, cell: Cell,
                       data: SequenceData, space: SearchSpace, work_end: Deadline | None,
                       step: Step | None, seeds: int
                       ) -> tuple[Fitted | None, FinalComparison]:
    """The model to hand over: the refit, or the best seed's model (--no-refit, or when the
    budget left no time for a refit, which the comparison's budget notes then say); and the
    comparison with the refit or that note added (for the caller to store)."""
    held = final.best_model(cell)
    if request.refit or held is None:  # None: its runs were trained by other processes
        needed = refit_seconds(final.comparison, cell, data)
        if work_end is None or needed <= work_end.left() or held is None:
            if step:
                step(f"{cell.upper()} refit on train + validation",
                     planned_runs(data, seeds, refit=True))
            return refit(final, cell, data, space.training,
                         accelerator=request.search.accelerator, deadline=work_end)
        return held, replace(final.comparison, budget_notes=(
            *final.comparison.budget_notes,
            f"no refit: it needs about {needed:.0f} s, the budget left "
            f"{max(0.0, work_end.left()):.0f} s; the best seed's model is handed over."))
    return held, final.comparison


def hand_over(request: RecommendRequest, study: optuna.Study, data: SequenceData,
               final: FinalComparison, rec: Recommendation, profile: DataProfile,
               summary: SearchSummary, gates: dict[str, Any] | None,
               notify: Notify, chosen: Fitted | None) -> dict[str, Any]:
    """The outputs of a decided study: plots, the model folder, the model ``chosen`` (the
    refit, or the best seed's) in MLflow, and the reports; returns the JSON report.
    Interrupts stop it between steps up to the hand-over."""
    search_request = request.search
    register = request.register and (gates is None or (request.promote and gates["passed"]))
    folder = request.folder()
    artifacts: dict[str, Any] = {"folder": str(folder), **report_paths(folder),
                                 "plots": write_plots(study, final, folder)}
    exported = None
    INTERRUPTS.checkpoint()
    if rec.verdict is not None:
        evidence = rec.cell(rec.verdict)
        assert evidence is not None and chosen is not None
        refitted = final.refit
        exported = export_model(chosen.system, data, search_request.data_options,
                                folder / "model", meta={
                                    "cell": rec.verdict, "config": evidence.config,
                                    "search_trial": evidence.trial, "study": study.study_name,
                                    "score_name": rec.score_name,
                                    "test_score": refitted.test_score if refitted
                                    else evidence.test_mean,
                                    "trained_on": "train+val" if refitted else "train",
                                    "verdict": rec.headline, "rationale": list(rec.rationale)})
        artifacts |= {"model_dir": str(exported.folder), "torchscript": str(exported.torchscript),
                      "onnx": str(exported.onnx), "parity": exported.parity}
        if not exported.parity_ok:
            notify(f"the exported model differs from PyTorch by up to "
                   f"{max(exported.parity.values()):.2g} (tolerance {PARITY_TOLERANCE:g}).")
    INTERRUPTS.checkpoint()  # from here on, the hand-over (a few seconds) completes
    tracking = summary.tracking
    if tracking is not None and search_request.tracking_uri:
        artifacts["mlflow"] = model_record(tracking.parent_run_id) if exported is None else \
            _log_handover(search_request.tracking_uri, tracking.parent_run_id, lambda: (
                _model_handover(request, rec, exported, data, register)), exported.folder, notify)
    if gates is not None:
        gates["promoted"] = bool((artifacts.get("mlflow") or {}).get("registered_model"))
    document = build_document(rec, final, profile, summary, artifacts, gates)
    written = write_reports(document, folder)
    if tracking is not None and search_request.tracking_uri:
        _log_verdict(search_request.tracking_uri, tracking.parent_run_id, rec, folder,
                     [folder / p for p in artifacts["plots"]] + written, notify, gates,
                     final.refit)
    return document


def write_plots(study: optuna.Study, final: FinalComparison, folder: Path) -> list[str]:
    plots = folder / "plots"
    names = write_study_plots(study, plots, score_name=final.score_name)
    write_final_plot(final, plots / "final_comparison.png")
    return [f"plots/{n}" for n in ["final_comparison.png", *names]]


def _model_handover(request: RecommendRequest, rec: Recommendation, exported: ExportedModel,
                    data: SequenceData, register: bool) -> ModelHandover:
    """The exported model as MLflow takes it: a pyfunc with its example and signature."""
    python_model, signature, example, requirements = pyfunc_parts(
        exported.folder, data, request.search.data)
    return ModelHandover(
        folder=exported.folder, python_model=python_model, signature=signature,
        input_example=example, requirements=requirements,
        description=f"{rec.headline}\n\n" + "\n".join(f"- {r}" for r in rec.rationale),
        register_as=request.registered_name() if register else None)


def _log_handover(uri: str, run_id: str, prepare: Callable[[], ModelHandover], folder: Path,
                  notify: Notify) -> dict[str, Any]:
    """Log (and register) the model; preparing it is for MLflow alone, so a failure in either
    is a notice and loses neither the report nor the model folder."""
    try:
        return log_model(uri, run_id, prepare())
    except Exception as exc:  # the model is on disk either way; MLflow is a view
        notify(f"MLflow: could not log or register the model in {mask_url(uri)}: "
               f"{first_line(exc)}. It is saved in {folder}.")
        return {**model_record(run_id), "error": first_line(exc)}


def _log_verdict(uri: str, run_id: str, rec: Recommendation, folder: Path, files: list[Path],
                 notify: Notify, gates: dict[str, Any] | None, refit: Refit | None) -> None:
    tags = {"selector.verdict": rec.verdict or "none", "selector.confidence": rec.confidence,
            "selector.headline": rec.headline}
    if gates is not None:
        tags["selector.gates"] = gates["status"]
    metrics = {f"final/{c.cell}/test_{rec.score_name}": c.test_mean for c in rec.cells}
    if rec.comparison.gain_mean is not None:
        metrics["final/lstm_gain"] = rec.comparison.gain_mean  # positive: LSTM better
    if refit is not None:
        metrics[f"final/refit/test_{rec.score_name}"] = refit.test_score
    try:
        log_verdict(uri, run_id, tags=tags, metrics=metrics, files=files)
    except Exception as exc:
        notify(f"MLflow: could not log the report to {mask_url(uri)}: "
               f"{first_line(exc)}. It is in {folder}.")
