"""docker-compose.yml without a container engine: its shape, its dependencies, and that what it
runs and sets is what our code accepts and reads. tests/test_distributed.py runs its services'
commands natively."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import mlflow.environment_variables
import pytest

from selector.cli import command
from selector.process import available_cpus
from tests.helpers import compose

CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
SELECTOR_SERVICES = ("create-study", "worker", "recommend")


@pytest.fixture(scope="module")
def spec() -> dict:
    return compose.load()


def test_the_file_is_valid_compose_with_the_team_stack(spec: dict) -> None:
    checked = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                              "vendor.compose-spec", str(compose.COMPOSE)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr  # the published schema
    assert set(spec["services"]) == {"postgres", "mlflow", *SELECTOR_SERVICES}
    named = {v.split(":")[0] for s in spec["services"].values() for v in s.get("volumes", [])
             if not v.startswith((".", "/", "$"))}
    assert named <= set(spec["volumes"])


def test_selector_containers_have_a_cpu_quota_and_size_threads_from_it(
        spec: dict, tmp_path: Path) -> None:
    for name in SELECTOR_SERVICES:
        assert compose.interpolate(str(spec["services"][name]["cpus"]), compose.dotenv()) == "2"
    (tmp_path / "cpu.max").write_text("200000 100000\n")  # what `cpus: 2` writes (cgroup v2)
    assert available_cpus(tmp_path) == min(2, available_cpus(tmp_path / "none"))


def test_a_worker_is_started_again_after_exit_75_but_not_after_bad_input(
        spec: dict, tmp_path: Path) -> None:
    worker = spec["services"]["worker"]
    assert worker["restart"] == "no" and worker["command"] == ["worker"]
    shell, flag, script, name = worker["entrypoint"]
    script = script.replace("$$", "$").replace("sleep 15", "sleep 0")  # compose's escaping
    fake = tmp_path / "selector"  # exits 75 twice (storage down), then 2 (bad input)
    fake.write_text('#!/bin/sh\necho "$@" >> calls\n[ "$(wc -l < calls)" -le 2 ] && exit 75\n'
                    "exit 2\n")
    fake.chmod(0o755)
    done = subprocess.run([shell, flag, script, name, *worker["command"]], cwd=tmp_path,
                          env={**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"},
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2  # final: compose does not restart it
    assert (tmp_path / "calls").read_text().splitlines() == ["worker"] * 3
    assert done.stderr.count("exit 75") == 2


def test_services_start_in_order_on_health(spec: dict) -> None:
    services = spec["services"]
    for name, service in services.items():
        for target, rule in service.get("depends_on", {}).items():
            assert target in services and rule["condition"] in CONDITIONS, (name, target)
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[target], target
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["mlflow"]["healthcheck"]["test"][-2:] == ["/app/start.py", "health"]
    assert services["worker"]["depends_on"] == {
        "create-study": {"condition": "service_completed_successfully"}}
    assert services["create-study"]["restart"] == "no"  # the study is created once
    # `--scale worker=N` needs a worker without a fixed name or host port.
    assert not {"container_name", "ports"} & set(services["worker"])


def test_every_variable_is_in_the_env_example_and_no_secret_is_committed() -> None:
    text = compose.COMPOSE.read_text()
    example = compose.dotenv()
    assert compose.variables(text) <= set(example)
    for name in ("POSTGRES_PASSWORD", "MLFLOW_ADMIN_PASSWORD"):
        assert f"${{{name}:?" in text  # compose refuses to start without it
        assert example[name].startswith("change-me")
    assert ".env" in (compose.ROOT / ".gitignore").read_text().splitlines()
    assert not re.search(r"postgresql://[^@\s]*:[^@\s]*@", text)  # no password in a URL


@pytest.mark.parametrize("name", SELECTOR_SERVICES)
def test_selector_services_run_real_commands(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each parses as our CLI, the storage and the study name coming from the service's
    environment (SELECTOR_STORAGE, SELECTOR_STUDY); tests/test_distributed.py runs them."""
    for key, value in compose.environment(name, compose.dotenv()).items():
        monkeypatch.setenv(key, value)
    subcommand, *args = compose.command(name, compose.dotenv())
    chosen = command().commands[subcommand]
    context = chosen.make_context(subcommand, args)  # raises on anything it does not take
    assert context.params["storage"] == "postgresql://selector@postgres:5432/selector"
    assert context.params["study_name"] == "selector-team"
    if name == "create-study":  # its space and budget come from the environment too
        assert context.params["space"] == "default" and context.params["n_trials"] == 40


def _cli_envvars() -> set[str]:
    names = set()
    for sub in command().commands.values():
        for parameter in sub.params:
            envvar = getattr(parameter, "envvar", None)
            names |= {envvar} if isinstance(envvar, str) else set(envvar or ())
    return names


def test_the_environment_is_what_the_code_reads(spec: dict) -> None:
    mlflow_client = {v.name for v in vars(mlflow.environment_variables).values()
                     if hasattr(v, "name") and isinstance(v.name, str)}
    read_by_libpq = {"PGPASSWORD"}
    for name in SELECTOR_SERVICES:
        for key in spec["services"][name]["environment"]:
            assert key in _cli_envvars() | mlflow_client | read_by_libpq, (name, key)
    start = (compose.ROOT / "mlflow" / "start.py").read_text()
    for key in spec["services"]["mlflow"]["environment"]:
        assert re.search(rf"^  {key}\b", start, re.M), f"start.py does not document {key}"


def test_the_selector_image_installs_the_postgres_driver_and_runs_the_cli() -> None:
    dockerfile = (compose.ROOT / "Dockerfile").read_text()
    assert 'pip install ".[postgres]"' in dockerfile
    assert re.search(r"apt-get install[^\n]*\bg\+\+", dockerfile)  # the GRU kernel's compiler
    user = dockerfile.index("USER selector")  # built as the user that runs it, into its cache
    assert dockerfile.index("fast_gru.kernel() is not None") > user
    assert 'ENTRYPOINT ["selector"]' in dockerfile
    assert "torch==${TORCH_VERSION}" in dockerfile  # the pinned build, never a default pull
    mounted = Path(compose.load()["services"]["postgres"]["volumes"][1].split(":")[0])
    assert (compose.ROOT / mounted).is_file()  # mlflow/initdb.sql
