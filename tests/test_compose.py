"""docker-compose.yml without a container engine: its shape, its dependencies, and that what it
runs and sets is what our code accepts and reads. tests/test_distributed.py runs its services'
commands natively."""

from __future__ import annotations

import re
from pathlib import Path

import mlflow.environment_variables
import pytest
import typer

from selector.cli import app
from tests.helpers import compose

SERVICE_KEYS = {"build", "image", "command", "environment", "volumes", "ports", "depends_on",
                "healthcheck", "restart", "profiles"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
SELECTOR_SERVICES = ("create-study", "worker", "recommend")


@pytest.fixture(scope="module")
def spec() -> dict:
    return compose.load()


def test_the_file_has_the_team_stack(spec: dict) -> None:
    assert set(spec) <= {"name", "services", "volumes"} | {k for k in spec if k.startswith("x-")}
    assert set(spec["services"]) == {"postgres", "mlflow", *SELECTOR_SERVICES}
    for name, service in spec["services"].items():
        assert set(service) <= SERVICE_KEYS, name
        assert "image" in service or "build" in service, name
    named = {v.split(":")[0] for s in spec["services"].values() for v in s.get("volumes", [])
             if not v.startswith((".", "/", "$"))}
    assert named <= set(spec["volumes"])


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
    command = typer.main.get_command(app).commands[subcommand]  # type: ignore[attr-defined]
    context = command.make_context(subcommand, args)  # raises on anything it does not take
    assert context.params["storage"] == "postgresql://selector@postgres:5432/selector"
    assert context.params["study_name"] == "selector-team"


def _cli_envvars() -> set[str]:
    click_app = typer.main.get_command(app)
    names = set()
    for command in click_app.commands.values():  # type: ignore[attr-defined]
        for parameter in command.params:
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
    assert 'ENTRYPOINT ["selector"]' in dockerfile
    assert "torch==${TORCH_VERSION}" in dockerfile  # the pinned build, never a default pull
    mounted = Path(compose.load()["services"]["postgres"]["volumes"][1].split(":")[0])
    assert (compose.ROOT / mounted).is_file()  # mlflow/initdb.sql
