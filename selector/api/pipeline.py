"""A recommendation, stage by stage: the one place that runs the stages in order and stores
what they find.

    load -> search -> compare -> decide -> choose the model -> hand over
    data    Searched  FinalModels Recommendation  (model, comparison)  reports, model, MLflow

Each stage is a function of typed inputs that returns a typed result and writes no study
state: `RecommendationRun` stores each result on the study as its stage ends (`_store`), so
`selector report` re-renders a recommendation without retraining, and logs the hand-over to
MLflow (`log_handover`, `log_outcome`); the search's trial runs are logged by its own
trial tracker as trials finish. A `--budget` is one `BudgetPlan`, read on one clock:
each stage is handed its deadlines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna

from selector.api import handover
from selector.api.baseline import read_baseline
from selector.api.requests import RecommendRequest
from selector.api.scope import scoped
from selector.api.searching import Searched, search_study
from selector.api.trials import ProgressHook, check_places
from selector.comparison.runs import FinalModels, Step, compare
from selector.data import SequenceData, load_dataset, profile_dataset
from selector.data.crossval import cross_validates
from selector.decision.gates import evaluate
from selector.decision.rules import decide
from selector.decision.sequential import settled
from selector.files import keeping
from selector.interrupts import INTERRUPTS
from selector.records import DataProfile, FinalComparison, Recommendation
from selector.reports.document import decision_document
from selector.search.schedule import SearchBudget
from selector.search.state import StoredDecision, record_study
from selector.search.storage import StudyLock, storage_for
from selector.tracking import Notify
from selector.training.budget import SYSTEM_CLOCK, BudgetPlan, Clock
from selector.training.fitting import Fitted
from selector.urls import mask_url

Comparer = Callable[..., FinalModels]  # `selector.comparison.runs.compare`


@dataclass(frozen=True)
class RecommendationRun:
    """One recommendation of ``request``; calling it runs the stages (see the module)."""

    request: RecommendRequest
    progress: ProgressHook | None = None
    notify: Notify | None = None  # warnings that must not stop it (default: logged)
    step: Step | None = None  # before each final training run: what it is, how many in all
    comparison: Comparer = compare  # the compare stage (a test passes its own)
    clock: Clock = SYSTEM_CLOCK  # what the budget is read on (a test passes a fake one)

    def __call__(self) -> handover.RecommendResult:
        request, search = self.request, self.request.search
        notify = self.notify or logging.getLogger(__name__).warning
        plan = None if request.budget is None else \
            BudgetPlan.starting(request.budget, request.started, self.clock)
        work = None if plan is None else plan.work
        baseline, baseline_source = read_baseline(request)  # a bad one fails before training
        data = load_dataset(search.data, search.data_options)
        profile = profile_dataset(data)  # once: the space's preset, MLflow, the decision
        space = search.load_space(data, profile)
        check_places(search, request.folder())
        with StudyLock(storage_for(search.storage), search.resolved_study_name(),
                       role="recommend", wait=False):
            searched = search_study(search, data, profile, space, self.progress, notify, None
                                    if work is None else SearchBudget(work, final_seeds=(
                                        request.seeds - int(not cross_validates(data)))))
            seeds = tuple(search.seed + i for i in range(request.most_seeds))
            final = self.comparison(
                searched.study, data, space.training, seeds=seeds, accelerator=search.accelerator,
                step=self.step, refit=request.refit, deadline=work,
                measure_until=None if plan is None else plan.measuring, kept=searched.kept,
                least=request.seeds, stop=lambda so_far: settled(decide(
                    so_far, profile, search.budgets, request.preferences)), notify=notify)
            self._store(searched.study, final.comparison, profile)
            INTERRUPTS.checkpoint()  # safe points between the output steps, up to the hand-over
            rec = decide(final.comparison, profile, search.budgets, request.preferences)
            model: Fitted | handover.Repeat | None = None
            compared = final.comparison
            if rec.verdict is not None:
                INTERRUPTS.checkpoint()
                model, compared = handover.model_to_hand_over(request, final, rec.verdict, data,
                                                              space, work, self.step, len(seeds))
                self._store(searched.study, compared)
            # a forecast made from the past, where the cells (or the refit) did not beat it
            rec, compared, repeat = handover.repeat_to_hand_over(rec, compared, data)
            if repeat is not None:
                self._store(searched.study, compared)
                model = repeat
            gates = evaluate(decision_document(rec), baseline, baseline_source=baseline_source,
                             min_score=request.min_score) if request.gated else None
            with keeping(f"The search and the final comparison are kept in "
                         f"{mask_url(search.storage)} (study '{searched.study.study_name}'): "
                         "free space and run the same command again (it resumes; the final "
                         "runs are redone)."):
                document = self._hand_over(searched, data, profile, compared, rec, model,
                                           gates, notify)
        return handover.RecommendResult(searched.summary, rec, document)

    def _hand_over(self, searched: Searched, data: SequenceData, profile: DataProfile,
                   final: FinalComparison, rec: Recommendation,
                   model: Fitted | handover.Repeat | None, gates: dict[str, Any] | None,
                   notify: Notify) -> dict[str, Any]:
        """The outputs (plots, the model folder, the reports) and, for a tracked study, what
        its MLflow run is told of them; returns the JSON report."""
        outputs = handover.write_outputs(self.request, searched.study, data, final, rec,
                                         model, notify)
        INTERRUPTS.checkpoint()  # from here on, the hand-over (a few seconds) completes
        run = searched.summary.tracking
        logged = None if run is None else handover.log_handover(
            self.request, rec, outputs, data, run.parent_run_id, gates, notify)
        document, files = handover.write_document(rec, final, profile, searched.summary,
                                                  outputs, gates, logged)
        if run is not None:
            handover.log_outcome(self.request, run.parent_run_id, rec, outputs, files, notify,
                                 gates, final.refit)
        return document

    def _store(self, study: optuna.Study, final: FinalComparison,
               profile: DataProfile | None = None) -> None:
        """The only write of a recommendation's state to its study (the search's own trials
        and settings aside): the comparison, and with it the profile and the decision's
        settings that `selector report` re-decides from."""
        if profile is None:
            record_study(study, final=final.to_dict())
            return
        record_study(study, final=final.to_dict(), profile=profile, decision=StoredDecision(
            preferences=self.request.preferences, budgets=self.request.search.budgets))


@scoped
def run_recommendation(request: RecommendRequest, *, progress: ProgressHook | None = None,
                       notify: Notify | None = None, step: Step | None = None,
                       comparison: Comparer = compare,
                       clock: Clock = SYSTEM_CLOCK) -> handover.RecommendResult:
    """Search, retrain each cell's best with k seeds, decide, report, and hand over the model
    (`RecommendationRun`).

    Within ``request.budget`` seconds if given. With gates (a baseline, a minimum score), the
    document's ``gates`` say what changed (`RecommendResult.gates`); the model is then
    registered only if ``request.promote`` and the quality gates pass. ``step`` is called
    before each final training run with what it is (for a progress bar). One recommendation
    runs per study at a time: a second one is refused (`StudyBusy`). Raises `ParameterError`
    for a bad baseline, `DataError` for unusable data, `StudyBusy` for a study another
    recommendation is running, and `SelectorError` for other problems a user can fix.
    """
    return RecommendationRun(request, progress, notify, step, comparison, clock)()
