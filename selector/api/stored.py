"""Reports of recommended studies, re-rendered or re-decided from their storage alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna

from selector.api.handover import RecommendResult, write_plots
from selector.api.scope import scoped
from selector.choices import Prefer
from selector.comparison.runs import (
    stored_comparison,
)
from selector.decision.rules import decide
from selector.defaults import DEFAULT_STORAGE
from selector.errors import SelectorError
from selector.records import (
    Budgets,
    DataProfile,
    FinalComparison,
    Preferences,
    Recommendation,
)
from selector.reports.document import (
    build_document,
    report_paths,
    write_reports,
)
from selector.search.state import StoredDecision, study_state
from selector.search.storage import storage_for
from selector.search.study import (
    load_existing,
    summarize,
)


@scoped
def report_study(study_name: str, *, storage: str = DEFAULT_STORAGE,
                 prefer: Prefer | None = None, min_gain: float | None = None,
                 budgets: Budgets | None = None, output_dir: str | None = None
                 ) -> RecommendResult:
    """Re-render the report of a recommended study from its storage, without retraining.
    Where `recommend` handed over a forecast made from the series' past instead of a cell's
    model, the report says so as it did.

    The preset, minimum gain and budgets default to those of the last `recommend`; each one
    given replaces only itself (a new ``min_gain`` keeps the stored preset), and re-decides.
    Raises `SelectorError` when there is no such study, it holds no final comparison, or
    an older selector stored it (`FormatError`), and `ParameterError` for a bad argument.
    """
    study, final, profile, rec = _redecided(study_name, storage, prefer, min_gain, budgets)
    summary = summarize(study, storage_url=storage, score_name=final.score_name)
    folder = Path(output_dir or Path("selector-output") / study_name)
    artifacts: dict[str, Any] = {"folder": str(folder), **report_paths(folder),
                                 "plots": write_plots(study, final, folder)}
    if final.fallback is not None:  # what `recommend` handed over, whatever is re-decided
        rec = replace(rec, rationale=(*rec.rationale, final.fallback.said))
        artifacts["fallback"] = final.fallback.name
    document = build_document(rec, final, profile, summary, artifacts)
    write_reports(document, folder)
    return RecommendResult(summary, rec, document)



def _redecided(study_name: str, storage: str, prefer: Prefer | None, min_gain: float | None,
               budgets: Budgets | None
               ) -> tuple[optuna.Study, FinalComparison, DataProfile, Recommendation]:
    """A recommended study's stored comparison, decided again with the given changes."""
    study = load_existing(storage_for(storage), study_name)
    final = stored_comparison(study)
    state = study_state(study)
    if final is None or state.profile is None:
        raise SelectorError(f"study '{study_name}' has no final comparison yet: run 'selector "
                            "recommend' on it first (its search trials are kept).")
    stored = state.decision or StoredDecision(Preferences(), Budgets())
    preferences = replace(stored.preferences, prefer=prefer or stored.preferences.prefer,
                          min_gain=stored.preferences.min_gain if min_gain is None else min_gain)
    rec = decide(final, state.profile, budgets or stored.budgets, preferences)
    return study, final, state.profile, rec


@scoped
def load_recommendation(study_name: str, *, storage: str = DEFAULT_STORAGE,
                        prefer: Prefer | None = None, min_gain: float | None = None,
                        budgets: Budgets | None = None) -> Recommendation:
    """The recommendation of a recommended study, read from its storage; nothing is written.

    As `report_study`, ``prefer``, ``min_gain`` and ``budgets`` re-decide with new values;
    it raises what `report_study` raises.
    """
    return _redecided(study_name, storage, prefer, min_gain, budgets)[3]
