"""What a search and a recommendation are asked to do: validated request records."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from selector.choices import Accelerator, Objective, Prefer, check_choice
from selector.data import DataOptions, SequenceData, profile_dataset
from selector.data.examples import example_name, is_example
from selector.defaults import DEFAULT_STALE_AFTER, DEFAULT_STORAGE
from selector.errors import ParameterError, SelectorError, at_least, param, positive
from selector.records import Budgets, DataProfile, Preferences
from selector.search.space import SearchSpace, load_space, parse_space, preset_for
from selector.search.state import StoredSettings, study_state
from selector.search.storage import storage_for
from selector.search.study import (
    load_existing,
)
from selector.tracking import (
    default_tracking_uri,
)
from selector.urls import mask_url


@dataclass(frozen=True)
class SearchRequest:
    """Everything one search needs; the defaults serve one machine with zero set-up."""

    data: str
    data_options: DataOptions = field(default_factory=DataOptions)
    space: str | None = None  # a preset or a YAML path; None: chosen from the data's profile
    study_name: str | None = None
    storage: str = DEFAULT_STORAGE
    n_trials: int = 20
    timeout: float | None = None
    jobs: int = 1
    seed: int = 0
    budgets: Budgets = field(default_factory=Budgets)
    multi_objective: bool = False
    accelerator: Accelerator = "auto"
    tracking_uri: str | None = field(default_factory=default_tracking_uri)  # None: no MLflow
    experiment_name: str | None = None  # default: the study name
    stale_after: int = DEFAULT_STALE_AFTER  # heartbeat grace period (seconds)
    data_fidelity: bool = True  # big data: search epochs are chunks (`selector.training.fidelity`)
    joining: StoredSettings | None = None  # a worker's: the settings stored on the study it joins

    def __post_init__(self) -> None:
        if not isinstance(self.data, str) or not self.data:
            raise ParameterError("data", "must be a path or example:NAME", self.data)
        at_least("n_trials", self.n_trials, 1)
        at_least("jobs", self.jobs, 1)
        at_least("seed", self.seed, 0)
        at_least("stale_after", self.stale_after, 1)
        positive("timeout", self.timeout)
        check_choice("accelerator", self.accelerator, Accelerator)
        if not self.storage:
            raise ParameterError("storage", "must be a database URL or a file path",
                                 self.storage)

    def resolved_study_name(self) -> str:
        if self.study_name:
            return self.study_name
        stem = example_name(self.data) if is_example(self.data) else \
            Path(self.data).name.split(".")[0]
        return f"selector-{stem}"

    def resolved_experiment_name(self) -> str:
        return self.experiment_name or self.resolved_study_name()

    def settings(self) -> dict[str, Any]:
        """This invocation's settings, as recorded on the study's MLflow run."""
        return {"data": self.data, "n_trials": self.n_trials, "timeout": self.timeout,
                "jobs": self.jobs, "seed": self.seed, "objective":
                "score-latency" if self.multi_objective else "score",
                "max_params": self.budgets.max_params,
                "max_latency_ms": self.budgets.max_latency_ms,
                "accelerator": self.accelerator, "storage": mask_url(self.storage)}

    @property
    def join(self) -> bool:
        """Whether this runs trials of an existing study, whose stored settings rule."""
        return self.joining is not None

    def load_space(self, data: SequenceData, profile: DataProfile | None = None) -> SearchSpace:
        """The joined study's space, the given one, or the preset that fits ``data`` (by its
        ``profile``, made here if not given)."""
        if self.joining is not None:
            return parse_space(self.joining.space_yaml,
                               source=f"study '{self.resolved_study_name()}'",
                               name=self.joining.space)
        if self.space is None:
            name, reason = preset_for(profile or profile_dataset(data))
            return replace(load_space(name), reason=reason)
        return load_space(self.space)

    def stored_settings(self, space: SearchSpace) -> StoredSettings:
        """What a worker needs to join the study, stored on it (see `joined_request`)."""
        return StoredSettings(
            data=self.data, data_options=self.data_options, space=space.name,
            space_yaml=space.text, n_trials=self.n_trials, seed=self.seed, budgets=self.budgets,
            multi_objective=self.multi_objective, data_fidelity=self.data_fidelity,
            experiment_name=self.resolved_experiment_name())


def joined_request(study_name: str, storage: str = DEFAULT_STORAGE, *, data: str | None = None,
                   **invocation: Any) -> SearchRequest:
    """The request of an existing study, read back from it, to run more of its trials.

    ``data`` is where the study's data is on this machine (default: the path it was created
    with); it must hold the same content. ``invocation`` sets this run's own options (jobs,
    timeout, accelerator, tracking_uri, stale_after). Raises `SelectorError` when there is
    no such study or selector did not create it, and `ParameterError` for a bad option.
    """
    study = load_existing(storage_for(storage), study_name)
    stored = study_state(study).settings
    if stored is None:
        raise SelectorError(f"study '{study_name}' in {mask_url(storage)} was not created by "
                            "selector create-study or selector recommend; it has no settings "
                            "to join.")
    return SearchRequest(
        data=data or stored.data, data_options=stored.data_options, space=stored.space,
        study_name=study_name, storage=storage, n_trials=stored.n_trials, seed=stored.seed,
        budgets=stored.budgets, multi_objective=stored.multi_objective,
        data_fidelity=stored.data_fidelity, experiment_name=stored.experiment_name,
        joining=stored, **invocation)


@dataclass(frozen=True)
class RecommendRequest:
    """A search, then the final comparison, the decision, the reports and the model."""

    search: SearchRequest
    seeds: int = 3  # the least seed pairs
    max_seeds: int | None = None  # the most, added while undecided; default: twice ``seeds``
    refit: bool = True  # hand over the chosen configuration refit on train + validation
    preferences: Preferences = field(default_factory=Preferences)
    output_dir: str | None = None  # default: selector-output/<study name>
    model_name: str | None = None  # registered model name; default: the study name
    register: bool = True
    budget: float | None = None  # seconds for the whole command, within budget.tolerance
    started: float | None = None  # time.time() the budget counts from (default: the call)
    baseline: str | None = None  # "champion" (the registered model's run) or a JSON report
    min_score: float | None = None  # quality gate on the recommended cell's test score
    promote: bool = False  # a gated run registers the model only with this, and gates passed

    def __post_init__(self) -> None:
        if not isinstance(self.seeds, int) or self.seeds < 2:
            raise ParameterError("seeds", "must be at least 2 (one seed has no spread to judge "
                                 "a difference by)", self.seeds)
        if self.max_seeds is not None and (not isinstance(self.max_seeds, int)
                                           or self.max_seeds < self.seeds):
            raise ParameterError("max_seeds", f"must be at least {param('seeds')} "
                                 f"({self.seeds})", self.max_seeds)
        positive("budget", self.budget)
        if self.min_score is not None and not math.isfinite(self.min_score):
            raise ParameterError("min_score", "must be a finite number", self.min_score)


    @property
    def most_seeds(self) -> int:
        """The most seed pairs the comparison may run (`max_seeds`, default twice `seeds`)."""
        return 2 * self.seeds if self.max_seeds is None else self.max_seeds

    def folder(self) -> Path:
        return Path(self.output_dir or Path("selector-output") / self.search.resolved_study_name())

    def registered_name(self) -> str:
        return self.model_name or self.search.resolved_study_name()

    @property
    def gated(self) -> bool:
        return self.baseline is not None or self.min_score is not None


def recommend_request(data: str, *, data_options: DataOptions | None = None, n_trials: int = 20,
                      seeds: int = 3, max_seeds: int | None = None, seed: int = 0,
                      budget: float | None = None,
                      started: float | None = None, space: str | None = None,
                      prefer: Prefer = "balanced", min_gain: float | None = None,
                      budgets: Budgets | None = None, objective: Objective = "score",
                      accelerator: Accelerator = "auto", jobs: int = 1,
                      timeout: float | None = None, refit: bool = True,
                      study_name: str | None = None, storage: str = DEFAULT_STORAGE,
                      tracking_uri: str | None = None, experiment_name: str | None = None,
                      register: bool = True, model_name: str | None = None,
                      output_dir: str | None = None, baseline: str | None = None,
                      min_score: float | None = None, promote: bool = False,
                      stale_after: int = DEFAULT_STALE_AFTER) -> RecommendRequest:
    """The request of a recommendation, from the options a user gives: the one way both
    `selector.recommend` and ``selector recommend`` ask (``tracking_uri`` None: no MLflow).
    Every argument is checked here (`ParameterError`), before anything is written."""
    check_choice("objective", objective, Objective)
    search = SearchRequest(
        data=data, data_options=data_options or DataOptions(seed=seed), space=space,
        study_name=study_name, storage=storage, n_trials=n_trials, timeout=timeout, jobs=jobs,
        seed=seed, budgets=budgets or Budgets(), multi_objective=objective == "score-latency",
        accelerator=accelerator, tracking_uri=tracking_uri, experiment_name=experiment_name,
        stale_after=stale_after)
    return RecommendRequest(
        search=search, seeds=seeds, max_seeds=max_seeds, refit=refit,
        preferences=Preferences(prefer=prefer, min_gain=min_gain), output_dir=output_dir,
        model_name=model_name, register=register, budget=budget, started=started,
        baseline=baseline, min_score=min_score, promote=promote)
