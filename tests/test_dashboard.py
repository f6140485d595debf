"""`selector dashboard`: the MLflow UI over the local store, checked in a real browser."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from selector.cli import app
from selector.dashboard import dashboard, server_command
from selector.errors import SelectorError
from tests.conftest import TINY, free_port

ARTIFACTS = Path(os.environ.get("SELECTOR_TEST_ARTIFACTS", Path(__file__).parents[1] / "test-artifacts"))
CHROMIUM = Path("/usr/bin/chromium")


def test_the_server_serves_artifacts_from_beside_a_sqlite_store(tmp_path: Path) -> None:
    command = server_command(f"sqlite:///{tmp_path / 'x' / 'mlflow.db'}", host="127.0.0.1",
                             port=5000, workers=1)
    assert command[command.index("--default-artifact-root") + 1] == str(tmp_path / "x" / "mlruns")
    assert command[command.index("--workers") + 1] == "1"


def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SelectorError, match=f"port {port} on 127.0.0.1 is already in use"):
            dashboard(f"sqlite:///{tmp_path / 'm.db'}", port=port).__enter__()


def test_a_tracking_server_needs_no_dashboard() -> None:
    result = CliRunner().invoke(app, ["dashboard", "--tracking-uri", "http://u:pw@mlflow:5000"])
    assert result.exit_code == 0
    assert "http://u:***@mlflow:5000" in result.stdout and "pw@" not in result.stdout


@pytest.fixture
def dashboard_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`selector recommend` then `selector dashboard`, both with their defaults, in tmp_path."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI")  # the defaults: ./mlflow.db and ./mlruns
    (tmp_path / "tiny.yaml").write_text(TINY)
    selector = [sys.executable, "-m", "selector"]
    subprocess.run([*selector, "recommend", "example:digits", "--space", "tiny.yaml",
                    "--n-trials", "4", "--quiet"], cwd=tmp_path, check=True, timeout=300,
                   capture_output=True)
    port = free_port()
    server = subprocess.Popen([*selector, "dashboard", "--port", str(port)], cwd=tmp_path,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline() for _ in range(2)]  # printed once the UI answers
        assert lines[0].startswith(f"MLflow dashboard for sqlite:///mlflow.db: http://127.0.0.1:{port}")
        match = re.search(r"selector-digits: (\S+)", lines[1])
        assert match, lines
        yield match.group(1)
    finally:
        server.terminate()  # SIGTERM: the dashboard stops its server and exits
        assert server.wait(timeout=30) == 0


@pytest.mark.server
@pytest.mark.browser
@pytest.mark.slow
def test_the_dashboard_shows_the_study_its_trials_and_their_curves(dashboard_url: str) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (see .ci/run)")
        pytest.skip("needs Debian's chromium: apt-get install chromium chromium-driver")
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1500, "height": 950})
        try:
            page.goto(dashboard_url)
            study = page.get_by_role("link", name="selector-digits", exact=True)
            expect(study.first).to_be_visible(timeout=60_000)
            # The study's run holds its trials as nested runs: expand it, open one.
            page.get_by_role("row").filter(has=study).locator(
                "button[data-component-id*='runnamecellrenderer']").first.click()
            trial = page.get_by_role("link", name=re.compile(r"^(gru|lstm)-trial-\d+$"))
            expect(trial.first).to_be_visible(timeout=30_000)
            expect(trial).to_have_count(4)
            page.screenshot(path=str(ARTIFACTS / "dashboard-runs.png"))
            trial.first.click()
            expect(page.get_by_text("val_accuracy").first).to_be_visible(timeout=30_000)
            expect(page.get_by_text("selector.cell").first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "dashboard-trial.png"), full_page=True)
        finally:
            page.screenshot(path=str(ARTIFACTS / "dashboard-last.png"))
            browser.close()
