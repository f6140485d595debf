"""Many workers on one study, as a team runs it: PostgreSQL storage, the team's tracking server
(mlflow/start.py, backed by the same PostgreSQL), real worker processes, and real faults.

The cluster is a throwaway one on 127.0.0.1 (tests/helpers/postgres.py). Credentials reach every
process the way the README tells users to pass them: PGPASSWORD and MLFLOW_TRACKING_USERNAME/
PASSWORD in the environment, never in a URL on the command line.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import FrozenTrial, TrialState

from selector.dashboard import ServerProcess
from tests.conftest import TINY, free_port, selector
from tests.helpers import compose
from tests.helpers.postgres import PASSWORD, PostgresCluster, postgres_bin
from tests.helpers.tracking import trial_runs

pytestmark = [pytest.mark.server, pytest.mark.slow]
START = Path(__file__).parents[1] / "mlflow" / "start.py"
ADMIN_PASSWORD = secrets.token_hex(12)
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)

# Trials of several seconds, so that a worker can be killed in the middle of one.
SLOW = TINY.replace("training: {max_epochs: 3, patience: 2}",
                    "training: {max_epochs: 25, patience: 25, min_epochs_before_pruning: 25}")


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    """PostgreSQL as the compose file's `postgres` service sets it up: user and database
    "selector", and mlflow/initdb.sql run once."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed: CI installs it with 'make system-deps'")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    cluster = PostgresCluster(bin_dir)
    cluster.start()
    cluster.run_sql("CREATE DATABASE selector")
    cluster.run_sql((compose.ROOT / "mlflow" / "initdb.sql").read_text())
    yield cluster
    cluster.destroy()


def settings(**changes: str) -> dict[str, str]:
    """The compose file's .env: .env.example with the test cluster's passwords."""
    return {**compose.dotenv(), "POSTGRES_PASSWORD": PASSWORD,
            "MLFLOW_ADMIN_PASSWORD": ADMIN_PASSWORD, **changes}


@pytest.fixture(scope="module")
def tracking_server(cluster: PostgresCluster,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The compose file's `mlflow` service, run natively: its environment, its entrypoint."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= compose.natively(compose.environment("mlflow", settings()), {
        "postgres:5432": f"127.0.0.1:{cluster.port}", "/data/": f"{folder}/"})
    env |= {"MLFLOW_PORT": str(port)}  # the container listens on 0.0.0.0:5000
    with ServerProcess([sys.executable, str(START)], host="127.0.0.1", port=port,
                       name="team tracking server", env=env) as server:
        yield server


