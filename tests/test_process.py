"""The process-wide settings the command makes for itself (`selector.process`)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Denormal floats through every thread of torch's pool: with the mode flushed everywhere
# each product is zero, with it nowhere each is a denormal.
DENORMALS_LEFT = """
import sys, torch
torch.set_num_threads(2)
{setup}
tiny = torch.full((1 << 20,), 1e-39)
print(int((tiny * 1.0).count_nonzero()))
"""

CLI_TRAINING = """
from selector.api import SearchRequest
from selector.cli.common import interruptible
with interruptible(SearchRequest(data="example:digits"), ""):
    pass
"""
COMMAND_DEFAULT = """
import os, sys
from selector.cli import main
sys.argv = ["selector", "--version"]
try:
    main()
except SystemExit:
    pass
print(os.environ.get("SELECTOR_FLUSH_DENORMALS"))
"""


def run(code: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "SELECTOR_FLUSH_DENORMALS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True, env={**environ, **env})
    return done.stdout.strip().splitlines()[-1]


def denormals_left(setup: str, **env: str) -> int:
    return int(run(DENORMALS_LEFT.format(setup=setup), **env))


@pytest.mark.skipif(not __import__("torch").set_flush_denormal(False),  # leaves the mode off
                    reason="the CPU cannot flush denormals")
def test_commands_that_train_flush_denormals_in_every_torch_thread() -> None:
    assert denormals_left("") == 1 << 20  # a plain process keeps them
    assert denormals_left("from selector.process import flush_denormals; flush_denormals()") == 0
    # `selector recommend`, `search` and `worker`: the command's process sets the switch
    assert run(COMMAND_DEFAULT) == "1"
    assert denormals_left(CLI_TRAINING, SELECTOR_FLUSH_DENORMALS="1") == 0
    assert denormals_left(CLI_TRAINING, SELECTOR_FLUSH_DENORMALS="0") == 1 << 20  # opted out
    # The CLI run inside another program's process (a test's CliRunner) leaves its mode alone.
    assert denormals_left(CLI_TRAINING) == 1 << 20


WORKER_START = """
from selector.process import flush_denormals_unless_opted_out
flush_denormals_unless_opted_out(unset=True)
"""


@pytest.mark.skipif(not __import__("torch").set_flush_denormal(False),
                    reason="the CPU cannot flush denormals")
def test_worker_processes_flush_unless_the_user_opted_out() -> None:
    # A --jobs worker is a process of selector's own, started by the library too: it flushes
    # unless SELECTOR_FLUSH_DENORMALS=0, read by the same switch as the command's.
    assert denormals_left(WORKER_START) == 0
    assert denormals_left(WORKER_START, SELECTOR_FLUSH_DENORMALS="1") == 0
    assert denormals_left(WORKER_START, SELECTOR_FLUSH_DENORMALS="0") == 1 << 20
