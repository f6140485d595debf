"""The recommendation: search, compare the cells' bests, decide, and hand over the model."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selector.api.handover import hand_over, model_to_hand_over
from selector.api.requests import RecommendRequest
from selector.api.scope import scoped
from selector.api.searching import search_study
from selector.api.trials import ProgressHook, check_places
from selector.choices import GateStatus
from selector.crossval import cross_validates
from selector.data import load_dataset, profile_dataset
from selector.decision.gates import evaluate
from selector.decision.rules import decide
from selector.errors import ParameterError
from selector.files import keeping
from selector.final import (
    FinalModels,
    Step,
    compare,
)
from selector.interrupts import INTERRUPTS
from selector.records import (
    Recommendation,
    SearchSummary,
)
from selector.report import (
    BASELINE_SCHEMAS,
    decision_document,
)
from selector.search.schedule import SearchBudget
from selector.search.state import StoredDecision, record_study
from selector.search.storage import (
    StudyLock,
    storage_for,
)
from selector.tracking import (
    Notify,
    champion_document,
)
from selector.training.budget import SYSTEM_CLOCK, BudgetPlan, Clock
from selector.urls import mask_url

Comparer = Callable[..., FinalModels]  # `selector.final.compare`


@dataclass(frozen=True)
class RecommendResult:
    """A recommendation, the search behind it, and the JSON report (schema REPORT_SCHEMA)."""

    summary: SearchSummary
    recommendation: Recommendation
    document: dict[str, Any]  # the JSON report (schema REPORT_SCHEMA)

    @property
    def gates(self) -> GateStatus | None:
        """The gates' status ("passed", "changed" or "failed"), or None without gates."""
        gates = self.document.get("gates")
        return None if gates is None else gates["status"]


@scoped
def run_recommendation(request: RecommendRequest, *, progress: ProgressHook | None = None,
                       notify: Notify | None = None, step: Step | None = None,
                       comparison: Comparer = compare,
                       clock: Clock = SYSTEM_CLOCK) -> RecommendResult:
    """Search, retrain each cell's best with k seeds, decide, report, and hand over the model.

    Within ``request.budget`` seconds if given. With gates (a baseline, a minimum score), the
    document's ``gates`` say what changed (`RecommendResult.gates`); the model is then
    registered only if ``request.promote`` and the quality gates pass. ``step`` is called
    before each final training run with what it is (for a progress bar). ``comparison`` is the
    final comparison step (`selector.final.compare`; a test passes its own); ``clock``
    the one the budget is read on (a test passes a fake one). One recommendation runs per
    study at a time: a second one is refused (`StudyBusy`).
    """
    notify = notify or logging.getLogger(__name__).warning
    plan = None if request.budget is None else \
        BudgetPlan.starting(request.budget, request.started, clock)
    baseline, baseline_source = _baseline(request)  # before any training: a bad one fails fast
    search_request = request.search
    data = load_dataset(search_request.data, search_request.data_options)
    work_end = None if plan is None else plan.work
    searching = None if work_end is None else \
        SearchBudget(work_end, final_seeds=request.seeds - int(not cross_validates(data)))
    space = search_request.load_space(data)
    check_places(search_request, request.folder())
    with StudyLock(storage_for(search_request.storage), search_request.resolved_study_name(),
                   role="recommend", wait=False):
        summary, study, kept = search_study(search_request, data, space, progress, notify,
                                            searching)
        seeds = tuple(search_request.seed + i for i in range(request.seeds))
        refit_wanted = request.refit
        final = comparison(study, data, space.training, seeds=seeds,
                        accelerator=search_request.accelerator, step=step, refit=refit_wanted,
                        deadline=work_end, measure_until=None if plan is None else plan.measuring,
                        kept=kept)
        profile = profile_dataset(data)
        record_study(study, final=final.comparison.to_dict(), profile=profile,
                     decision=StoredDecision(preferences=request.preferences,
                                             budgets=search_request.budgets))
        INTERRUPTS.checkpoint()  # safe points between the output steps, up to the hand-over
        rec = decide(final.comparison, profile, search_request.budgets, request.preferences)
        handed, compared = None, final.comparison
        if rec.verdict is not None:
            INTERRUPTS.checkpoint()
            handed, compared = model_to_hand_over(request, final, rec.verdict, data, space,
                                                  work_end, step, len(seeds))
            record_study(study, final=compared.to_dict())
        gates = evaluate(decision_document(rec), baseline, baseline_source=baseline_source,
                         min_score=request.min_score) if request.gated else None
        where = (f"The search and the final comparison are kept in "
                 f"{mask_url(search_request.storage)} (study '{study.study_name}'): free space "
                 "and run the same command again (it resumes; the final runs are redone).")
        with keeping(where):
            document = hand_over(request, study, data, compared, rec, profile, summary, gates,
                                  notify, handed)
    return RecommendResult(summary, rec, document)


def _baseline(request: RecommendRequest) -> tuple[dict[str, Any] | None, str | None]:
    """The previous decision to compare with: the champion's, or a recommendation.json."""
    if request.baseline is None:
        return None, None
    if request.baseline == "champion":
        uri = request.search.tracking_uri
        if uri is None:
            raise ParameterError("baseline", "'champion' reads the registered model from MLflow, "
                                 "so it needs tracking; track, or give a recommendation.json",
                                 request.baseline)
        found = champion_document(uri, request.registered_name())
        return found if found is not None else (None, None)  # the first run has none
    path = Path(request.baseline)
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ParameterError("baseline", f"must be a readable recommendation JSON ({exc})",
                             str(path)) from None
    if not isinstance(document, dict) or document.get("schema") not in BASELINE_SCHEMAS:
        raise ParameterError("baseline", "must be a recommendation.json written by selector "
                             f"recommend (schema {' or '.join(BASELINE_SCHEMAS)})", str(path))
    return document, str(path)
