"""The command line as users meet it: help, JSON on stdout, errors with exit code 2."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import torch
from typer.testing import CliRunner

from selector.api.scope import library_scope, log_level
from selector.cli import app, command, run
from tests.conftest import free_port

runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


def test_profile_json_is_machine_readable(long_csv: Path) -> None:
    result = runner.invoke(app, ["profile", str(long_csv), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["task"] == "classification" and payload["n_sequences"] == 30
    assert payload["short_sequences"] is True and payload["training_size"] == "small"


def test_profile_table_names_the_criteria_numbers() -> None:
    result = runner.invoke(app, ["profile", "example:digits"])
    assert result.exit_code == 0
    assert "G2 short sequences" in result.stdout and "1,797" in result.stdout


def test_bad_input_exits_2_with_one_clear_message(tmp_path: Path) -> None:
    result = runner.invoke(app, ["profile", str(tmp_path / "missing.parquet")])
    assert result.exit_code == 2
    assert "missing.parquet: file not found" in result.stderr
    assert "Traceback" not in result.output


def test_data_flags_reach_the_loader(long_csv: Path) -> None:
    result = runner.invoke(app, ["profile", str(long_csv), "--id-col", "sequnce_id"])
    assert result.exit_code == 2
    assert "--id-col names column 'sequnce_id'" in result.stderr  # the flag, not id_col
    assert "Did you mean 'sequence_id'?" in result.stderr


def test_bad_task_value_is_a_usage_error(long_csv: Path) -> None:
    result = runner.invoke(app, ["profile", str(long_csv), "--task", "clustering"])
    assert result.exit_code == 2  # a Click choice: the usage error lists the valid values
    assert "'classification', 'regression', 'forecasting'" in " ".join(result.output.split())


def test_help_lists_data_options_once() -> None:
    result = runner.invoke(app, ["profile", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    assert "Data options" in result.stdout and result.stdout.count("--lookback") == 1


def test_examples_lists_every_example_as_json() -> None:
    result = runner.invoke(app, ["examples", "--json"])
    assert set(json.loads(result.stdout)) == {"digits", "adding", "copy", "drift", "counting",
                                               "sine", "reviews"}


def test_progress_shows_the_best_score_in_the_study_direction() -> None:
    import optuna
    from rich.console import Console

    from selector.progress import SearchProgress

    study = optuna.create_study(direction="minimize")  # e.g. RMSE for regression
    cells = optuna.distributions.CategoricalDistribution(["gru", "lstm"])
    for cell, value in (("gru", 3.0), ("gru", 1.0), ("lstm", 2.0)):
        study.add_trial(optuna.trial.create_trial(params={"cell": cell},
                                                  distributions={"cell": cells}, value=value))
    console = Console(record=True, width=200)
    with SearchProgress(console, total=5) as bar:
        bar.update(study)
    text = console.export_text()
    assert "best gru 1, lstm 2" in text, text


def test_recommendation_flags_are_checked_and_documented(tmp_path: Path) -> None:
    result = runner.invoke(app, ["recommend", "example:digits", "--prefer", "fast"])
    assert result.exit_code == 2
    assert "'edge', 'balanced', 'accuracy'" in " ".join(result.output.split())
    result = runner.invoke(app, ["recommend", "example:digits", "--seeds", "1"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "--seeds" in result.output
    # Typer's own words for a range differ between releases ("x>=2", "greater than or equal to 2")
    assert re.search(r"x>=2|greater than or equal to 2", result.output)
    result = runner.invoke(app, ["recommend", "example:digits", "--seeds", "4", "--max-seeds",
                                 "3"], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "--max-seeds must be at least --seeds (4)" in result.output
    help_text = runner.invoke(app, ["recommend", "--help"], env={"COLUMNS": "200"}).stdout
    for flag in ("--seeds", "--max-seeds", "--prefer", "--min-gain", "--max-train-time", "--output-dir",
                 "--model-name", "--no-register", "--no-refit"):
        assert flag in help_text


def test_report_and_predict_name_what_is_missing(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'empty.db'}"
    result = runner.invoke(app, ["report", "selector-digit", "--storage", storage])
    assert result.exit_code == 2 and "no study 'selector-digit'" in result.stderr
    result = runner.invoke(app, ["predict", str(tmp_path), "example:digits"])
    assert result.exit_code == 2 and "no selector-model.json" in result.stderr


def test_a_password_on_the_command_line_is_warned_about_and_never_shown() -> None:
    url = f"postgresql://bob:hunter2@127.0.0.1:{free_port()}/selector"
    result = runner.invoke(app, ["worker", "--study-name", "s", "--storage", url])
    assert result.exit_code == 75, result.output  # the database is down: try again later
    assert "hunter2" not in result.output and "bob:***@127.0.0.1" in result.output
    assert "process list" in result.output and "PGPASSWORD" in result.output


def test_a_password_given_to_the_wrong_flag_is_masked_in_the_usage_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://bob:hunter2@127.0.0.1:1/selector"  # Click quotes a bad choice's value
    assert run(["recommend", "example:digits", "--accelerator", url, "--json"]) == 2
    out, err = capsys.readouterr()
    assert "hunter2" not in out + err
    assert "bob:***@127.0.0.1" in json.loads(out)["error"]["message"]


def test_joining_a_study_that_does_not_exist_names_the_ones_that_do(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    created = runner.invoke(app, ["create-study", "example:digits", "--study-name", "churn",
                                  "--storage", storage, "--no-tracking", "--json"])
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["counted_trials"] == 0
    result = runner.invoke(app, ["worker", "--study-name", "chrun", "--storage", storage])
    assert result.exit_code == 2
    assert "no study 'chrun'" in result.output and "Did you mean 'churn'?" in result.output
    assert "process list" not in result.output  # no password, no warning


def test_resume_and_data_are_checked_before_any_work() -> None:
    no_name = runner.invoke(app, ["recommend", "--resume"])
    assert no_name.exit_code == 2 and "--study-name" in no_name.output
    no_data = runner.invoke(app, ["recommend"])
    assert no_data.exit_code == 2 and "--resume --study-name" in no_data.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_an_accelerator_this_machine_lacks_is_refused_before_any_study(tmp_path: Path) -> None:
    database = tmp_path / "study.db"
    result = runner.invoke(app, ["recommend", "example:digits", "--accelerator", "gpu",
                                 "--storage", f"sqlite:///{database}", "--no-tracking"])
    assert result.exit_code == 2, result.output
    assert "--accelerator is not available on this machine" in result.stderr
    assert "CUDA" in result.stderr and "Traceback" not in result.output
    assert not database.exists() or not optuna.get_all_study_summaries(f"sqlite:///{database}")


@pytest.mark.parametrize(("argv", "kind", "parameter"), [
    (["profile", "missing.csv"], "DataError", None),
    (["recommend", "example:digits", "--prefer", "fast"], "BadParameter", None),
    (["recommend", "example:digits", "--no-tracking", "--baseline", "nope.json"],
     "ParameterError", "--baseline"),
])
def test_with_json_a_failure_is_a_json_error_on_stdout(tmp_path: Path, argv: list[str],
                                                        kind: str, parameter: str | None) -> None:
    done = subprocess.run([sys.executable, "-m", "selector", *argv, "--json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    error = json.loads(done.stdout)["error"]  # stdout holds the JSON object and nothing else
    assert error["type"] == kind and error["exit_code"] == 2 and error["message"]
    assert error.get("parameter") == parameter
    assert "Error" in done.stderr  # the terminal still gets the readable message


def test_every_exit_code_is_in_the_top_level_help() -> None:
    text = " ".join(runner.invoke(app, ["--help"], env={"COLUMNS": "200"}).stdout.split())
    for code in ("0 done", "1 a bug", "2 bad input", "3 the decision changed",
                 "4 a quality gate failed", "74 a file", "75 the study storage", "130 interrupted"):
        assert code in text, code


def test_verbose_lets_the_libraries_logs_through_a_library_call() -> None:
    quiet, loud = [], []
    with library_scope():
        quiet.append(logging.getLogger("optuna").level)
    with log_level(logging.DEBUG), library_scope():
        loud.append(logging.getLogger("lightning.pytorch").level)
    assert quiet == [logging.ERROR] and loud == [logging.DEBUG]
    assert runner.invoke(app, ["-vv", "examples"]).exit_code == 0
    assert runner.invoke(app, ["--log-level", "loud", "examples"]).exit_code == 2


def test_every_option_reads_a_selector_variable_named_after_its_flag(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    recommend = command().commands["recommend"]
    options = [p for p in recommend.params if p.param_type_name == "option"]
    assert all(p.show_envvar and p.envvar.startswith(("SELECTOR_", "MLFLOW_")) for p in options)
    assert {"SELECTOR_N_TRIALS", "SELECTOR_MAX_TRAIN_TIME", "SELECTOR_NO_TRACKING",
            "SELECTOR_STUDY", "SELECTOR_TARGET"} <= {p.envvar for p in options}
    assert run(["recommend", "--help"]) == 0
    assert "SELECTOR_N_TRIALS" in capsys.readouterr().out  # shown in --help
    monkeypatch.setenv("SELECTOR_N_TRIALS", "1")
    assert run(["recommend", "example:digits"]) == 2  # read, and checked like the flag
    assert "SELECTOR_N_TRIALS" in " ".join(capsys.readouterr().err.split())
