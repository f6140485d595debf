"""The command answers --help, --version, examples and completion without loading the heavy
libraries (seconds each); how fast it then is lives in bench/startup.py, not here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("torch", "lightning", "mlflow", "optuna", "sklearn")
PROBE = """
import json, runpy, sys
sys.argv = ["selector", *json.loads(sys.argv[1])]
try:
    runpy.run_module("selector", run_name="__main__")
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy} if m in sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize(("argv", "env"), [
    (["--help"], {}), (["--version"], {}), (["examples"], {}), (["recommend", "--help"], {}),
    ([], {"_SELECTOR_COMPLETE": "complete_bash", "COMP_WORDS": "selector recommend --pre",
          "COMP_CWORD": "2"}),
])
def test_answers_without_importing_torch_lightning_or_mlflow(argv: list[str],
                                                              env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), json.dumps(argv)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})
    loaded = json.loads(done.stderr.strip().splitlines()[-1])
    assert loaded == [], f"selector {' '.join(argv)} imported {loaded}"
    assert done.stdout.strip(), "it printed nothing"
