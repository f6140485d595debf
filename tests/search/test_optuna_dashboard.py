"""A selector study is a plain Optuna study: the real optuna-dashboard serves it, trials and
their cell included."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from selector.api import SearchRequest, search
from tests.conftest import free_port


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
@pytest.mark.server
def test_optuna_dashboard_lists_a_selector_studys_trials_with_their_cell(
        tmp_path: Path, tiny_space: str) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    search(SearchRequest(data="example:digits", space=tiny_space, n_trials=2, storage=storage,
                         study_name="shown", tracking_uri=None, accelerator="cpu"))
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).with_name("optuna-dashboard")), storage,
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                studies = get(f"http://127.0.0.1:{port}/api/studies")["study_summaries"]
                break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "optuna-dashboard did not answer"
                time.sleep(0.5)
        (study,) = [s for s in studies if s["study_name"] == "shown"]
        trials = get(f"http://127.0.0.1:{port}/api/studies/{study['study_id']}?after=0")["trials"]
        assert len(trials) >= 2
        for trial in trials:
            cells = {p["param_external_value"] for p in trial["params"] if p["name"] == "cell"}
            assert cells <= {"gru", "lstm"} and len(cells) == 1, trial["params"]
            attrs = {a["key"]: a["value"] for a in trial["user_attrs"]}
            assert attrs["cell"] in cells  # selector's own record of the trial, shown too
    finally:
        server.terminate()
        server.wait(timeout=30)
