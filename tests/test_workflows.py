"""The GitHub workflows run for real: the scheduled selection's own shell steps, taken from
.github/workflows/selection.yml (not copied), on a tiny search in a temporary folder, through
every exit code path; and the test workflow runs what CI runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow import MlflowClient

from selector.cli import command
from tests.conftest import TINY

ROOT = Path(__file__).parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"


def workflow(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(spec: dict[str, Any]) -> dict[str, Any]:
    return spec.get("on") or spec[True]  # YAML 1.1 reads a bare `on` as true


def steps() -> dict[str, str]:
    """The selection job's shell steps by name."""
    job = workflow("selection.yml")["jobs"]["select"]
    return {s["name"]: s["run"] for s in job["steps"] if "run" in s}


def test_the_selection_runs_weekly_and_on_demand_within_a_bounded_budget() -> None:
    spec = workflow("selection.yml")
    assert set(triggers(spec)) == {"schedule", "workflow_dispatch"}
    job = spec["jobs"]["select"]
    assert job["timeout-minutes"] <= 180
    assert job["env"]["SELECTOR_BUDGET"]  # read by selector recommend as --budget
    uploads = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads and uploads[0]["if"] == "always()" and uploads[0]["with"]["path"] == "selection/"
    for secret in ("MLFLOW_TRACKING_PASSWORD", "PGPASSWORD", "SELECTOR_STORAGE"):
        assert job["env"][secret].startswith("${{ secrets.")  # never a literal


def test_the_workflows_match_the_published_schema_and_zizmor_finds_nothing() -> None:
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    schema = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                             "vendor.github-workflows", *files], capture_output=True, text=True)
    assert schema.returncode == 0, schema.stdout + schema.stderr
    audit = subprocess.run([str(Path(sys.executable).with_name("zizmor")), "--offline",
                            "--no-progress", str(WORKFLOWS)], capture_output=True, text=True)
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_the_selection_cannot_run_twice_at_once_and_reads_documented_settings() -> None:
    spec = workflow("selection.yml")
    assert spec["concurrency"]["group"] and spec["concurrency"]["cancel-in-progress"] is False
    header = (WORKFLOWS / "selection.yml").read_text().split("\nname:")[0]
    recommend = command().commands["recommend"]
    options = {p.envvar for p in recommend.params if p.param_type_name == "option"}
    assert '"$SELECTOR_DATA"' in steps()["Select the architecture"]  # the data argument
    for name in spec["jobs"]["select"]["env"]:
        if name.startswith("SELECTOR_") and name != "SELECTOR_DATA":
            assert name in options, f"{name} is set but selector recommend does not read it"
            assert name in header or name == "SELECTOR_STUDY", f"{name} is not documented"


def test_the_test_workflow_runs_what_ci_runs() -> None:
    spec = workflow("tests.yml")
    commands = [s["run"] for s in spec["jobs"]["test"]["steps"] if "run" in s]
    assert commands == ["bash .ci/run"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


class Selection:
    """The workflow's `select` and `Judge` steps in bash, as GitHub Actions runs them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = {**os.environ,
                    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                    "SELECTOR_DATA": "example:digits", "SELECTOR_SPACE": "tiny.yaml",
                    "SELECTOR_N_TRIALS": "6", "SELECTOR_BUDGET": "600", "SELECTOR_SEEDS": "2",
                    "SELECTOR_BASELINE": "champion",
                    "SELECTOR_MIN_SCORE": "0.2", "SELECTOR_MODEL_NAME": "weekly",
                    "SELECTOR_STUDY": "weekly-1",
                    "SELECTOR_STORAGE": f"sqlite:///{folder / 'selector.db'}",
                    "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
                    "GITHUB_OUTPUT": str(folder / "github_output"),
                    "GITHUB_STEP_SUMMARY": str(folder / "step_summary.md")}
        (folder / "tiny.yaml").write_text(TINY)

    def run(self, **env: str) -> int:
        """The select step; its exit code, as the step wrote it to $GITHUB_OUTPUT."""
        output = Path(self.env["GITHUB_OUTPUT"])
        output.write_text("")
        step = subprocess.run(["bash", "-e", "-c", steps()["Select the architecture"]],
                              cwd=self.folder, env={**self.env, **env}, capture_output=True,
                              text=True, timeout=600)
        assert step.returncode == 0, step.stderr  # the step records the code, the judge acts
        self.stderr = step.stderr
        return int(re.search(r"exit_code=(\d+)", output.read_text())[1])  # type: ignore[index]

    def judge(self, code: int) -> subprocess.CompletedProcess[str]:
        step = workflow("selection.yml")["jobs"]["select"]["steps"]
        env = next(s for s in step if s.get("name") == "Judge")["env"]
        assert env == {"EXIT_CODE": "${{ steps.select.outputs.exit_code }}"}  # not in run:
        return subprocess.run(["bash", "-e", "-c", steps()["Judge"]], capture_output=True,
                              text=True, env={**os.environ, "EXIT_CODE": str(code)})

    def result(self) -> dict[str, Any]:
        return json.loads((self.folder / "selection" / "result.json").read_text())


@pytest.mark.slow
def test_every_exit_code_path_of_the_scheduled_selection(tmp_path: Path) -> None:
    job = Selection(tmp_path)
    client = MlflowClient(job.env["MLFLOW_TRACKING_URI"])

    # First run: no champion yet; the gate passes, the model becomes the champion.
    assert job.run() == 0
    first = job.result()
    assert first["gates"]["baseline"] is None and first["gates"]["promoted"]
    assert str(client.get_model_version_by_alias("weekly", "champion").version) == "1"
    summary = (tmp_path / "selection" / "summary.md").read_text()
    assert "No previous decision" in summary and "Promoted to champion: yes" in summary
    assert job.judge(0).returncode == 0
    (tmp_path / "first.json").write_text(json.dumps(first))

    # The same data again: compared with the champion, unchanged.
    assert job.run() == 0
    again = job.result()["gates"]
    assert again["baseline"] == "models:/weekly@champion (version 1)"
    assert not again["changed"] and again["comparison"]["changes"]["cell"]["changed"] is False

    # Against a baseline that chose the other cell: the decision changed (a warning only).
    other = {**first, "verdict": "lstm" if first["verdict"] == "gru" else "gru"}
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert job.run(SELECTOR_BASELINE="other.json") == 3
    change = job.result()["gates"]["comparison"]["changes"]["cell"]
    assert change == {**change, "before": other["verdict"], "after": first["verdict"],
                      "changed": True}
    judged = job.judge(3)
    assert judged.returncode == 0 and "::warning title=Architecture decision changed" in \
        judged.stdout
    assert "decision changed" in (tmp_path / "selection" / "summary.md").read_text()

    # A quality gate the model cannot meet: exit 4, the job fails, nothing is promoted.
    versions = len(client.search_model_versions("name = 'weekly'"))
    assert job.run(SELECTOR_MIN_SCORE="1.01") == 4
    assert not job.result()["gates"]["promoted"]
    assert len(client.search_model_versions("name = 'weekly'")) == versions
    assert job.judge(4).returncode == 4

    # Bad input: a clear error and exit 2; the judge fails the job.
    assert job.run(SELECTOR_DATA="missing.csv") == 2
    assert "missing.csv" in job.stderr
    assert job.judge(2).returncode == 1

    # Each run appended its summary to the job's page.
    assert (tmp_path / "step_summary.md").read_text().count("## selector:") == 4