@pytest.fixture
def team(cluster: PostgresCluster, tracking_server: ServerProcess, request: pytest.FixtureRequest,
         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The compose file's .env for this test's study (named after the test)."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "slow.yaml").write_text(SLOW)
    values = settings(SELECTOR_STUDY=request.node.name.replace("test_", "")[:40])
    env = compose.natively(compose.environment("worker", values), {
        "postgres:5432": f"127.0.0.1:{cluster.port}", "http://mlflow:5000": tracking_server.url})
    for key, value in env.items():  # for this process's own checks
        monkeypatch.setenv(key, value)
    return values


def service(name: str, values: dict[str, str], tmp_path: Path,
            *extra: str) -> subprocess.Popen[str]:
    """A compose service's command as a local process: its environment is set by `team`, and
    the selector settings the compose file passes from ``values`` (SELECTOR_SPACE, ...)."""
    passed = {k: v for k, v in compose.environment(name, values).items()
              if k in ("SELECTOR_SPACE", "SELECTOR_N_TRIALS")}
    return selector(*compose.command(name, values), *extra, cwd=tmp_path, env=passed)


def finish(process: subprocess.Popen[str], timeout: float = 600) -> tuple[str, str]:
    out, err = process.communicate(timeout=timeout)
    for text in (out, err):  # credentials never reach the output
        assert PASSWORD not in text and ADMIN_PASSWORD not in text
    return out, err


def create(tmp_path: Path, values: dict[str, str], space: str, n_trials: int) -> dict[str, Any]:
    values |= {"SELECTOR_SPACE": space, "SELECTOR_N_TRIALS": str(n_trials)}
    process = service("create-study", values, tmp_path, "--json")
    out, err = finish(process)
    assert process.returncode == 0, err
    return json.loads(out)


def worker(tmp_path: Path, values: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return service("worker", values, tmp_path, "--json", "--accelerator", "cpu", *extra)


def trials() -> list[FrozenTrial]:
    storage = os.environ["SELECTOR_STORAGE"].replace("selector@", f"selector:{PASSWORD}@")
    return optuna.load_study(study_name=os.environ["SELECTOR_STUDY"], storage=storage).trials


def wait_for(condition: str, check: Callable[[], bool], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        time.sleep(0.2)


def assert_consistent(parent_run_id: str, n_trials: int) -> None:
    """Unique trial numbers, the budget exactly, nothing left running, each finished trial
    logged exactly once."""
    kept = trials()
    numbers = [t.number for t in kept]
    assert len(numbers) == len(set(numbers))
    assert sum(1 for t in kept if t.state in COUNTED) == n_trials
    assert not [t for t in kept if t.state == TrialState.RUNNING]
    runs = trial_runs(MlflowClient(os.environ["MLFLOW_TRACKING_URI"]), parent_run_id)  # once
    assert sorted(runs) == sorted(t.number for t in kept if t.state.is_finished())


def test_three_workers_share_one_budget_and_then_one_recommendation(
        tmp_path: Path, team: dict[str, str]) -> None:
    prepared = create(tmp_path, team, "tiny.yaml", n_trials=10)
    assert prepared["counted_trials"] == 0
    assert prepared["storage"] == os.environ["SELECTOR_STORAGE"]  # no password to mask
    workers = [worker(tmp_path, team) for _ in range(3)]
    for process in workers:
        out, err = finish(process)
        assert process.returncode == 0, err
        assert json.loads(out)["n_trials"] == 10  # each saw the global count, not its own
    assert_consistent(str(prepared["parent_run_id"]), 10)
    ran = {t.user_attrs["invocation"] for t in trials() if t.state in COUNTED}
    assert len(ran) >= 2  # the work was shared

    # The comparison and the decision run once, after the workers, from the stored settings.
    process = service("recommend", team, tmp_path, "--seeds", "2", "--json", "--accelerator",
                      "cpu", "--output-dir", "out")
    out, err = finish(process)
    assert process.returncode == 0, err
    document = json.loads(out)
    assert document["search"]["n_trials"] == 10  # no more trials were run
    assert document["search"]["tracking"]["parent_run_id"] == prepared["parent_run_id"]
    assert (tmp_path / "out" / "report.html").exists()
    assert_consistent(str(prepared["parent_run_id"]), 10)


def test_a_killed_worker_trial_is_retried_and_nothing_completed_is_lost(
        tmp_path: Path, team: dict[str, str]) -> None:
    prepared = create(tmp_path, team, "slow.yaml", n_trials=4)
    victim = worker(tmp_path, team, "--stale-after", "5")
    wait_for("the first worker's trial", lambda: any(
        t.state == TrialState.RUNNING and t.user_attrs.get("config") for t in trials()))
    killed = next(t for t in trials() if t.state == TrialState.RUNNING)
    victim.kill()  # SIGKILL: no chance to tidy up; its trial stays RUNNING in the database
    victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL

    survivors = [worker(tmp_path, team, "--stale-after", "5") for _ in range(2)]
    for process in survivors:
        _, err = finish(process)
        assert process.returncode == 0, err
    kept = {t.number: t for t in trials()}
    assert kept[killed.number].state == TrialState.FAIL
    retries = [t for t in kept.values() if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retries) == 1 and retries[0].params == kept[killed.number].params
    assert retries[0].state in COUNTED
    assert_consistent(str(prepared["parent_run_id"]), 4)
    runs = trial_runs(MlflowClient(os.environ["MLFLOW_TRACKING_URI"]),
                      str(prepared["parent_run_id"]))
    assert "heartbeats" in runs[killed.number].data.tags["selector.state_reason"]


def test_a_database_restart_mid_study_is_ridden_out(
        tmp_path: Path, team: dict[str, str], cluster: PostgresCluster) -> None:
    prepared = create(tmp_path, team, "tiny.yaml", n_trials=12)
    workers = [worker(tmp_path, team) for _ in range(2)]
    wait_for("trials before the restart", lambda: sum(
        1 for t in trials() if t.state in COUNTED) >= 3)
    cluster.restart()  # every connection is closed; the server is back within a second
    for process in workers:
        _, err = finish(process)
        if process.returncode == 75:  # gave up with a clear message: resuming finishes the job
            assert "lost the study storage" in err and "run the same command again" in err
        else:
            assert process.returncode == 0, err
    if any(p.returncode == 75 for p in workers):
        again = worker(tmp_path, team)
        _, err = finish(again)
        assert again.returncode == 0, err
    assert_consistent(str(prepared["parent_run_id"]), 12)
