"""The search: the space of candidates, the Optuna study and its storage, and what it stores.

`space` reads the YAML search spaces; `objective` trains one trial; `study` runs the study with
equal effort per cell (`pruning` prunes within a cell); `storage` opens SQLite or PostgreSQL
with heartbeats and locks; `state` is the typed, versioned record of what a study stores;
`schedule` shares a time budget out between the search and the final comparison.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from selector._lazy import attach

if TYPE_CHECKING:
    from selector.search.objective import Objective
    from selector.search.space import SearchSpace, load_space, parse_space, preset_for
    from selector.search.state import StudyState, TrialAttrs, study_state, trial_attrs
    from selector.search.storage import storage_for
    from selector.search.study import open_study, summarize

__all__ = ["Objective", "SearchSpace", "StudyState", "TrialAttrs", "load_space", "open_study",
           "parse_space", "preset_for", "storage_for", "study_state", "summarize", "trial_attrs"]

if not TYPE_CHECKING:  # the type checker sees the imports above: an unknown name fails
    __getattr__, __dir__ = attach(__name__, {
        "Objective": "selector.search.objective",
        "SearchSpace": "selector.search.space",
        "load_space": "selector.search.space",
        "parse_space": "selector.search.space",
        "preset_for": "selector.search.space",
        "StudyState": "selector.search.state",
        "TrialAttrs": "selector.search.state",
        "study_state": "selector.search.state",
        "trial_attrs": "selector.search.state",
        "storage_for": "selector.search.storage",
        "open_study": "selector.search.study",
        "summarize": "selector.search.study",
    })
