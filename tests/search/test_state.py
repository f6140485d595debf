"""The study's stored state: typed records, versioned, migrated or refused by version."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from selector.api import joined_request
from selector.data import DataOptions
from selector.records import Budgets, Preferences
from selector.search.state import (
    SCHEMA_ATTR,
    StoredDecision,
    StoredSettings,
    StudyState,
    TrialAttrs,
    record_study,
    study_state,
)
from selector.versions import STUDY, FormatError
from tests.helpers.records import profile


def study(tmp_path: Path) -> optuna.Study:
    return optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}", study_name="s")


def settings() -> StoredSettings:
    return StoredSettings(data="x.csv", data_options=DataOptions(target="y", lookback=12),
                          space="default", space_yaml="params: {}", n_trials=7, seed=3,
                          budgets=Budgets(max_params=5000), multi_objective=False,
                          experiment_name="e")


def test_what_is_recorded_reads_back_as_the_same_records(tmp_path: Path) -> None:
    s = study(tmp_path)
    decision = StoredDecision(Preferences(prefer="edge", min_gain=0.01), Budgets(max_params=9))
    record_study(s, task="classification", settings=settings(), profile=profile(),
                 decision=decision, space_reason="because")
    state = study_state(s)
    assert s.user_attrs[SCHEMA_ATTR] == STUDY.version == 1  # a bare number, as ever
    assert state.settings == settings() and state.decision == decision
    assert state.profile == profile() and state.space_reason == "because"
    assert state.identity() == {"task": "classification", "data_digest": None, "space": None}


def test_trial_attrs_round_trip_and_ignore_keys_they_do_not_own() -> None:
    attrs = TrialAttrs(cell="gru", config={"cell": "gru"}, curves=({"epoch": 1},), cut=True)
    stored = attrs.to_attrs()
    assert stored["curves"] == [{"epoch": 1}] and "rejected" not in stored  # defaults left out
    assert TrialAttrs.from_attrs({**stored, "someone_elses": 1}) == attrs


def test_a_study_written_before_the_version_was_stored_is_migrated(tmp_path: Path) -> None:
    s = study(tmp_path)
    old = settings().to_attrs()
    del old["data_fidelity"]  # added later: its default applies
    s.set_user_attr("selector.settings", old)
    assert study_state(s).settings == settings()
    joined = joined_request("s", f"sqlite:///{tmp_path / 's.db'}", jobs=2)
    assert joined.n_trials == 7 and joined.budgets == Budgets(max_params=5000) and joined.join


@pytest.mark.parametrize(("stored", "message"), [
    (STUDY.version + 1, rf"is selector.study {STUDY.version + 1}, written by a newer selector; "
                        rf"this one reads selector.study 0 to {STUDY.version}\. Upgrade"),
    ("two", r"is marked 'two', not selector.study"),
    (-1, r"is marked -1, not selector.study"),
])
def test_a_newer_or_unknown_schema_is_refused_naming_both_versions(
        tmp_path: Path, stored: object, message: str) -> None:
    s = study(tmp_path)
    s.set_user_attr(SCHEMA_ATTR, stored)
    with pytest.raises(FormatError, match=message):
        study_state(s)


def test_stored_settings_that_break_their_rules_are_refused(tmp_path: Path) -> None:
    s = study(tmp_path)
    s.set_user_attr("selector.settings", {**settings().to_attrs(), "budgets": {"max_params": -1}})
    with pytest.raises(FormatError, match=r"does not match selector\.study \d"):
        study_state(s)


def test_the_stored_names_are_the_ones_studies_already_hold() -> None:
    """Renaming a key orphans every existing study's value: these names are the schema."""
    assert set(StudyState(task="t", space="s", data_digest="d", uid="u", settings=settings(),
                          space_reason="r", profile=profile(), decision=StoredDecision(
                              Preferences(), Budgets()), final={}).to_attrs()) == {
        "selector.schema", "selector.task", "selector.space", "selector.data_digest",
        "selector.uid", "selector.settings", "selector.space_reason", "selector.profile",
        "selector.decision", "selector.final"}
