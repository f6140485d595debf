"""The search: the space of candidates, the Optuna study and its storage, and what it stores.

`space` reads the YAML search spaces; `objective` trains one trial; `study` runs the study with
equal effort per cell (`pruning` prunes within a cell); `storage` opens SQLite or PostgreSQL
with heartbeats and locks; `state` is the typed, versioned record of what a study stores;
`schedule` shares a time budget out between the search and the final comparison.
"""

from selector.search.objective import Objective
from selector.search.space import SearchSpace, load_space, parse_space, preset_for
from selector.search.state import StudyState, TrialAttrs, study_state, trial_attrs
from selector.search.storage import storage_for
from selector.search.study import open_study, summarize

__all__ = ["Objective", "SearchSpace", "StudyState", "TrialAttrs", "load_space", "open_study",
           "parse_space", "preset_for", "storage_for", "study_state", "summarize", "trial_attrs"]
