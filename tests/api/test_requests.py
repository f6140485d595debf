"""Bad arguments to the Python API: a ParameterError naming the parameter, the rule and the
valid choices, raised before any work; the CLI shows the same error with its flag."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import selector
from selector.api import RecommendRequest, SearchRequest
from selector.cli import app
from selector.data import DataOptions
from selector.errors import ParameterError, SelectorError
from selector.records import Budgets, ModelConfig, Preferences
from tests.conftest import long_frame, write


@pytest.mark.parametrize(("build", "parameter", "shown"), [
    (lambda: SearchRequest(data="x.csv", n_trials=0), "n_trials", "must be at least 1"),
    (lambda: SearchRequest(data="x.csv", jobs=-2), "jobs", "must be at least 1"),
    (lambda: SearchRequest(data="x.csv", timeout=float("nan")), "timeout", "finite number"),
    (lambda: SearchRequest(data="x.csv", accelerator="tpu9"), "accelerator",
     "Valid choices: auto, cpu, gpu, cuda, mps."),
    (lambda: RecommendRequest(SearchRequest(data="x.csv"), seeds=1), "seeds",
     "one seed has no spread"),
    (lambda: RecommendRequest(SearchRequest(data="x.csv"), budget=0), "budget", "above 0"),
    (lambda: RecommendRequest(SearchRequest(data="x.csv"), seeds=4, max_seeds=3), "max_seeds",
     "must be at least seeds (4)"),
    (lambda: Preferences(prefer="fastest"), "prefer",
     "Valid choices: edge, balanced, accuracy."),
    (lambda: Preferences(min_gain=-0.1), "min_gain", "must be at least 0"),
    (lambda: Budgets(max_params=0), "max_params", "must be at least 1"),
    (lambda: ModelConfig(cell="rnn"), "cell", "Valid choices: gru, lstm."),
    (lambda: DataOptions(task="classify"), "task", "Did you mean 'classification'?"),
    (lambda: DataOptions(val_fraction=0.7), "val_fraction", "between 0 and 0.5"),
])
def test_request_records_refuse_bad_values_by_name(build, parameter: str, shown: str) -> None:
    with pytest.raises(ParameterError) as error:
        build()
    assert error.value.parameter == parameter
    assert str(error.value).startswith(f"{parameter} ") and shown in str(error.value)


def test_the_most_seed_pairs_default_to_twice_the_least() -> None:
    assert RecommendRequest(SearchRequest(data="x.csv"), seeds=4).most_seeds == 8
    assert RecommendRequest(SearchRequest(data="x.csv"), seeds=4, max_seeds=4).most_seeds == 4


def test_the_api_names_an_unknown_keyword_and_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="targt") as error:
        selector.profile(long_frame(), targt="label")
    assert "Did you mean 'target'?" in str(error.value) and "id_col" in str(error.value)


def test_bad_arguments_fail_before_anything_is_written(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for bad in ({"n_trials": 0}, {"prefer": "cheap"}, {"objective": "latency"},
                {"accelerator": "abacus"}, {"seeds": 1}):
        with pytest.raises(ParameterError):
            selector.recommend(long_frame(), target="label", **bad)
    with pytest.raises(ParameterError, match="data must be"):
        selector.recommend(42)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"\(X, y\) or \(X, y, lengths\)"):
        selector.recommend(([1.0],))
    assert list(tmp_path.iterdir()) == []  # no study, no saved data, no MLflow store


def test_in_memory_data_that_cannot_be_saved_is_a_data_error(tmp_path: Path) -> None:
    mixed = long_frame().assign(a=lambda f: [1 if i % 2 else "x" for i in range(len(f))])
    with pytest.raises(SelectorError, match="the DataFrame"):
        selector.profile(mixed)


def test_a_dataframe_with_repeated_column_names_is_refused_naming_them(tmp_path: Path) -> None:
    frame = long_frame()
    frame = pd.concat([frame, frame[["a"]]], axis=1)
    with pytest.raises(SelectorError, match="the DataFrame: column names repeat: 'a'"):
        selector.profile(frame)


def test_the_cli_shows_the_library_error_with_its_flag(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"schema": "someone-else/1"}')
    result = CliRunner().invoke(app, ["recommend", "example:digits", "--no-tracking",
                                      "--baseline", str(other),
                                      "--storage", f"sqlite:///{tmp_path / 's.db'}"])
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "--baseline must be a recommendation.json written by selector recommend" in message


def test_profile_takes_a_dataframe_and_arrays_as_a_file_would_be_read(tmp_path: Path) -> None:
    frame = long_frame(40)
    path = tmp_path / "seqs.csv"
    frame.to_csv(path, index=False)
    from_file = selector.profile(path, target="label")
    from_frame = selector.profile(frame, target="label")
    assert from_frame.n_sequences == from_file.n_sequences == 40
    assert from_frame.feature_names == from_file.feature_names
    rng = pd.Series(range(24)).to_numpy()
    X = rng.reshape(8, 3, 1).astype("float32")
    arrays = selector.profile((X, rng[:8] % 2))
    assert arrays.n_sequences == 8 and arrays.task == "classification"


def test_the_python_api_takes_the_clis_gates(tmp_path: Path) -> None:
    data = str(write(long_frame(), tmp_path / "seqs.csv"))
    with pytest.raises(ParameterError, match=r"baseline must be a readable recommendation JSON"):
        selector.recommend(data, baseline=str(tmp_path / "old.json"), tracking=False)
    with pytest.raises(ParameterError, match=r"min_score must be a finite number"):
        selector.recommend(data, min_score=float("nan"), tracking=False)
