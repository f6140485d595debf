"""What selector stores on an Optuna study and its trials: one typed record each, versioned.

The study storage is the source of truth every worker on every machine shares, so its keys
are declared here once. Writers call `record_trial` / `record_study`; readers call
`trial_attrs` / `study_state`, and never index Optuna's attributes by string. A study carries
the schema version it was written with (`SCHEMA_ATTR`): an older one is migrated as it is
read, a newer or unknown one is refused with both versions named.

Version history:
    0: before the version was stored: the same keys, without ``selector.schema`` and the
       settings' ``data_fidelity`` (default True); a budget-cut trial said so only in words.
    1: ``selector.schema``; trials store ``cut``. (Trials of older searches may hold
       ``test_outcomes``, written while the search tested its best trials for reuse; the
       comparison tests them itself now, and the key is ignored.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from selector.choices import Cell
from selector.data.options import DataOptions
from selector.errors import SelectorError
from selector.records import Budgets, Cost, DataProfile, ModelConfig, Preferences
from selector.versions import STUDY, FormatError

SCHEMA_ATTR = "selector.schema"  # the study's `selector.versions.STUDY` marker


def _present(record: Any, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``record``'s fields that differ from their defaults, keyed as stored."""
    return {(names or {}).get(f.name, f.name): getattr(record, f.name) for f in fields(record)
            if getattr(record, f.name) != f.default}


@dataclass(frozen=True)
class TrialAttrs:
    """What a trial stores about itself (Optuna user attributes), as it becomes known."""

    invocation: str | None = None  # which search ran it (tracking logs its own trials)
    cell: Cell | None = None
    config: dict[str, Any] | None = None  # the `ModelConfig`, as a dict
    seed: int | None = None
    parameters: int | None = None  # known before training
    latency_ms_p50: float | None = None  # batch-1, known before training
    probe_epoch_seconds: float | None = None  # a search epoch, probed before training (--budget)
    epoch_sequences: int | None = None  # training sequences each of its search epochs reads
    rejected: bool = False  # over a hard budget, never trained
    state_reason: str = ""  # why it ended as it did, in words
    pruned_epoch: int | None = None
    curves: tuple[dict[str, Any], ...] = ()  # one dict per epoch (`EpochHistory.epochs`)
    setup_seconds: float = 0.0  # one-time work (kernel load, shape timings), in no epoch
    cost: dict[str, Any] | None = None  # the `Cost`, as a dict
    learned: bool = True  # beat the trivial baseline on validation
    baseline: float | None = None  # the trivial baseline's validation score
    cut: bool = False  # stopped early by the time budget
    twin_of: int | None = None  # enqueued: the other cell's twin of this trial number
    balancing: bool = False  # enqueued to keep both cells' trial counts equal
    rung_unit_seconds: float | None = None  # pruned on seconds trained, in this unit (--budget)

    def to_attrs(self) -> dict[str, Any]:
        """The fields that are set, as stored (JSON types)."""
        attrs = _present(self)
        if "curves" in attrs:
            attrs["curves"] = list(attrs["curves"])
        return attrs

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> TrialAttrs:
        """The record of stored attributes; keys selector does not own are left out."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in attrs.items() if k in known}
        if "curves" in values:
            values["curves"] = tuple(values["curves"])
        return cls(**values)

    def model_config(self) -> ModelConfig:
        if self.config is None:
            raise SelectorError("this trial has no configuration yet (it has not started)")
        return ModelConfig(**self.config)

    def cost_record(self) -> Cost | None:
        """What the trained candidate costs, or None before it was measured."""
        return None if self.cost is None else Cost(**self.cost)


def trial_attrs(trial: FrozenTrial | optuna.Trial) -> TrialAttrs:
    """What selector stored on ``trial``."""
    return TrialAttrs.from_attrs(trial.user_attrs)


def record_trial(trial: optuna.Trial, **values: Any) -> None:
    """Store ``values`` (fields of `TrialAttrs`) on a running trial."""
    record = TrialAttrs(**values)
    for key in values:
        value = getattr(record, key)
        trial.set_user_attr(key, list(value) if isinstance(value, tuple) else value)


@dataclass(frozen=True)
class StoredSettings:
    """What a worker needs to join a study, stored on it by the process that created it."""

    data: str
    data_options: DataOptions
    space: str
    space_yaml: str
    n_trials: int
    seed: int
    budgets: Budgets
    multi_objective: bool
    experiment_name: str
    data_fidelity: bool = True

    def to_attrs(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**values, "data_options": self.data_options.to_dict(),
                "budgets": _present(self.budgets)}

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> StoredSettings:
        return cls(**{**attrs, "data_options": DataOptions.from_dict(attrs["data_options"]),
                      "budgets": Budgets(**attrs.get("budgets", {}))})


@dataclass(frozen=True)
class StoredDecision:
    """The preferences and budgets of a study's last recommendation, for re-rendering."""

    preferences: Preferences
    budgets: Budgets

    def to_attrs(self) -> dict[str, Any]:
        return {**_present(self.preferences), "budgets": _present(self.budgets)}

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> StoredDecision:
        values = dict(attrs)
        return cls(budgets=Budgets(**values.pop("budgets", {})), preferences=Preferences(**values))


