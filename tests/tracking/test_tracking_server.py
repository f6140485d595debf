"""Tracking against real `mlflow server` processes on 127.0.0.1: the stock one and ours (mlflow/)."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import optuna
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from selector.api import SearchRequest, search
from selector.cli import app
from selector.dashboard import ServerProcess
from selector.search.study import counted_trials
from tests.conftest import TINY, free_port, selector
from tests.helpers.tracking import trial_runs

pytestmark = [pytest.mark.server, pytest.mark.slow]
START = Path(__file__).parents[2] / "mlflow" / "start.py"


def stock_server(folder: Path, port: int) -> ServerProcess:
    """`mlflow server` as a team would run it: a database, proxied artifacts, one worker."""
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
               f"sqlite:///{folder / 'server.db'}", "--artifacts-destination",
               str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1"]
    return ServerProcess(command, host="127.0.0.1", port=port, name="test tracking server")


@pytest.fixture
def tiny(tmp_path: Path) -> str:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return str(path)


def test_recommend_logs_everything_to_a_tracking_server(tmp_path: Path, tiny: str) -> None:
    with stock_server(tmp_path, free_port()) as server:
        result = CliRunner().invoke(app, [
            "recommend", "example:digits", "--space", tiny, "--n-trials", "5", "--json",
            "--seeds", "2", "--output-dir", str(tmp_path / "out"),
            "--storage", f"sqlite:///{tmp_path / 'study.db'}", "--tracking-uri", server.url])
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        tracking = document["search"]["tracking"]
        assert tracking["uri"] == server.url and tracking["unlogged_trials"] == []
        client = MlflowClient(server.url)
        parent = client.get_run(tracking["parent_run_id"])
        assert parent.info.run_name == "selector-digits" and parent.info.status == "FINISHED"
        runs = trial_runs(client, parent.info.run_id)
        study = optuna.load_study(study_name="selector-digits",
                                  storage=f"sqlite:///{tmp_path / 'study.db'}")
        assert sorted(runs) == [t.number for t in study.trials if t.state.is_finished()]
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        assert complete
        for trial in complete:
            run = runs[trial.number]
            assert run.data.metrics["best_val_accuracy"] == trial.value
            assert run.data.metrics["throughput_per_s"] > 0
            steps = client.get_metric_history(run.info.run_id, "val_loss")
            assert len(steps) == len(trial.user_attrs["curves"])
        # Artifacts went through the server's artifact proxy.
        plots = {f.path for f in client.list_artifacts(parent.info.run_id, "plots")}
        assert "plots/validation_curves.png" in plots
        assert any((tmp_path / "artifacts").rglob("validation_curves.png"))
        # The recommended model is registered on the server, and served back from it.
        version = client.get_model_version_by_alias("selector-digits", "champion")
        assert version.version == document["artifacts"]["mlflow"]["version"]
        assert client.get_run(parent.info.run_id).data.tags["selector.verdict"] == \
            document["verdict"]
        before = mlflow.get_tracking_uri()
        predicted = CliRunner().invoke(app, ["predict", "models:/selector-digits@champion",
                                             "example:digits", "-o", "-", "--tracking-uri",
                                             server.url])
        assert predicted.exit_code == 0, predicted.output
        assert predicted.stdout.startswith("index,prediction,probability")
        # --tracking-uri is where this model comes from, not MLflow's URI for the process.
        assert mlflow.get_tracking_uri() == before != server.url


def test_losing_the_server_mid_study_costs_no_training_and_nothing_is_lost(
        tmp_path: Path, tiny: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    port = free_port()
    server = stock_server(tmp_path, port).__enter__()
    request = SearchRequest(data="example:digits", space=tiny, n_trials=6, accelerator="cpu",
                            storage=f"sqlite:///{tmp_path / 'study.db'}", tracking_uri=server.url)

    def stop_after_two(study: optuna.Study) -> None:
        if counted_trials(study) >= 2:
            server.stop()

    warnings: list[str] = []
    summary = search(request, progress=stop_after_two, notify=warnings.append)
    assert summary.n_trials == 6  # training went on
    assert len(warnings) == 1 and server.url in warnings[0]  # reported once
    tracking = summary.tracking
    assert tracking is not None and tracking.unlogged_trials and tracking.error
    assert tracking.logged_trials + len(tracking.unlogged_trials) == 6

    # Back up: the same command trains nothing more and logs what was missing, once.
    with stock_server(tmp_path, port):
        again = search(request)
    assert again.tracking is not None and again.tracking.unlogged_trials == ()
    with stock_server(tmp_path, port) as check:
        assert sorted(trial_runs(MlflowClient(check.url), tracking.parent_run_id)) == list(range(6))


def team_server_env(tmp_path: Path, port: int, password: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= {"MLFLOW_PORT": str(port), "MLFLOW_BACKEND_STORE_URI": f"sqlite:///{tmp_path / 'runs.db'}",
            "MLFLOW_AUTH_DATABASE_URI": f"sqlite:///{tmp_path / 'users.db'}",
            "MLFLOW_ARTIFACTS_DESTINATION": str(tmp_path / "artifacts")}
    if password:
        env["MLFLOW_AUTH_ADMIN_PASSWORD"] = password
    return env


def test_the_team_server_will_not_start_without_an_admin_password(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, str(START)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, env=team_server_env(tmp_path, free_port(), None))
    assert run.returncode == 2 and "MLFLOW_AUTH_ADMIN_PASSWORD" in run.stderr
    assert not (tmp_path / "runs.db").exists()


def test_the_team_server_names_the_mlflow_it_needs(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """MLflow before 3.17 has no MLFLOW_AUTH_ADMIN_PASSWORD: it would fail on a KeyError."""
    spec = importlib.util.spec_from_file_location("team_start", START)
    start = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(start)  # type: ignore[union-attr]
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "s3cret-enough")
    monkeypatch.setattr(start, "version", lambda name: "3.16.2")
    monkeypatch.setattr(start.os, "execv", lambda *a: pytest.fail("the server was started"))
    assert start.main([]) == 2
    err = capsys.readouterr().err
    assert "mlflow[auth] 3.17 or newer" in err and "3.16.2" in err


def test_the_team_server_requires_a_login_and_takes_selector_runs(
        tmp_path: Path, tiny: str, monkeypatch: pytest.MonkeyPatch) -> None:
    port, password = free_port(), secrets.token_hex(12)
    env = team_server_env(tmp_path, port, password)
    with ServerProcess([sys.executable, str(START)], host="127.0.0.1", port=port,
                       name="team server", env=env) as server:
        assert subprocess.run([sys.executable, str(START), "health"], env=env,
                              timeout=30).returncode == 0
        with pytest.raises(urllib.error.HTTPError) as anonymous:
            urllib.request.urlopen(f"{server.url}/api/2.0/mlflow/experiments/search?max_results=1")
        assert anonymous.value.code == 401
        write = urllib.request.Request(  # an anonymous write: refused, and nothing created
            f"{server.url}/api/2.0/mlflow/experiments/create", method="POST",
            data=json.dumps({"name": "vandal"}).encode(),
            headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(write)
        assert refused.value.code == 401

        # The CLI, as a user runs it, with credentials from MLflow's standard variables only.
        login = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": password,
                 "MLFLOW_TRACKING_URI": server.url}
        args = ["recommend", "example:digits", "--space", tiny, "--n-trials", "2", "--seeds",
                "2", "--accelerator", "cpu", "--storage", f"sqlite:///{tmp_path / 'study.db'}",
                "--json", "--quiet"]
        run = selector(*args, cwd=tmp_path, env=login)
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
        assert json.loads(out)["search"]["tracking"]["logged_trials"] == 2
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        names = [e.name for e in MlflowClient(server.url).search_experiments()]
        assert "selector-digits" in names and "vandal" not in names

        wrong = selector(*args, cwd=tmp_path, env={**login,
                                                   "MLFLOW_TRACKING_PASSWORD": "not-it"})
        out, err = wrong.communicate(timeout=120)
        assert wrong.returncode == 2 and "401" in err and "Traceback" not in err
        assert password not in out + err and "not-it" not in out + err


def test_the_container_runs_and_checks_the_tested_script() -> None:
    dockerfile = (START.parent / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["python", "/app/start.py"]' in dockerfile
    assert 'CMD ["python", "/app/start.py", "health"]' in dockerfile
    instructions = [line for line in dockerfile.splitlines() if not line.startswith("#")]
    assert not any("PASSWORD" in line for line in instructions)  # given at run time only
    requirements = (START.parent / "requirements.txt").read_text()
    assert "mlflow[auth]" in requirements and "psycopg" in requirements