_STUDY_KEYS = {"task": "selector.task", "space": "selector.space",
               "data_digest": "selector.data_digest", "uid": "selector.uid",
               "settings": "selector.settings", "space_reason": "selector.space_reason",
               "profile": "selector.profile", "decision": "selector.decision",
               "final": "selector.final", "rung_unit": "selector.rung_unit"}
IDENTITY = ("task", "data_digest", "space")  # what a study was made for: resumes must match


@dataclass(frozen=True)
class StudyState:
    """What selector stored on a study, read back and migrated to `versions.STUDY`."""

    schema: int = STUDY.version
    task: str | None = None
    space: str | None = None  # the search space's name
    data_digest: str | None = None
    uid: str | None = None  # the study's own id, e.g. to find its MLflow run again
    settings: StoredSettings | None = None
    space_reason: str | None = None  # why the data's profile chose the space; None: given
    profile: DataProfile | None = None
    decision: StoredDecision | None = None
    final: dict[str, Any] | None = None  # the `FinalComparison` (versioned on its own)
    rung_unit: float | None = None  # budgeted searches prune on seconds, in this unit

    def identity(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in IDENTITY}

    def to_attrs(self) -> dict[str, Any]:
        """The fields that are set, keyed as stored, with the schema version."""
        attrs: dict[str, Any] = {SCHEMA_ATTR: STUDY.marker}
        for name, key in _STUDY_KEYS.items():
            value = getattr(self, name)
            if value is not None:
                attrs[key] = value.to_attrs() if hasattr(value, "to_attrs") else \
                    value.to_dict() if isinstance(value, DataProfile) else value
        return attrs

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any], *, study: str) -> StudyState:
        schema = STUDY.read(attrs.get(SCHEMA_ATTR, 0), f"study '{study}'")
        values = {name: attrs.get(key) for name, key in _STUDY_KEYS.items()}
        settings, profile, decision = (values.pop(k) for k in ("settings", "profile", "decision"))
        try:
            return cls(schema=STUDY.version, **values,
                       settings=None if settings is None else StoredSettings.from_attrs(settings),
                       profile=None if profile is None else DataProfile.from_dict(profile),
                       decision=None if decision is None else StoredDecision.from_attrs(decision))
        except (TypeError, KeyError, ValueError) as exc:
            raise FormatError(f"study '{study}' holds state that does not match "
                              f"{STUDY.kind} {schema} ({exc}); it was not written by this "
                              "selector.") from None


def study_state(study: optuna.Study) -> StudyState:
    """What selector stored on ``study`` (one storage call)."""
    return StudyState.from_attrs(study.user_attrs, study=study.study_name)


def record_study(study: optuna.Study, **values: Any) -> None:
    """Store ``values`` (fields of `StudyState`) on ``study``, with the schema version."""
    for key, value in StudyState(**values).to_attrs().items():
        study.set_user_attr(key, value)
